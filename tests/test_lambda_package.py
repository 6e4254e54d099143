"""The API Lambda's deployment package: what goes in and its size check."""

from __future__ import annotations

import json

import pytest

from golive import bundle, lambda_package
from golive.errors import UserError
from golive.lambda_package import build_lambda_package



def test_package_holds_serving_code_and_only_the_served_model(tiny_bundle, tmp_path):
    report = build_lambda_package(tiny_bundle, tmp_path / "lambda", variant="int8", install=False)
    pkg = tmp_path / "lambda"
    assert (pkg / "functions" / "lambda_handler.py").is_file()
    assert (pkg / "golive" / "bundle.py").is_file()
    assert not (pkg / "golive" / "cli.py").exists()  # the CLI reaches into training/; serving never runs it
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


# the package as built by `golive package-lambda` and run under the Lambda's Python: tests/test_lambda_runtime.py
