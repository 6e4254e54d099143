"""SnapStart's runtime hooks, run as Lambda's runtime runs them: registered at init with AWS's own
`snapshot_restore_py` (the library the Python runtime ships; PyPI snapshot-restore-py), then read back from
its registry and called before the snapshot and after a restore. AWS behind them: moto."""

from __future__ import annotations

import random
import sys

import boto3
import numpy as np
import pytest
import snapshot_restore_py
from moto import mock_aws

from functions.api.prediction_ids import key_id
from tests.conftest import fresh_lambda_module

KEY_AT_SNAPSHOT, KEY_AFTER_ROTATION = "k" * 48, "r" * 48


def run(registry) -> None:
    for func, args, kwargs in registry:
        func(*args, **kwargs)


@pytest.fixture()
def runtime_hooks():
    for registry in (snapshot_restore_py.get_before_snapshot(), snapshot_restore_py.get_after_restore()):
        registry.clear()
    yield snapshot_restore_py
    for registry in (snapshot_restore_py.get_before_snapshot(), snapshot_restore_py.get_after_restore()):
        registry.clear()


@pytest.fixture()
def lambda_env(handmade_bundle, tmp_path, monkeypatch):
    for name, value in {
        "GOLIVE_MODEL_DIR": str(handmade_bundle),
        "GOLIVE_FEEDBACK_DB": str(tmp_path / "f.sqlite3"),
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        arn = boto3.client("secretsmanager").create_secret(Name="golive-signing", SecretString=KEY_AT_SNAPSHOT)["ARN"]
        monkeypatch.setenv("GOLIVE_SIGNING_SECRET_ARN", arn)
        yield arn
    sys.modules.pop("functions.lambda_handler", None)


def test_restore_reseeds_reconnects_and_rereads_the_signing_key(lambda_env, runtime_hooks, monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    monkeypatch.setenv("GOLIVE_BACKEND", "sagemaker")
    monkeypatch.setenv("GOLIVE_ENDPOINT_NAME", "golive-staging")
    module = fresh_lambda_module()  # the init phase that SnapStart snapshots
    services = module.app.state.services
    assert len(runtime_hooks.get_before_snapshot()) == 1 and len(runtime_hooks.get_after_restore()) == 1

    run(runtime_hooks.get_before_snapshot())
    keys = services.prediction_ids.keys
    assert keys.current_id == key_id(KEY_AT_SNAPSHOT.encode())
    runtime_client, secrets_client = services.backend.client, keys.source.client
    python_state, numpy_state = random.getstate(), np.random.get_state()

    # time passes between the snapshot and a restore: the signing key rotates
    boto3.client("secretsmanager").put_secret_value(SecretId=lambda_env, SecretString=KEY_AFTER_ROTATION)
    run(runtime_hooks.get_after_restore())

    after_python, after_numpy = random.random(), np.random.random()
    random.setstate(python_state), np.random.set_state(numpy_state)
    assert after_python != random.random()  # not what every environment restored from the snapshot would draw
    assert after_numpy != np.random.random()
    assert services.backend.client is not runtime_client and keys.source.client is not secrets_client
    assert services.backend.client.meta.config.read_timeout == runtime_client.meta.config.read_timeout
    assert keys.current_id == key_id(KEY_AFTER_ROTATION.encode())
    assert services.prediction_ids.issue(1).startswith(key_id(KEY_AFTER_ROTATION.encode()) + ".")
    # an id signed before the restore still verifies: its key is now AWSPREVIOUS, found by the ring's reload
    assert services.prediction_ids.verify(_id_signed_with(services, KEY_AT_SNAPSHOT)) is not None


def _id_signed_with(services, key: str) -> str:
    from functions.api.prediction_ids import KeyRing, PredictionIds

    return PredictionIds(KeyRing([key.encode()]), services.prediction_ids.model_version).issue(0)


def test_the_onnx_model_answers_once_before_the_snapshot(lambda_env, runtime_hooks, monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    backend = fresh_lambda_module().app.state.services.backend
    seen = []
    real = backend.predict_logits
    monkeypatch.setattr(backend, "predict_logits", lambda texts: seen.append(texts) or real(texts))
    run(runtime_hooks.get_before_snapshot())
    assert len(seen) == 1
    run(runtime_hooks.get_after_restore())  # the in-process backend has no client to replace


@pytest.mark.parametrize("initialization", ["on-demand", "provisioned-concurrency", None])
def test_without_snapstart_nothing_is_registered_or_imported(lambda_env, runtime_hooks, monkeypatch, initialization):
    if initialization:
        monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", initialization)
    else:
        monkeypatch.delenv("AWS_LAMBDA_INITIALIZATION_TYPE", raising=False)
    sys.modules.pop("functions.api.snapstart", None)
    fresh_lambda_module()
    assert runtime_hooks.get_before_snapshot() == [] and runtime_hooks.get_after_restore() == []
    assert "functions.api.snapstart" not in sys.modules
