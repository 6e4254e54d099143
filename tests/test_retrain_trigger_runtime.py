"""The retraining trigger as it ships: its code asset, staged as infra/constructs/retrain_trigger.py stages it, alone on
sys.path under the Lambda runtime's Python (3.13), with boto3 (the runtime brings its own; here the project's copy,
pure Python), deciding against moto's server over HTTP with the variables the stack sets."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

from golive.contracts import retraining
from golive.contracts.feedback_exports import ROWS_FILE, SUMMARY_FILE, ExportSummary, PipelineInput, export_folder
from infra.assets.lambda_package import LAMBDA_PYTHON_VERSION, find_python
from infra.assets.retrain_trigger import ENTRY
from infra.assets.staging import stage_code

REGION = "us-east-1"
SCHEDULED = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


@pytest.fixture()
def moto_url():
    """moto's server on loopback, in this process; the function reaches it through AWS_ENDPOINT_URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def aws_environment(url: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }


def test_the_shipped_code_starts_the_pipeline_under_the_runtime_python(tmp_path, moto_url, monkeypatch):
    python = find_python(LAMBDA_PYTHON_VERSION)
    if python is None:
        pytest.fail(f"Python {LAMBDA_PYTHON_VERSION} (the Lambda runtime's) is needed on this machine")
    code = tmp_path / "code"
    stage_code([ENTRY], code)
    for name, value in aws_environment(moto_url).items():
        monkeypatch.setenv(name, value)
    sfn, s3 = boto3.client("stepfunctions"), boto3.client("s3")
    definition = json.dumps({"StartAt": "Train", "States": {"Train": {"Type": "Pass", "End": True}}})
    machine = sfn.create_state_machine(
        name="golive-dev-training", definition=definition, roleArn="arn:aws:iam::123456789012:role/pipeline"
    )["stateMachineArn"]
    s3.create_bucket(Bucket="golive-dev-data")
    summary = ExportSummary(exported_at=datetime.now(UTC).isoformat(), since="", until="", rows=700)
    folder = export_folder(datetime.now(UTC).date())
    s3.put_object(Bucket="golive-dev-data", Key=f"{folder}{ROWS_FILE}", Body=b'{"text": "ok", "label": "pos"}\n')
    s3.put_object(Bucket="golive-dev-data", Key=f"{folder}{SUMMARY_FILE}", Body=summary.to_json().encode())

    settings = {
        retraining.STATE_MACHINE_ARN: machine,
        retraining.DATA_BUCKET: "golive-dev-data",
        retraining.MIN_INTERVAL_HOURS: "24",
        retraining.MIN_NEW_LABELS: "500",
    }
    site_packages = Path(boto3.__file__).parents[1]
    probe = (
        f"import json, sys; sys.path[:0] = [{str(code)!r}, {str(site_packages)!r}]; "
        "from functions.retrain_trigger.handler import handler; "
        f"result = handler({SCHEDULED!r}, None); print(json.dumps(result))"
    )
    env = {"PATH": os.environ["PATH"], **aws_environment(moto_url), **settings}
    run = subprocess.run([str(python), "-I", "-S", "-B", "-c", probe], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr

    log_line, result_line = run.stdout.splitlines()
    result = json.loads(result_line)
    assert json.loads(log_line) == {"retrain": result}
    assert (result["action"], result["new_labels"]) == ("started", 700)
    (execution,) = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert execution["name"] == result["execution"]
    started = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert started == json.loads(PipelineInput("schedule", "s3://golive-dev-data/feedback-exports/").to_json())
