"""The container's entry point: SageMaker runs `docker run IMAGE serve`.

python -m functions.endpoint.serve [serve]
"""

from __future__ import annotations

import logging
import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] != "serve":
        print(f"this image only serves; SageMaker runs it as `serve` (got {argv[0]!r})", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from functions.common.settings import SettingsError
    from functions.endpoint.settings import EndpointSettings

    try:
        settings = EndpointSettings.load()
    except SettingsError as exc:
        print(f"bad endpoint configuration: {exc}", file=sys.stderr)
        return 2
    for old in EndpointSettings.old_names_set():
        logging.getLogger("golive.endpoint").warning(
            "%s is not read: the endpoint's settings are %s",
            old,
            old.replace("GOLIVE_", EndpointSettings.env_prefix, 1),
        )
    from golive.errors import UserError
    from golive.ports import require_free_port

    try:
        require_free_port(settings.host, settings.port, "SAGEMAKER_BIND_TO_PORT (or GOLIVE_ENDPOINT_PORT)")
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    import uvicorn

    uvicorn.run(
        "functions.endpoint.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        timeout_keep_alive=75,
        log_level="warning",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
