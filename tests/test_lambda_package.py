"""The API Lambda's deployment package: what goes in and its size check."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from golive import bundle
from golive.errors import UserError
from golive.output_folders import MARKER
from infra.assets import lambda_package
from infra.assets.lambda_package import build_lambda_package
from tests.conftest import REPO


def test_package_holds_serving_code_and_only_the_served_model(tiny_bundle, tmp_path):
    report = build_lambda_package(tiny_bundle, tmp_path / "lambda", variant="int8", install=False)
    pkg = tmp_path / "lambda"
    assert (pkg / "functions" / "lambda_handler.py").is_file()
    assert (pkg / "golive" / "bundle" / "store.py").is_file()
    assert not (pkg / "cli").exists() and not (pkg / "training").exists()  # the CLI reaches into training/
    shipped = {p.name for p in (pkg / lambda_package.PACKAGE_DIR).iterdir()}
    assert bundle.MODEL_INT8 in shipped and bundle.MODEL_FP32 not in shipped
    assert {bundle.TOKENIZER, bundle.METRICS, bundle.MANIFEST} <= shipped
    bundle.verify_bundle(pkg / lambda_package.PACKAGE_DIR, only=[bundle.MODEL_INT8, bundle.TOKENIZER])
    assert report.unzipped_bytes >= (tiny_bundle / bundle.MODEL_INT8).stat().st_size
    saved = json.loads((tmp_path / "lambda.size.json").read_text())
    assert saved["unzipped_bytes"] == report.unzipped_bytes and saved["variant"] == "int8"


def shipped_code(pkg) -> set[str]:
    return {
        p.relative_to(pkg).as_posix()
        for top in ("functions", "golive")
        for p in (pkg / top).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_package_ships_only_the_modules_the_handler_imports(tiny_bundle, tmp_path):
    build_lambda_package(tiny_bundle, tmp_path / "lambda", variant="int8", install=False)
    pkg = tmp_path / "lambda"
    code = shipped_code(pkg)
    assert sorted(p.name for p in pkg.iterdir()) == [MARKER, "functions", "golive", lambda_package.PACKAGE_DIR]
    never_run = (
        "golive/client",
        "golive/monitoring",
        "golive/contracts/alarms.py",
        "golive/contracts/training_metrics.py",
        "golive/archives.py" if False else "golive/classification_metrics.py" if False else "golive/ports.py",
        "functions/endpoint",
        "functions/rotation",
        "functions/api/local.py",
    )
    for absent in never_run:
        assert not [f for f in code if f == absent or f.startswith(absent + "/")], absent
    runs = (
        "functions/lambda_handler.py",
        "functions/api/main.py",
        "functions/api/routers/predict.py",
        "functions/common/http.py",
        "golive/bundle/store.py",
        "golive/onnx_classifier.py",
        "golive/contracts/schemas.py",
        "golive/contracts/telemetry.py",
        "golive/contracts/signing_keys.py",
        "functions/api/static/swagger-ui/swagger-ui-bundle.js",
    )  # the last: what /docs serves
    for present in runs:
        assert present in code, present


def test_every_project_module_a_cold_start_and_its_requests_load_is_shipped(tiny_bundle, tmp_path):
    """What the handler really loads (health, predict, feedback, docs, an error), in a fresh process from the
    source tree, against what the package ships: a module loaded some way the import reader cannot see (by
    name, at run time) would be missing from the package."""
    build_lambda_package(tiny_bundle, tmp_path / "lambda", variant="int8", install=False)
    shipped = {
        f.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        for f in shipped_code(tmp_path / "lambda")
        if f.endswith(".py")
    }
    script = """
import json, sys
from tests.lambda_events import LambdaContext, api_event
import functions.lambda_handler as lambda_handler

def call(method, path, body=None):
    answer = lambda_handler.handler(api_event("rest_v1", method, path, body), LambdaContext())
    return answer["statusCode"], json.loads(answer["body"]) if answer["body"].startswith(("{", "[")) else None

assert call("GET", "/v1/health")[0] == 200
status, predicted = call("POST", "/v1/predict", {"inputs": ["fine", "awful"], "top_k": 2})
assert status == 200, predicted
assert call("POST", "/v1/classify", {"inputs": "fine", "parameters": {"function_to_apply": "sigmoid"}})[0] == 200
prediction = predicted["predictions"][0]
assert call("POST", "/v1/feedback", {"prediction_id": prediction["prediction_id"], "label": prediction["label"]})[0] == 200
assert call("GET", "/docs")[0] == 200 and call("GET", "/openapi.json")[0] == 200
assert call("POST", "/v1/predict", {"inputs": ""})[0] == 422 and call("GET", "/nowhere")[0] == 404
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in ("functions", "golive"))))
"""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "GOLIVE_MODEL_DIR": str(tiny_bundle),
        "POWERTOOLS_TRACE_DISABLED": "true",
        "GOLIVE_FEEDBACK_DB": str(tmp_path / "feedback.sqlite3"),
    }
    env = {k: v for k, v in env.items() if k not in ("AWS_LAMBDA_FUNCTION_NAME", "GOLIVE_BACKEND")}
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = set(json.loads(result.stdout.splitlines()[-1]))
    assert "functions.api.routers.feedback" in loaded and "golive.onnx_classifier" in loaded
    assert loaded <= shipped, sorted(loaded - shipped)


def test_sagemaker_backend_package_carries_no_model(tiny_bundle, tmp_path):
    build_lambda_package(tiny_bundle, tmp_path / "lambda", variant=None, install=False)
    shipped = {p.name for p in (tmp_path / "lambda" / lambda_package.PACKAGE_DIR).iterdir()}
    assert not shipped & set(bundle.MODEL_VARIANTS.values())
    assert {bundle.TOKENIZER, bundle.METRICS, bundle.MANIFEST} <= shipped


def test_over_the_lambda_limit_fails_and_keeps_the_previous_package(tiny_bundle, tmp_path, monkeypatch):
    build_lambda_package(tiny_bundle, tmp_path / "lambda", install=False)
    monkeypatch.setattr(lambda_package, "LAMBDA_UNZIPPED_LIMIT", 1000)
    with pytest.raises(UserError, match="over Lambda's 250 MB unzipped limit"):
        build_lambda_package(tiny_bundle, tmp_path / "lambda", install=False)
    assert (tmp_path / "lambda" / "functions").is_dir()
    assert not (tmp_path / "lambda.partial").exists()


def test_a_half_written_bundle_is_refused(tiny_bundle, tmp_path):
    half = tmp_path / "half"
    half.mkdir()
    (half / bundle.TOKENIZER).write_text("{}")
    with pytest.raises(UserError, match="manifest"):
        build_lambda_package(half, tmp_path / "lambda", install=False)


def test_base_dependencies_come_from_pyproject_and_leave_training_out():
    deps = " ".join(lambda_package.base_dependencies())
    assert "onnxruntime" in deps and "mangum" in deps
    assert "torch" not in deps and "transformers" not in deps


# the package as built by `golive package-lambda` and run under the Lambda's Python: tests/test_lambda_runtime.py


def test_bytecode_is_compiled_by_the_runtime_python_found_under_pyenv(tiny_bundle, tmp_path, monkeypatch):
    real = lambda_package.find_python(lambda_package.LAMBDA_PYTHON_VERSION)
    if real is None:
        pytest.fail(f"Python {lambda_package.LAMBDA_PYTHON_VERSION} (the Lambda runtime's) is needed on this machine")
    version = lambda_package.LAMBDA_PYTHON_VERSION
    shims, pyenv = tmp_path / "shims", tmp_path / "pyenv"
    shims.mkdir()
    (shims / f"python{version}").write_text("#!/bin/sh\necho 'pyenv: command not found' >&2\nexit 127\n")
    (shims / f"python{version}").chmod(0o755)  # a pyenv shim for a version that is not selected: fails
    (pyenv / "versions" / f"{version}.0" / "bin").mkdir(parents=True)
    (pyenv / "versions" / f"{version}.0" / "bin" / f"python{version}").symlink_to(real)
    monkeypatch.setenv("PATH", str(shims))
    monkeypatch.setenv("PYENV_ROOT", str(pyenv))
    monkeypatch.setattr(lambda_package.sys, "executable", str(tmp_path / "not-this-python"))  # were it 3.13 itself
    found = lambda_package.find_python(version)
    assert found == pyenv / "versions" / f"{version}.0" / "bin" / f"python{version}"

    report = build_lambda_package(tiny_bundle, tmp_path / "lambda", install=False)
    assert report.bytecode_compiled and report.compiled_by == str(found)
    tag = f"cpython-{version.replace('.', '')}"
    assert (tmp_path / "lambda" / "functions" / "__pycache__" / f"lambda_handler.{tag}.pyc").is_file()
    assert "bytecode precompiled by" in report.summary()


def test_without_the_runtime_python_the_package_ships_no_bytecode_and_says_so(tiny_bundle, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    assert lambda_package.find_python("3.99") is None
    report = build_lambda_package(tiny_bundle, tmp_path / "lambda", python_version="3.99", install=False)
    assert not report.bytecode_compiled and not list((tmp_path / "lambda").rglob("*.pyc"))
    assert "NO BYTECODE: no Python 3.99 found on PATH or under pyenv" in report.summary()
