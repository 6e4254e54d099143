"""Rotation of the prediction-id signing key: functions/rotation/handler.py, run by moto's Secrets Manager.

moto's RotateSecret does what Secrets Manager does before and around the rotation function: it turns rotation
on with the schedule, adds the AWSPENDING version with a new token, and invokes the function's four steps in
order with that token. moto runs a Lambda's code only in Docker; the one stand-in here runs the real handler in
process when moto invokes the rotation function (the function itself is created in moto's Lambda, from the
code asset infra/constructs/signing_key.py deploys, which runs on its own under the Lambda's Python below). Everything the handler calls is moto's Secrets Manager.

Then the API's own key ring (functions/api/signing_keys.py, as the Lambda builds it) checks what a rotation
means for prediction ids: valid until the second rotation after they were issued.
"""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend

from functions.api.prediction_ids import KeyRing, PredictionIds, key_id
from functions.api.signing_keys import secret_key_ring
from functions.rotation import handler as rotation
from golive.output_folders import MARKER
from infra.assets.rotation import HANDLER, stage_rotation_code
from infra.config import load_config

REGION = "us-east-1"


@dataclass
class Rotation:
    """moto's Secrets Manager with one signing-key secret, set up as the stack creates it, and its rotation function."""

    sm: object
    arn: str
    function_arn: str
    steps: list[str] = field(default_factory=list)
    fail_after: str | None = None  # make the invocation fail once this step has run (a crashed rotation)
    fail_before: str | None = None  # ... or before the function runs it

    def rotate(self, days: int, immediately: bool = True) -> None:
        self.sm.rotate_secret(
            SecretId=self.arn,
            RotationLambdaARN=self.function_arn,
            RotationRules={"AutomaticallyAfterDays": days},
            RotateImmediately=immediately,
        )

    def stages(self) -> dict[str, list[str]]:
        return {v: sorted(s) for v, s in self.sm.describe_secret(SecretId=self.arn)["VersionIdsToStages"].items() if s}

    def key(self, stage: str = "AWSCURRENT") -> str:
        return self.sm.get_secret_value(SecretId=self.arn, VersionStage=stage)["SecretString"]


# what the rotation function's asset holds: its handler's import closure
ROTATION_FILES = [
    "functions/__init__.py",
    "functions/rotation/__init__.py",
    "functions/rotation/handler.py",
    "golive/__init__.py",
    "golive/contracts/__init__.py",
    "golive/contracts/signing_keys.py",
]


@pytest.fixture(scope="module")
def rotation_code(tmp_path_factory) -> Path:
    """The function's code as infra/constructs/signing_key.py deploys it."""
    return stage_rotation_code(tmp_path_factory.mktemp("rotation") / "code")


@pytest.fixture()
def moto_rotation(monkeypatch, rotation_code):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws(config={"lambda": {"use_docker": False}}):
        sm = boto3.client("secretsmanager", region_name=REGION)
        # the first key as the stack's SecretStringGenerator draws it: 64 letters and digits
        first = sm.get_random_password(PasswordLength=rotation.KEY_CHARS, ExcludePunctuation=True)["RandomPassword"]
        arn = sm.create_secret(Name="golive-dev-signing-key", SecretString=first)["ARN"]
        role = boto3.client("iam").create_role(RoleName="rotation", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            for path in sorted(rotation_code.rglob("*.py")):
                archive.write(path, path.relative_to(rotation_code).as_posix())
        function_arn = boto3.client("lambda", region_name=REGION).create_function(
            FunctionName="golive-dev-signing-key-rotation",
            Runtime="python3.13",
            Role=role,
            Handler=HANDLER,
            Code={"ZipFile": code.getvalue()},
        )["FunctionArn"]
        state = Rotation(sm, arn, function_arn)
        original = LambdaSimpleBackend.invoke

        def invoke(self, function_name, qualifier, body, headers, response_headers):
            if function_name != function_arn:
                return original(self, function_name, qualifier, body, headers, response_headers)
            event = json.loads(body)
            if event["Step"] == state.fail_before:
                state.fail_before = None
                raise RuntimeError(f"the rotation function failed to start {event['Step']}")
            state.steps.append(event["Step"])
            rotation.handler(event, None, boto3.client("secretsmanager", region_name=REGION))
            if event["Step"] == state.fail_after:
                state.fail_after = None
                raise RuntimeError(f"the rotation function crashed after {event['Step']}")
            return b"null"

        monkeypatch.setattr(LambdaSimpleBackend, "invoke", invoke)
        yield state


def test_a_rotation_runs_the_four_steps_in_order_and_makes_the_new_key_current(moto_rotation):
    r = moto_rotation
    (first_version,) = r.stages()
    first = r.key()
    r.rotate(load_config("dev").api.signing_key_rotation_days)
    assert r.steps == ["createSecret", "setSecret", "testSecret", "finishSecret"]
    description = r.sm.describe_secret(SecretId=r.arn)
    assert description["RotationEnabled"] and description["RotationRules"]["AutomaticallyAfterDays"] == 30
    stages = r.stages()
    (new_version,) = [v for v, s in stages.items() if s == ["AWSCURRENT"]]
    assert stages == {first_version: ["AWSPREVIOUS"], new_version: ["AWSCURRENT"]}  # no AWSPENDING left behind
    new = r.key()
    assert new != first and r.key("AWSPREVIOUS") == first
    assert len(new) == rotation.KEY_CHARS and new.isalnum()  # drawn like the first key
    KeyRing([new.encode()])  # a key the API accepts (at least MIN_KEY_BYTES)


def test_setting_up_the_schedule_at_deploy_time_runs_only_the_test_step_and_changes_nothing(moto_rotation):
    """The stack's RotationSchedule does not rotate at once (RotateImmediatelyOnUpdate false): Secrets Manager then
    checks the configuration by calling testSecret alone, which must pass for the deploy to succeed."""
    r = moto_rotation
    first, (first_version,) = r.key(), r.stages()
    r.rotate(30, immediately=False)
    assert r.steps == ["testSecret"]
    assert r.key() == first and r.stages()[first_version] == ["AWSCURRENT"]
    assert r.sm.describe_secret(SecretId=r.arn)["RotationEnabled"]

    # the same check against a pending version with no value yet (what a real one may hand over) passes too
    r.fail_before = "createSecret"
    with pytest.raises(Exception, match="failed to start createSecret"):
        r.rotate(30)
    (token,) = [v for v, s in r.stages().items() if s == ["AWSPENDING"]]
    rotation.handler({"Step": "testSecret", "SecretId": r.arn, "ClientRequestToken": token}, None, r.sm)
    assert r.key() == first


def test_ids_stay_valid_until_the_second_rotation_after_they_were_issued(moto_rotation):
    """README "Prediction ids are signed": warm instances keep signing with the key they started with; every
    instance verifies AWSCURRENT and AWSPREVIOUS."""
    r = moto_rotation
    days = load_config("prod").api.signing_key_rotation_days
    warm = PredictionIds(secret_key_ring(r.arn, r.sm), "v1")  # started before the first rotation
    issued_before = warm.issue(1)

    r.rotate(days)
    cold = PredictionIds(secret_key_ring(r.arn, r.sm), "v1")  # started after it: signs with the new key
    issued_by_warm_after = warm.issue(0)  # the warm instance still signs with the old key, now AWSPREVIOUS
    issued_by_cold = cold.issue(1)
    assert issued_by_cold.split(".")[0] == key_id(r.key().encode()) != issued_before.split(".")[0]
    assert cold.verify(issued_before).label_index == 1
    assert cold.verify(issued_by_warm_after).label_index == 0
    assert warm.verify(issued_by_cold).label_index == 1  # the warm one learns the new key from the id

    r.rotate(days)  # the second rotation after issued_before: its key is neither current nor previous
    later = PredictionIds(secret_key_ring(r.arn, r.sm), "v1")
    assert later.verify(issued_before) is None and later.verify(issued_by_warm_after) is None
    assert later.verify(issued_by_cold).label_index == 1  # issued after the first rotation: valid until the third


def test_a_crashed_rotation_keeps_the_current_key_and_repeated_steps_change_nothing(moto_rotation):
    """Secrets Manager retries the steps of a failed rotation with the same token: nothing may be drawn twice."""
    r = moto_rotation
    first = r.key()
    r.fail_after = "createSecret"
    with pytest.raises(Exception, match="crashed after createSecret"):
        r.rotate(30)
    assert r.key() == first  # the API keeps signing with the current key
    (token,) = [v for v, s in r.stages().items() if s == ["AWSPENDING"]]
    pending = r.key("AWSPENDING")

    for step in rotation.STEPS:  # the retry, twice over
        for _ in range(2):
            rotation.handler({"Step": step, "SecretId": r.arn, "ClientRequestToken": token}, None, r.sm)
            if step != "finishSecret":
                assert r.key("AWSPENDING") == pending
    assert r.key() == pending and r.key("AWSPREVIOUS") == first
    assert "AWSPENDING" not in {s for stages in r.stages().values() for s in stages}


def test_steps_refuse_what_is_not_a_rotation_in_progress(moto_rotation):
    r = moto_rotation
    event = {"SecretId": r.arn, "ClientRequestToken": "0" * 32, "Step": "createSecret"}
    with pytest.raises(rotation.RotationError, match="rotation is not enabled"):
        rotation.handler(event, None, r.sm)
    r.rotate(30)
    with pytest.raises(rotation.RotationError, match="has no stage"):
        rotation.handler(event, None, r.sm)
    with pytest.raises(rotation.RotationError, match="unknown rotation step 'dropSecret'"):
        rotation.handler({**event, "Step": "dropSecret"}, None, r.sm)
    (previous,) = [v for v, s in r.stages().items() if s == ["AWSPREVIOUS"]]
    with pytest.raises(rotation.RotationError, match="is not AWSPENDING"):
        rotation.handler({**event, "ClientRequestToken": previous}, None, r.sm)


def test_the_deployed_code_holds_what_its_handler_imports(rotation_code):
    """The asset alone on sys.path, as /var/task is, under the Lambda's Python (boto3 is the runtime's own)."""
    from infra.assets.lambda_package import LAMBDA_PYTHON_VERSION, find_python

    expected = ROTATION_FILES  # and the marker saying golive wrote the folder (golive/output_folders.py)
    shipped = sorted(p.relative_to(rotation_code).as_posix() for p in rotation_code.rglob("*") if p.is_file())
    assert shipped == [MARKER, *expected]
    python = find_python(LAMBDA_PYTHON_VERSION)
    if python is None:
        pytest.fail(f"Python {LAMBDA_PYTHON_VERSION} (the Lambda runtime's) is needed on this machine")
    module, function = HANDLER.rsplit(".", 1)
    # boto3 is not installed for that Python here: a stand-in module, as the runtime provides the real one
    (stand_in := rotation_code.parent / "runtime").mkdir(exist_ok=True)
    (stand_in / "boto3.py").write_text("def client(*args, **kwargs):\n    raise RuntimeError('not in this test')\n")
    probe = (
        f"import sys; sys.path[:0] = [{str(rotation_code)!r}, {str(stand_in)!r}]; import {module} as m; "
        f"print(callable(m.{function}), *sorted(n.__file__ for n in list(sys.modules.values()) "
        f"if (getattr(n, '__file__', None) or '').startswith({str(rotation_code)!r})))"
    )
    result = subprocess.run([str(python), "-I", "-S", "-B", "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    callable_, *files = result.stdout.split()
    assert callable_ == "True"
    assert sorted(Path(f).relative_to(rotation_code).as_posix() for f in files) == expected
