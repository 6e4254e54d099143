"""Signed prediction ids: forged, tampered, wrong-model-version and rotated-key ids, the local key file,
and the Secrets Manager key source (moto), including a rotation seen by warm and cold instances."""

from __future__ import annotations

import json
import os
import secrets
import stat
import sys

import boto3
import pytest
from fastapi.testclient import TestClient
from moto import mock_aws

from functions.api.local import create_local_app
from functions.api.prediction_ids import KeyRing, PredictionIds, key_id
from functions.api.settings import Settings
from functions.api.signing_keys import KEY_FILE, SigningKeysUnavailable, read_key_file, secret_key_ring
from golive import bundle
from golive.errors import UserError
from tests.conftest import LambdaContext, api_event, fresh_lambda_module

KEY_A, KEY_B, KEY_C = (secrets.token_urlsafe(48).encode() for _ in range(3))


# --- the id on its own ------------------------------------------------------------------------------------


def test_an_issued_id_verifies_and_says_what_was_predicted():
    ids = PredictionIds(KeyRing([KEY_A]), "20261123-101010-abc123")
    issued = ids.issue(1)
    kid, label, nonce, tag, version = issued.split(".", 4)
    assert (kid, label, version) == (key_id(KEY_A), "1", "20261123-101010-abc123")
    assert len(nonce) == len(tag) == 22
    found = ids.verify(issued)
    assert (found.label_index, found.model_version) == (1, "20261123-101010-abc123")
    assert ids.issue(1) != issued  # every id is unique: the feedback store is keyed on it


def tamper(prediction_id: str, part: int, value: str) -> str:
    parts = prediction_id.split(".", 4)
    parts[part] = value
    return ".".join(parts)


@pytest.mark.parametrize(
    "change",
    [
        lambda pid: tamper(pid, 1, "0"),  # claim the other label: `correct` would flip
        lambda pid: tamper(pid, 4, "20991231-000000-ffffff"),  # claim another model version
        lambda pid: tamper(pid, 2, "A" * 22),  # another nonce: a "new" prediction to give feedback on
        lambda pid: tamper(pid, 3, ("B" if pid.split(".")[3][0] != "B" else "C") + pid.split(".")[3][1:]),  # the tag
        lambda pid: tamper(pid, 0, key_id(KEY_B)),  # another key's id
        lambda pid: pid + "\n",
        lambda pid: pid.upper(),
    ],
    ids=["label", "model-version", "nonce", "tag", "key-id", "trailing-newline", "case"],
)
def test_a_tampered_id_is_refused(change):
    ids = PredictionIds(KeyRing([KEY_A, KEY_B]), "20261123-101010-abc123")
    issued = ids.issue(1)
    assert ids.verify(change(issued)) is None


def test_a_forged_id_is_refused():
    """Made with another key (an attacker's), or in the old unsigned format, or not an id at all."""
    ours = PredictionIds(KeyRing([KEY_A]), "v1")
    forged = PredictionIds(KeyRing([KEY_B]), "v1").issue(1)
    assert ours.verify(forged) is None
    forged_kid = tamper(forged, 0, key_id(KEY_A))  # naming our key does not help without it
    assert ours.verify(forged_kid) is None
    for junk in ("0123456789abcdef0123456789abcdef.1", "", ".....", "made-up", "x\udbb1"):
        assert ours.verify(junk) is None


def test_rotation_keeps_the_previous_keys_ids_valid_until_it_is_dropped():
    before = PredictionIds(KeyRing([KEY_A]), "v1").issue(0)
    after_one_rotation = PredictionIds(KeyRing([KEY_B, KEY_A]), "v1")
    assert after_one_rotation.verify(before).label_index == 0
    assert after_one_rotation.issue(0).split(".")[0] == key_id(KEY_B)  # the new key signs
    after_two = PredictionIds(KeyRing([KEY_C, KEY_B]), "v1")
    assert after_two.verify(before) is None
    assert after_two.verify(after_one_rotation.issue(1)).label_index == 1


def test_short_keys_are_refused():
    with pytest.raises(ValueError, match="at least 32"):
        KeyRing([b"too short"])


# --- through the API --------------------------------------------------------------------------------------


@pytest.fixture()
def key_file(tmp_path):
    return tmp_path / "keys"


def app_with_keys(tiny_bundle, tmp_path, key_file, *keys: bytes) -> TestClient:
    if keys:
        key_file.write_bytes(b"\n".join(keys) + b"\n")
        key_file.chmod(0o600)
    return TestClient(
        create_local_app(
            Settings(
                model_dir=str(tiny_bundle), feedback_db=str(tmp_path / "f.sqlite3"), signing_key_file=str(key_file)
            )
        )
    )


def predict_id(client: TestClient) -> tuple[str, str]:
    prediction = client.post("/v1/predict", json={"inputs": "lovely"}).json()["predictions"][0]
    return prediction["prediction_id"], prediction["label"]


def feedback(client: TestClient, prediction_id: str, label: str):
    return client.post("/v1/feedback", json={"prediction_id": prediction_id, "label": label})


def test_feedback_refuses_forged_and_tampered_ids_and_records_nothing(tiny_bundle, tmp_path, key_file):
    client = app_with_keys(tiny_bundle, tmp_path, key_file, KEY_A)
    pid, label = predict_id(client)
    other = "negative" if label == "positive" else "positive"
    version = bundle.read_manifest(tiny_bundle).version_id
    forged = PredictionIds(KeyRing([KEY_B]), version).issue(1)
    flipped = tamper(pid, 1, str(1 - int(pid.split(".")[1])))  # would turn a wrong prediction into a right one
    for bad in (forged, flipped, "0123456789abcdef0123456789abcdef.1"):
        response = feedback(client, bad, other)
        assert response.status_code == 422 and response.json()["error"]["type"] == "unknown_prediction_id"
    assert "golive_feedback_total" not in "".join(
        line for line in client.get("/metrics").text.splitlines() if not line.startswith("#")
    )
    assert feedback(client, pid, other).json() == {
        "prediction_id": pid,
        "label": other,
        "correct": False,
        "status": "recorded",
    }


def test_feedback_for_another_model_versions_prediction_is_422(tiny_bundle, tmp_path, key_file):
    client = app_with_keys(tiny_bundle, tmp_path, key_file, KEY_A)
    signed_for_older_model = PredictionIds(KeyRing([KEY_A]), "20200101-000000-000000").issue(0)
    response = feedback(client, signed_for_older_model, "positive")
    assert response.status_code == 422
    assert response.json()["error"]["type"] == "other_model_version"
    assert "20200101-000000-000000" in response.json()["error"]["message"]


def test_a_rotated_local_key_keeps_old_ids_valid_while_it_is_listed(tiny_bundle, tmp_path, key_file):
    first = app_with_keys(tiny_bundle, tmp_path, key_file, KEY_A)
    old_id, label = predict_id(first)
    rotated = app_with_keys(tiny_bundle, tmp_path, key_file, KEY_B, KEY_A)  # new first line, old kept below
    assert predict_id(rotated)[0].startswith(key_id(KEY_B) + ".")
    assert feedback(rotated, old_id, label).status_code == 200
    dropped = app_with_keys(tiny_bundle, tmp_path, key_file, KEY_C, KEY_B)
    another_old_id, label = predict_id(first)
    response = feedback(dropped, another_old_id, label)
    assert response.status_code == 422 and response.json()["error"]["type"] == "unknown_prediction_id"


def test_golive_serve_generates_a_private_key_next_to_the_feedback_db_and_keeps_it(tiny_bundle, tmp_path):
    settings = Settings(model_dir=str(tiny_bundle), feedback_db=str(tmp_path / "state" / "feedback.sqlite3"))
    first = TestClient(create_local_app(settings))
    key_path = tmp_path / "state" / KEY_FILE
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    pid, label = predict_id(first)
    restarted = TestClient(create_local_app(settings))  # same key: ids from before the restart still count
    assert feedback(restarted, pid, label).status_code == 200
    assert len(key_path.read_text().split()) == 1 and len(key_path.read_text().strip()) >= 32


def test_a_key_file_others_can_read_is_refused(tmp_path):
    path = tmp_path / "keys"
    path.write_text(KEY_A.decode() + "\n")
    os.chmod(path, 0o644)
    with pytest.raises(UserError, match="chmod 600"):
        read_key_file(path)
    path.write_text("\n")
    os.chmod(path, 0o600)
    with pytest.raises(UserError, match="holds no signing key"):
        read_key_file(path)


# --- Secrets Manager (moto) ---------------------------------------------------------------------------------


class CountingClient:
    """A real (moto-backed) boto3 client that counts GetSecretValue calls by version stage."""

    def __init__(self, client):
        self._client = client
        self.calls: list[str] = []

    def get_secret_value(self, **kwargs):
        self.calls.append(kwargs.get("VersionStage", "AWSCURRENT"))
        return self._client.get_secret_value(**kwargs)

    def __getattr__(self, name):
        return getattr(self._client, name)


@mock_aws
def test_secret_keys_one_call_at_cold_start_then_rotation_seen_by_warm_and_cold_instances():
    sm = boto3.client("secretsmanager", region_name="us-east-1")
    arn = sm.create_secret(Name="golive-dev-signing-key", SecretString=KEY_A.decode())["ARN"]

    warm_client = CountingClient(sm)
    warm = PredictionIds(secret_key_ring(arn, warm_client), "v1")  # an instance started before the rotation
    assert warm_client.calls == ["AWSCURRENT"]  # cold start: one call
    issued_before = warm.issue(1)

    sm.put_secret_value(SecretId=arn, SecretString=KEY_B.decode())  # rotation: B is AWSCURRENT, A AWSPREVIOUS
    cold_client = CountingClient(sm)
    cold = PredictionIds(secret_key_ring(arn, cold_client), "v1")  # an instance started after it
    assert cold.issue(0).split(".")[0] == key_id(KEY_B)
    assert cold.verify(issued_before).label_index == 1  # the previous key still verifies (reads AWSPREVIOUS once)
    assert cold_client.calls == ["AWSCURRENT", "AWSCURRENT", "AWSPREVIOUS"]
    assert warm.verify(cold.issue(0)).label_index == 0  # the warm instance learns the new key when it meets it
    assert warm_client.calls == ["AWSCURRENT", "AWSCURRENT", "AWSPREVIOUS"]

    forged = PredictionIds(KeyRing([KEY_C]), "v1").issue(1)
    for _ in range(5):  # unknown key ids reload at most once per interval: no stream of Secrets Manager calls
        assert cold.verify(forged) is None
    assert len(cold_client.calls) == 3

    sm.put_secret_value(SecretId=arn, SecretString=KEY_C.decode())  # second rotation: A is gone
    later = PredictionIds(secret_key_ring(arn, sm), "v1")
    assert later.verify(issued_before) is None
    assert later.verify(cold.issue(1)).label_index == 1


@mock_aws
def test_an_unreadable_secret_fails_cold_start_and_a_failed_reload_is_a_503(tiny_bundle, tmp_path):
    sm = boto3.client("secretsmanager", region_name="us-east-1")
    with pytest.raises(SigningKeysUnavailable, match="cannot read AWSCURRENT"):
        secret_key_ring("arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf", sm)

    arn = sm.create_secret(Name="k", SecretString=KEY_A.decode())["ARN"]
    settings = Settings(model_dir=str(tiny_bundle), feedback_db=str(tmp_path / "f.sqlite3"), signing_secret_arn=arn)
    client = TestClient(create_local_app(settings))
    version = bundle.read_manifest(tiny_bundle).version_id
    sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)  # the reload an unknown key id triggers fails
    response = feedback(client, PredictionIds(KeyRing([KEY_B]), version).issue(0), "positive")
    assert response.status_code == 503 and response.json()["error"]["type"] == "signing_keys_unavailable"
    assert response.headers["Retry-After"]


@mock_aws
def test_the_lambda_signs_with_the_secret_and_takes_feedback(tiny_bundle, tmp_path, monkeypatch):
    sm = boto3.client("secretsmanager", region_name="us-east-1")
    arn = sm.create_secret(Name="golive-dev-signing-key", SecretString=KEY_A.decode())["ARN"]
    monkeypatch.setenv("GOLIVE_MODEL_DIR", str(tiny_bundle))
    monkeypatch.setenv("GOLIVE_FEEDBACK_DB", str(tmp_path / "f.sqlite3"))
    monkeypatch.setenv("GOLIVE_SIGNING_SECRET_ARN", arn)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    handler = fresh_lambda_module().handler
    try:
        answer = handler(api_event("rest_v1", "POST", "/v1/predict", {"inputs": "great"}), LambdaContext())
        prediction = json.loads(answer["body"])["predictions"][0]
        assert prediction["prediction_id"].startswith(key_id(KEY_A) + ".")
        body = {"prediction_id": prediction["prediction_id"], "label": prediction["label"]}
        answer = handler(api_event("rest_v1", "POST", "/v1/feedback", body), LambdaContext())
        assert answer["statusCode"] == 200 and json.loads(answer["body"])["correct"] is True
        forged = {**body, "prediction_id": PredictionIds(KeyRing([KEY_B]), "x").issue(0)}
        assert handler(api_event("rest_v1", "POST", "/v1/feedback", forged), LambdaContext())["statusCode"] == 422
    finally:
        sys.modules.pop("functions.lambda_handler", None)


def test_the_lambda_refuses_to_start_without_its_signing_secret(tiny_bundle, monkeypatch):
    monkeypatch.setenv("GOLIVE_MODEL_DIR", str(tiny_bundle))
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "golive-api")
    monkeypatch.setenv("GOLIVE_FEEDBACK_TABLE", "feedback")
    monkeypatch.delenv("GOLIVE_SIGNING_SECRET_ARN", raising=False)
    with pytest.raises(RuntimeError, match="GOLIVE_SIGNING_SECRET_ARN is not set"):
        fresh_lambda_module()
