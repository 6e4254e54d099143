"""The API Lambda's deployment package: what goes in, its size check, and that it runs on its own."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from golive import bundle, lambda_package
from golive.errors import UserError
from golive.lambda_package import build_lambda_package

EVENTS = Path(__file__).parent / "events"


def test_package_holds_serving_code_and_only_the_served_model(tiny_bundle, tmp_path):
    report = build_lambda_package(tiny_bundle, tmp_path / "lambda", variant="int8", install=False)
    pkg = tmp_path / "lambda"
    assert (pkg / "functions" / "lambda_handler.py").is_file()
    assert (pkg / "golive" / "bundle.py").is_file()
    assert not (pkg / "golive" / "cli.py").exists()  # the CLI reaches into training/; serving never runs it
    assert not (pkg / "golive" / "client.py").exists()  # the API's client: callers use it, the Lambda never does
    assert (pkg / "functions" / "api" / "static" / "swagger-ui" / "swagger-ui-bundle.js").is_file()  # /docs offline
    assert not (pkg / "training").exists()
    shipped = {p.name for p in (pkg / lambda_package.PACKAGE_DIR).iterdir()}
    assert bundle.MODEL_INT8 in shipped and bundle.MODEL_FP32 not in shipped
    assert {bundle.TOKENIZER, bundle.LABELS, bundle.METRICS, bundle.MANIFEST} <= shipped
    bundle.verify_bundle(pkg / lambda_package.PACKAGE_DIR, only=[bundle.MODEL_INT8, bundle.TOKENIZER])
    assert report.unzipped_bytes >= (tiny_bundle / bundle.MODEL_INT8).stat().st_size
    saved = json.loads((tmp_path / "lambda.size.json").read_text())
    assert saved["unzipped_bytes"] == report.unzipped_bytes and saved["variant"] == "int8"


def test_sagemaker_backend_package_carries_no_model(tiny_bundle, tmp_path):
    build_lambda_package(tiny_bundle, tmp_path / "lambda", variant=None, install=False)
    shipped = {p.name for p in (tmp_path / "lambda" / lambda_package.PACKAGE_DIR).iterdir()}
    assert not shipped & set(bundle.MODEL_VARIANTS.values())
    assert bundle.LABELS in shipped


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


@pytest.mark.slow
def test_built_package_answers_an_api_gateway_event_with_nothing_else_on_the_path(tiny_bundle, tmp_path):
    """Real pip install of Linux wheels for this Python, pruned as for Lambda, then the handler run with
    site-packages switched off: proves the package is self-contained and the pruning broke nothing."""
    if platform.system() != "Linux":
        pytest.skip("Lambda wheels are Linux wheels")
    arch = {"x86_64": "x86_64", "aarch64": "arm64"}.get(platform.machine())
    if arch is None:
        pytest.skip(f"no Lambda architecture for {platform.machine()}")
    pkg = tmp_path / "lambda"
    report = build_lambda_package(tiny_bundle, pkg, python_version=f"{sys.version_info[0]}.{sys.version_info[1]}",
                                  architecture=arch)
    assert not (pkg / "huggingface_hub").exists() and not (pkg / "onnxruntime" / "quantization").exists()
    assert report.unzipped_bytes < lambda_package.LAMBDA_UNZIPPED_LIMIT
    event = json.loads((EVENTS / "apigw_http_v2.json").read_text())
    event.update(rawPath="/v1/predict", body=json.dumps({"inputs": ["good", "bad"]}))
    event["requestContext"]["http"].update(method="POST", path="/v1/predict")
    docs_event = json.loads((EVENTS / "apigw_http_v2.json").read_text())  # /docs' script, from the package
    docs_event.update(rawPath="/docs/assets/swagger-ui-bundle.js", body=None)
    docs_event["requestContext"]["http"].update(method="GET", path="/docs/assets/swagger-ui-bundle.js")
    code = f"""
import json, sys
sys.path.insert(0, {str(pkg)!r})
class Ctx:
    function_name, memory_limit_in_mb, aws_request_id = "golive-api", 2048, "pkg-test"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:golive-api"
import functions.lambda_handler as h
r = h.handler(json.loads({json.dumps(event)!r}), Ctx())
bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'huggingface_hub', 'httpx'))
print("RESULT", r["statusCode"], len(json.loads(r["body"])["predictions"]), bad)
docs = json.loads({json.dumps(docs_event)!r})
print("DOCS", h.handler(docs, Ctx())["statusCode"], len(h.handler(docs, Ctx())["body"]))
"""
    env = {"GOLIVE_FEEDBACK_TABLE": "feedback", "AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin",
           "POWERTOOLS_TRACE_DISABLED": "true"}
    # -S: no site-packages (nothing from the venv); -E: no PYTHONPATH; cwd = the package, as in /var/task
    result = subprocess.run([sys.executable, "-S", "-E", "-c", code], cwd=pkg, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "RESULT 200 2 []" in result.stdout
    script = pkg / "functions" / "api" / "static" / "swagger-ui" / "swagger-ui-bundle.js"
    assert f"DOCS 200 {len(script.read_text())}" in result.stdout
