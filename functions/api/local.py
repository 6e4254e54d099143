"""`golive serve`: the same FastAPI app under uvicorn, with the onnx backend and Prometheus `/metrics`."""

from __future__ import annotations

from fastapi import FastAPI, Response

from functions.api.main import build_services, create_app
from functions.api.settings import Settings
from functions.api.telemetry import PrometheusTelemetry


def create_local_app(settings: Settings) -> FastAPI:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    telemetry = PrometheusTelemetry()
    app = create_app(build_services(settings, telemetry))
    telemetry.set_baseline(app.state.services.backend.metrics.baseline)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(telemetry.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def serving_threads(cores: int | None = None) -> dict[str, int]:
    """A server takes requests concurrently: single-threaded model calls side by side beat calls that each
    spread over every core, and one call more than the cores keeps them busy while a finished call waits
    for the GIL to hand back its answer (both measured in benchmarks/serving.py). GOLIVE_* variables win."""
    import os

    defaults = {"intra_op_threads": 1, "inference_workers": (cores or os.cpu_count() or 1) + 1}
    configured = Settings.environment_values()
    return {k: v for k, v in defaults.items() if k not in configured}


def serve(
    model_dir: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    variant: str | None = None,
    feedback_db: str | None = None,
) -> None:
    import uvicorn

    settings = Settings.load(
        backend="onnx",
        model_dir=model_dir,
        model_variant=variant,
        **serving_threads(),
        **({"feedback_db": feedback_db} if feedback_db else {}),
    )
    app = create_local_app(settings)
    print(
        f"serving model {app.state.services.backend.manifest.version_id} from {model_dir}: "
        f"docs at http://{host}:{port}/docs, metrics at http://{host}:{port}/metrics",
        flush=True,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
