"""A stand-in for the Lambda Python runtime's bootstrap, for tests/test_lambda_runtime.py.

Run as `python3.13 -I -S lambda_runtime_bootstrap.py` (no site-packages, no user site, no PYTHON* variables)
with the runtime's variables set, it does what the runtime does with a .zip function: puts LAMBDA_TASK_ROOT
first on sys.path, imports the module named by _HANDLER (the init phase), then calls the handler once per
event. Events arrive on stdin, one JSON document per line; each answer goes to stdout as one line that
starts with MARK (everything else on stdout is the function's own logs, as CloudWatch would get them).
At the end of stdin it reports what the interpreter did: version, flags, sys.path, the bytecode magic
number, and every module it loaded from the package with the .pyc it had for it.
"""

import importlib
import importlib.util
import json
import os
import sys
import time

MARK = "GOLIVE-RUNTIME "


def emit(kind: str, **payload) -> None:
    sys.__stdout__.write(MARK + json.dumps({"kind": kind, **payload}) + "\n")
    sys.__stdout__.flush()


class Context:
    """The context object the runtime passes, with the fields Powertools and Mangum read."""

    def __init__(self, request_id: str, timeout_s: float = 28.0):
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.invoked_function_arn = (
            f"arn:aws:lambda:{os.environ['AWS_REGION']}:123456789012:function:{self.function_name}"
        )
        self.aws_request_id = request_id
        self.identity = self.client_context = None
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main() -> None:
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    sys.path.insert(0, task_root)
    module_name, function_name = os.environ["_HANDLER"].rsplit(".", 1)
    started = time.perf_counter()
    handler = getattr(importlib.import_module(module_name), function_name)
    emit("init", seconds=time.perf_counter() - started)

    count = 0
    while line := sys.stdin.readline():
        count += 1
        request_id = f"00000000-0000-4000-8000-{count:012d}"
        os.environ["_X_AMZN_TRACE_ID"] = f"Root=1-673f8a1b-{count:024x};Parent=53995c3f42cd8ad8;Sampled=1"
        try:
            emit("response", response=handler(json.loads(line), Context(request_id)))
        except Exception as exc:  # the runtime turns this into an error response; the test fails on it
            emit("error", error=f"{type(exc).__name__}: {exc}")

    loaded = {
        name: {"origin": module.__spec__.origin, "cached": module.__spec__.cached}
        for name, module in list(sys.modules.items())
        if getattr(module, "__spec__", None) and (module.__spec__.origin or "").startswith(task_root + os.sep)
    }
    emit(
        "done",
        version=list(sys.version_info[:2]),
        implementation=sys.implementation.name,
        flags={
            name: getattr(sys.flags, name)
            for name in ("isolated", "no_site", "no_user_site", "ignore_environment", "dont_write_bytecode")
        },
        path=sys.path,
        base_prefix=sys.base_prefix,
        magic=importlib.util.MAGIC_NUMBER.hex(),
        cache_tag=sys.implementation.cache_tag,
        loaded=loaded,
        all_modules=sorted(sys.modules),
    )


if __name__ == "__main__":
    main()
