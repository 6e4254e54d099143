"""LocalStack (free edition) in host mode, without Docker, for the deploy check.

It runs from its own virtualenv (.golive/localstack-venv: it needs Python >= 3.12, the project runs on 3.11),
installed from the pinned localstack-requirements.txt on first use and again whenever that file changes.
The server listens on a free port of 127.0.0.1 only, with every call home switched off (no DNS server, no
certificate download, no analytics, no instance metadata), and with the emulator-only shims of
localstack_main.py applied.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from infra.assets import lambda_package
from infra.venvs import VenvError, cached_venv
from tests.conftest import free_port

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
REQUIREMENTS = HERE / "localstack-requirements.txt"
ENTRY_POINT = HERE / "localstack_main.py"
VENV = REPO / ".golive" / "localstack-venv"
PYTHON_VERSIONS = ("3.13", "3.12")  # localstack-core 2026.x needs >= 3.12
INSTALL_TIMEOUT_S = 1800
START_TIMEOUT_S = 180
STOP_TIMEOUT_S = 15  # it sometimes hangs in its shutdown; then its process group is killed
# dummy credentials: LocalStack accepts any, and a key that is not 12 digits means its account 000000000000
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


class LocalStackError(RuntimeError):
    pass


def find_python() -> Path:
    """A Python >= 3.12 for LocalStack's virtualenv: $GOLIVE_LOCALSTACK_PYTHON, else 3.13 or 3.12 found as the
    Lambda package build finds its runtime's (this interpreter, PATH, pyenv)."""
    if os.environ.get("GOLIVE_LOCALSTACK_PYTHON"):
        return Path(os.environ["GOLIVE_LOCALSTACK_PYTHON"])
    for version in PYTHON_VERSIONS:
        python = lambda_package.find_python(version)
        if python:
            return python
    raise LocalStackError(
        "the deploy check runs LocalStack, which needs Python 3.12 or newer: install python3.13 "
        "(e.g. `pyenv install 3.13.0`) or point GOLIVE_LOCALSTACK_PYTHON at one"
    )


def ensure_venv() -> Path:
    """LocalStack's virtualenv, (re)built when the pinned requirements change (infra/venvs.py); returns its python."""
    try:
        return cached_venv(VENV, REQUIREMENTS, find_python(), timeout_s=INSTALL_TIMEOUT_S, what="LocalStack")
    except VenvError as error:
        raise LocalStackError(str(error)) from None


def server_environment(port: int, workdir: Path) -> dict[str, str]:
    """The settings LocalStack starts with. Nothing AWS_* is inherited: no real profile or key can leak in."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOCALSTACK_", "PROVIDER_OVERRIDE_"))}
    return {
        **inherited,
        **CREDENTIALS,
        "GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "GATEWAY_SERVER": "hypercorn",  # the default (twisted) binds 0.0.0.0 whatever GATEWAY_LISTEN says
        "LOCALSTACK_HOST": f"127.0.0.1:{port}",  # URLs it hands out (S3, API Gateway) point at loopback
        "DNS_ADDRESS": "0",  # no DNS server (it would bind port 53 and look for upstream servers)
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "DISABLE_EVENTS": "1",  # no analytics
        "PERSISTENCE": "0",
        "FILESYSTEM_ROOT": str(workdir / "filesystem"),
        "LOCALSTACK_VOLUME_DIR": str(workdir / "volume"),
        # services the free edition lacks (SageMaker, Budgets, Cost Explorer, ...) deploy as placeholders;
        # the check reports every such resource as not exercised
        "CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES": "1",
    }


@dataclass
class LocalStack:
    endpoint: str
    process: subprocess.Popen
    log: Path

    def log_tail(self, lines: int = 60) -> str:
        text = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return f"--- LocalStack log ({self.log}), last {lines} lines ---\n" + "\n".join(text[-lines:])

    def alive(self) -> bool:
        return self.process.poll() is None


def wait_until_healthy(server: LocalStack, timeout_s: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not server.alive():
            raise LocalStackError(
                f"LocalStack exited with code {server.process.returncode} while starting\n" + server.log_tail()
            )
        try:
            with urllib.request.urlopen(f"{server.endpoint}/_localstack/health", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1)
    raise LocalStackError(f"LocalStack did not answer its health check within {timeout_s:.0f} s\n" + server.log_tail())


def stop(server: LocalStack) -> None:
    """SIGTERM (LocalStack shuts its services down), then SIGKILL to its own process group if it hangs."""
    if not server.alive():
        return
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(10)


@contextmanager
def running_localstack(workdir: Path) -> Iterator[LocalStack]:
    python = ensure_venv()
    port = free_port()
    log = workdir / "localstack.log"
    with log.open("w") as out:
        # -I: LocalStack's venv only; nothing from the project's PYTHONPATH, user site or tests/deploy/ on sys.path
        process = subprocess.Popen(
            [str(python), "-I", str(ENTRY_POINT)],
            cwd=workdir,
            env=server_environment(port, workdir),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = LocalStack(endpoint=f"http://127.0.0.1:{port}", process=process, log=log)
    try:
        wait_until_healthy(server)
        yield server
    finally:
        stop(server)
