"""The GPU endpoint image without Docker: its requirements resolved for the image's own Python and platform,
and its server started from what `golive endpoint-image` stages, in a virtualenv of the image's Python with
those requirements, answering SageMaker's /ping and /invocations over real HTTP on CPU.

The image's Python and glibc follow from the Dockerfile's base (Ubuntu's python3 is what the Dockerfile installs).
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
import requests

from golive import bundle
from golive.output_folders import MARKER
from infra.assets.endpoint_image import ENDPOINT_DIR, stage_image_context
from infra.assets.lambda_package import find_python
from infra.venvs import cached_venv
from tests.artifact_cache import CACHE, pip, run
from tests.conftest import free_port

pytestmark = pytest.mark.slow

DOCKERFILE = ENDPOINT_DIR / "Dockerfile"
REQUIREMENTS = ENDPOINT_DIR / "requirements.txt"
# Ubuntu release -> (its python3, its glibc): what an image on that base runs and which wheels its pip takes
UBUNTU = {"ubuntu22.04": ("3.10", 35), "ubuntu24.04": ("3.12", 39)}
GPU_RUNTIME = "onnxruntime-gpu"


def dockerfile_instruction(name: str) -> list[str]:
    return re.findall(rf"^{name}\s+(.+)$", DOCKERFILE.read_text(), flags=re.MULTILINE)


def image_python_and_glibc() -> tuple[str, int]:
    (base,) = dockerfile_instruction("FROM")
    release = base.rsplit("-", 1)[-1]
    assert release in UBUNTU, f"the Dockerfile's base {base} is not a known Ubuntu release; add it to UBUNTU"
    return UBUNTU[release]


def image_platforms(glibc_minor: int) -> list[str]:
    """Every manylinux tag pip inside the image accepts (x86_64, glibc 2.<glibc_minor>); pip does not widen
    a single `--platform` to older glibc versions itself."""
    tags = [f"manylinux_2_{minor}_x86_64" for minor in range(glibc_minor, 4, -1)]
    return [
        option
        for tag in tags + ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]
        for option in ("--platform", tag)
    ]


def pins(text: str) -> dict[str, str]:
    return {m[0].lower(): m[1] for m in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)\s*$", text, flags=re.MULTILINE)}


def test_requirements_resolve_for_the_image_python_and_platform(tmp_path):
    python, glibc = image_python_and_glibc()
    report = tmp_path / "report.json"
    run(
        pip(
            "install",
            "--dry-run",
            "--ignore-installed",
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            python,
            *image_platforms(glibc),
            "--target",
            str(tmp_path / "target"),
            "--report",
            str(report),
            "--quiet",
            "-r",
            str(REQUIREMENTS),
        ),
        f"resolving {REQUIREMENTS.name} for the image's Python {python} (manylinux, glibc 2.{glibc}, x86_64)",
    )
    resolved = {item["metadata"]["name"].lower(): item for item in json.loads(report.read_text())["install"]}
    wanted = pins(REQUIREMENTS.read_text())
    assert GPU_RUNTIME in wanted
    for name, version in wanted.items():
        assert resolved[name]["metadata"]["version"] == version, name
    wheel = resolved[GPU_RUNTIME]["download_info"]["url"].rsplit("/", 1)[-1]
    assert f"cp{python.replace('.', '')}" in wheel and "manylinux" in wheel and "x86_64" in wheel, wheel


@pytest.fixture(scope="module")
def image_venv() -> Path:
    """A virtualenv of the image's Python with the image's requirements, ONNX Runtime's CPU build standing in
    for the GPU one: the same version of the same runtime without the CUDA provider, which this machine
    cannot use (and which would add hundreds of MB of CUDA libraries to the download)."""
    python_version, _ = image_python_and_glibc()
    python = find_python(python_version)
    if python is None:
        pytest.fail(
            f"Python {python_version}, the endpoint image's, is not on this machine (PATH or pyenv): "
            f"install it (`pyenv install {python_version}`)"
        )
    text = REQUIREMENTS.read_text()
    cpu = re.sub(rf"^{GPU_RUNTIME}==", "onnxruntime==", text, flags=re.MULTILINE)
    assert cpu != text, f"no {GPU_RUNTIME} pin in {REQUIREMENTS}"

    CACHE.mkdir(parents=True, exist_ok=True)
    requirements = CACHE / f"endpoint-requirements-cpu-py{python_version}.txt"
    requirements.write_text(cpu)
    python = cached_venv(
        CACHE / f"endpoint-venv-py{python_version}",
        requirements,
        python,
        pip_options=["--only-binary=:all:"],
        what="the image's requirements (CPU ONNX Runtime)",
    )
    return python.parent.parent


def test_image_server_answers_ping_and_invocations_under_the_image_python(image_venv, tiny_bundle, tmp_path):
    python_version, _ = image_python_and_glibc()
    context = stage_image_context(tmp_path / "image")  # what `golive endpoint-image` stages and Docker copies
    model_dir = tmp_path / "opt" / "ml" / "model"  # where SageMaker unpacks model.tar.gz
    with tarfile.open(bundle.pack_tarball(tiny_bundle, tmp_path / "model.tar.gz")) as tar:
        tar.extractall(model_dir, filter="data")

    # the Dockerfile's command and environment: ENTRYPOINT + CMD, its ENV, /opt/venv first on PATH
    (entrypoint,), (cmd,) = dockerfile_instruction("ENTRYPOINT"), dockerfile_instruction("CMD")
    argv = json.loads(entrypoint) + json.loads(cmd)
    port = free_port()
    env = {
        "PATH": f"{image_venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "VIRTUAL_ENV": str(image_venv),
        "HOME": str(tmp_path),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "GOLIVE_ENDPOINT_MODEL_DIR": str(model_dir),
        "GOLIVE_ENDPOINT_HOST": "127.0.0.1",
    }
    assert Path(shutil.which(argv[0], path=env["PATH"])).parent == image_venv / "bin"
    versions = run(
        [
            image_venv / "bin" / "python",
            "-I",
            "-c",
            "import sys, onnxruntime; print('%d.%d' % sys.version_info[:2], onnxruntime.__version__)",
        ],
        "the venv's versions",
    ).stdout.split()
    assert versions == [python_version, pins(REQUIREMENTS.read_text())[GPU_RUNTIME]]

    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(argv, cwd=context, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                ping = requests.get(f"{base}/ping", timeout=2)
                if ping.status_code == 200:
                    break
                assert ping.status_code == 503 and ping.json()["status"] == "loading", ping.text
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the endpoint did not become ready:\n" + log.read_text()
            time.sleep(0.2)
        health = ping.json()
        assert health["provider"] == "CPUExecutionProvider" and health["variant"] == "int8", health
        assert health["model_version"] == bundle.read_manifest(tiny_bundle).version_id

        answered = requests.post(
            f"{base}/invocations", json={"inputs": ["a lovely hotel", "rude staff"], "top_k": 2}, timeout=30
        )
        assert answered.status_code == 200, answered.text
        labels = bundle.read_manifest(tiny_bundle).labels
        predictions = answered.json()["predictions"]
        assert len(predictions) == 2 and all(p["label"] in labels and len(p["top_k"]) == 2 for p in predictions)
        refused = requests.post(
            f"{base}/invocations", data="{oops", headers={"content-type": "application/json"}, timeout=10
        )
        assert refused.status_code == 422 and "not valid JSON" in refused.json()["error"]["message"], refused.text
        assert "no GPU execution provider" in log.read_text()  # the CPU fallback is said, not silent
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    assert not list(context.rglob("__pycache__")), "the image sets PYTHONDONTWRITEBYTECODE"


def test_image_context_holds_only_what_the_endpoint_imports(tmp_path):
    """The server above runs from this context, so nothing it needs is missing; nothing else ships either."""
    from infra.assets.endpoint_image import ENTRY_MODULES
    from infra.assets.imports import closure

    context = stage_image_context(tmp_path / "image")
    shipped = {str(p.relative_to(context)) for p in context.rglob("*.py")}
    assert not {p for p in shipped if p.startswith(("cli/", "infra/", "training/", "functions/api/"))}
    assert "functions/endpoint/app.py" in shipped and "golive/onnx_classifier.py" in shipped
    modules = {p.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for p in shipped}
    assert modules == closure(ENTRY_MODULES)
    assert {p.name for p in context.iterdir() if p.is_file()} == {"Dockerfile", "requirements.txt", MARKER}
