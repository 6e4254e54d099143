"""The daily feedback export in AWS: the construct alone in a bare stack (schedule, target, variables, the role's
exact statements), the API stack deploying it only with api.capture_texts (without captured texts every export
would be empty), the synthesised dev (capture on, as the tests synthesise it) and prod (as shipped: capture off, no
export) API stacks (the feedback table under the data stack's key, both functions allowed that key only through
their services), and the code asset as it ships, run under the Lambda runtime's Python against moto's DynamoDB and
S3 (a server in this process, reached through AWS_ENDPOINT_URL)."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

cdk = pytest.importorskip("aws_cdk")
from aws_cdk import aws_kms as kms  # noqa: E402
from aws_cdk import aws_lambda as lambda_  # noqa: E402
from aws_cdk import aws_logs as logs  # noqa: E402
from aws_cdk import aws_s3 as s3  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402

from functions.api.feedback_store import CapturedText, DynamoFeedbackStore, FeedbackRecord  # noqa: E402
from functions.feedback_export import handler as job  # noqa: E402
from golive.contracts.feedback_exports import ExportSummary  # noqa: E402
from golive.output_folders import MARKER  # noqa: E402
from infra.app import FEATURE_FLAGS  # noqa: E402
from infra.assets.feedback_export import HANDLER  # noqa: E402
from infra.assets.lambda_package import LAMBDA_PYTHON_VERSION, find_python  # noqa: E402
from infra.constructs.feedback_export import FeedbackExport  # noqa: E402
from infra.constructs.feedback_table import FeedbackTable  # noqa: E402
from infra.stacks.api_stack import ApiStack  # noqa: E402
from infra.stacks.data_stack import DataStack  # noqa: E402
from tests.test_capture_config import config_with  # noqa: E402
from tests.test_constructs import bare_stack  # noqa: E402

SHIPPED = [
    "functions/__init__.py",
    "functions/common/__init__.py",
    "functions/common/feedback_export.py",
    "functions/common/feedback_sources.py",
    "functions/common/sqlite_files.py",
    "functions/feedback_export/__init__.py",
    "functions/feedback_export/handler.py",
    "golive/__init__.py",
    "golive/contracts/__init__.py",
    "golive/contracts/feedback_exports.py",
    "golive/contracts/feedback_table.py",
    "golive/errors.py",
    "golive/json_text.py",
]
# boto3 and what it needs, all pure Python: the Lambda runtime brings its own, this test lends the venv's
BOTO3 = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py")
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


def policy_statements(template: Template, role_id: str) -> list[dict]:
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def only(resources: dict) -> tuple[str, dict]:
    ((logical_id, resource),) = resources.items()
    return logical_id, resource


def export_in_bare_stack(tmp_path: Path) -> tuple[cdk.Stack, kms.Key, Template]:
    """The construct with a table, a bucket and their key beside it in one stack."""
    stack = bare_stack(tmp_path)
    key = kms.Key(stack, "DataKey")
    FeedbackExport(
        stack,
        "Export",
        environment="dev",
        table=FeedbackTable(stack, "Feedback", retain=True, key=key).table,
        bucket=s3.Bucket(stack, "Data", encryption_key=key),
        data_key=key,
        runtime=lambda_.Runtime.PYTHON_3_13,
        logs_key=kms.Key(stack, "LogsKey"),
        retention=logs.RetentionDays.TWO_WEEKS,
    )
    return stack, key, Template.from_stack(stack)


def test_the_export_runs_daily_with_its_variables_and_may_touch_only_its_table_prefix_and_key(tmp_path):
    stack, key, template = export_in_bare_stack(tmp_path)
    ids = {kind: only(template.find_resources(kind))[0] for kind in ("AWS::DynamoDB::GlobalTable", "AWS::S3::Bucket")}
    function_id, function = only(template.find_resources("AWS::Lambda::Function"))
    props = function["Properties"]
    assert (props["Handler"], props["Runtime"], props["Timeout"]) == (HANDLER, "python3.13", 900)
    assert props["Environment"]["Variables"] == {
        job.TABLE_VARIABLE: {"Ref": ids["AWS::DynamoDB::GlobalTable"]},
        job.BUCKET_VARIABLE: {"Ref": ids["AWS::S3::Bucket"]},
    }
    rule_id, rule = only(template.find_resources("AWS::Events::Rule"))
    assert rule["Properties"]["ScheduleExpression"] == "cron(15 0 * * ? *)"  # daily, 00:15 UTC
    ((target,),) = [rule["Properties"]["Targets"]]
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]} and target["RetryPolicy"] == {
        "MaximumRetryAttempts": 2
    }
    _, permission = only(template.find_resources("AWS::Lambda::Permission"))
    assert permission["Properties"]["Principal"] == "events.amazonaws.com"
    assert permission["Properties"]["SourceArn"] == {"Fn::GetAtt": [rule_id, "Arn"]}

    statements = policy_statements(template, props["Role"]["Fn::GetAtt"][0])
    by_action = {json.dumps(s["Action"]): s for s in statements}
    table_arn = {"Fn::GetAtt": [ids["AWS::DynamoDB::GlobalTable"], "Arn"]}
    bucket_arn = {"Fn::GetAtt": [ids["AWS::S3::Bucket"], "Arn"]}
    assert set(by_action) == {
        json.dumps(a)
        for a in (
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            ["dynamodb:Scan", "dynamodb:BatchGetItem"],
            "s3:ListBucket",
            ["s3:GetObject", "s3:PutObject"],
            ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"],
            ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
        )
    }
    assert by_action['["dynamodb:Scan", "dynamodb:BatchGetItem"]']["Resource"] == table_arn
    listing = by_action['"s3:ListBucket"']
    assert listing["Resource"] == bucket_arn and listing["Condition"] == {
        "StringLike": {"s3:prefix": "feedback-exports/*"}
    }
    objects = by_action['["s3:GetObject", "s3:PutObject"]']["Resource"]
    assert objects == {"Fn::Join": ["", [bucket_arn, "/feedback-exports/*"]]}
    keyed = by_action['["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"]']
    assert keyed["Resource"] == {"Fn::GetAtt": [stack.get_logical_id(key.node.default_child), "Arn"]}
    assert keyed["Condition"] == {
        "StringEquals": {"kms:ViaService": ["dynamodb.us-east-1.amazonaws.com", "s3.us-east-1.amazonaws.com"]}
    }


# --- the API stack: the export only with captured texts ----------------------------------------------------------


def export_function(api: Template) -> tuple[str, dict]:
    return only(api.find_resources("AWS::Lambda::Function", {"Properties": {"Handler": HANDLER}}))


def api_stack(tmp_path: Path, capture: bool) -> Template:
    """dev's API stack beside its data stack (no bundle: the Lambda package is a stand-in folder, never run)."""
    package = tmp_path / "package"
    (package / "functions").mkdir(parents=True)
    (package / "functions" / "lambda_handler.py").write_text("def handler(event, context): pass\n")
    config = config_with("dev", api={"capture_texts": capture})
    context = {flag: True for flag in FEATURE_FLAGS}  # as infra/app.py sets them
    context.update({"@aws-cdk/core:defaultCrossStackReferences": "strong", "build_dir": str(tmp_path / "build")})
    app = cdk.App(outdir=str(tmp_path / "out"), context=context)
    env = cdk.Environment(account="123456789012", region="us-east-1")
    data = DataStack(app, "golive-dev-data", config=config, training_image_account="763104351884", env=env)
    logs_key = kms.Key(cdk.Stack(app, "golive-dev-alerts", env=env), "LogsKey")
    api = ApiStack(app, "golive-dev-api", config=config, package_dir=package, logs_key=logs_key, data=data, env=env)
    assert (api.feedback_export is not None) == capture
    return Template.from_stack(api)


def test_the_api_stack_deploys_the_export_and_its_schedule_only_with_capture_on(tmp_path):
    on, off = api_stack(tmp_path / "on", capture=True), api_stack(tmp_path / "off", capture=False)
    export_function(on)
    daily = {"Properties": {"ScheduleExpression": "cron(15 0 * * ? *)"}}
    assert len(on.find_resources("AWS::Events::Rule", daily)) == 1
    # capture off: every night's export would count each row "no captured text"; nothing of it is deployed
    assert not off.find_resources("AWS::Lambda::Function", {"Properties": {"Handler": HANDLER}})
    assert not off.find_resources("AWS::Events::Rule")
    assert not [logical for logical in off.to_json()["Resources"] if logical.startswith("FeedbackExport")]
    # the rest of the stack is the same: the API function, its table and the signing key's rotation
    assert set(off.to_json()["Resources"]) < set(on.to_json()["Resources"])


# --- the synthesised app ----------------------------------------------------------------------------------------


def test_prod_as_shipped_captures_nothing_and_so_deploys_no_export_and_no_export_alarm(synthesized):
    assert not synthesized["prod"]["_config"].api.capture_texts
    api, monitoring = synthesized["prod"]["api"], synthesized["prod"]["monitoring"]
    assert not api.find_resources("AWS::Lambda::Function", {"Properties": {"Handler": HANDLER}})
    assert not api.find_resources("AWS::Events::Rule")
    names = [a["Properties"]["AlarmName"] for a in monitoring.find_resources("AWS::CloudWatch::Alarm").values()]
    assert "golive-prod-feedback-export-errors" not in names and "golive-prod-lambda-errors" in names
    (dashboard,) = monitoring.find_resources("AWS::CloudWatch::Dashboard").values()
    assert "FeedbackExport" not in json.dumps(dashboard)
    outputs = json.dumps(api.to_json().get("Outputs", {}))
    assert "FeedbackExport" not in outputs and "FeedbackTable" in outputs  # the table stays, for feedback


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_each_environment_keeps_feedback_under_its_data_key_and_with_capture_exports_daily_into_its_data_bucket(
    synthesized, env
):
    api, data = synthesized[env]["api"], synthesized[env]["data"]
    (data_key_id,) = data.find_resources("AWS::KMS::Key")
    (data_bucket_id,) = data.find_resources(
        "AWS::S3::Bucket", {"Properties": {"LoggingConfiguration": {"LogFilePrefix": "data/"}}}
    )
    exports = {o["Export"]["Name"]: o["Value"] for o in data.to_json()["Outputs"].values() if "Export" in o}

    def imported(value: dict) -> dict:
        """What an Fn::ImportValue in the API stack reads from the data stack."""
        return exports[value["Fn::ImportValue"]]

    (table,) = api.find_resources("AWS::DynamoDB::GlobalTable").values()
    assert table["Properties"]["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
    ((replica,),) = [table["Properties"]["Replicas"]]
    assert imported(replica["SSESpecification"]["KMSMasterKeyId"]) == {"Fn::GetAtt": [data_key_id, "Arn"]}

    if synthesized[env]["_config"].api.capture_texts:  # dev, as the tests synthesise it
        _, function = export_function(api)
        variables = function["Properties"]["Environment"]["Variables"]
        assert imported(variables[job.BUCKET_VARIABLE]) == {"Ref": data_bucket_id}
        (rule,) = api.find_resources("AWS::Events::Rule").values()
        schedule = rule["Properties"]
        assert schedule["ScheduleExpression"] == "cron(15 0 * * ? *)" and schedule["State"] == "ENABLED"

    # the API function may use the data key only through DynamoDB: not to read the data bucket's objects
    (api_function,) = api.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": "functions.lambda_handler.handler"}}
    ).values()
    keyed = [
        s
        for s in policy_statements(api, api_function["Properties"]["Role"]["Fn::GetAtt"][0])
        if any(a.startswith("kms:") for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
    ]
    assert len(keyed) == 1 and imported(keyed[0]["Resource"]) == {"Fn::GetAtt": [data_key_id, "Arn"]}
    assert keyed[0]["Condition"] == {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}}


def seed(moto_url: str) -> tuple[str, str]:
    """A table and a bucket in moto, and one labelled, captured prediction written by the API's own store."""
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_url, **CREDENTIALS)
    table, bucket = "golive-dev-feedback-runtime", "golive-dev-data-runtime"
    dynamodb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "prediction_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "prediction_id", "AttributeType": "S"}],
    )
    boto3.client("s3", endpoint_url=moto_url, **CREDENTIALS).create_bucket(Bucket=bucket)
    store = DynamoFeedbackStore(table, client=dynamodb)  # received now: in the window that ends tonight
    store.put_texts([CapturedText("p1.sig", "a wonderful film", "v1", 4_102_444_800)])
    store.put_once(FeedbackRecord("p1.sig", "positive", "negative", "v1"))
    return table, bucket


def run_in_runtime(asset: Path, runtime: Path, variables: dict[str, str], event: dict) -> tuple[str, dict]:
    """The handler invoked once in an isolated interpreter of the runtime's Python (no site-packages, no PYTHON*
    variables, no bytecode written) with the asset and then `runtime` on sys.path; its module's file and answer."""
    python = find_python(LAMBDA_PYTHON_VERSION)
    if python is None:
        pytest.fail(f"Python {LAMBDA_PYTHON_VERSION} (the Lambda runtime's) is needed on this machine")
    module, function = HANDLER.rsplit(".", 1)
    probe = (
        "import json, sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]; "
        f"import {module} as m; print(m.__file__); print(json.dumps(m.{function}(json.loads(sys.argv[3]), None)))"
    )
    argv = [str(python), "-I", "-S", "-B", "-c", probe, str(asset), str(runtime), json.dumps(event)]
    result = subprocess.run(argv, capture_output=True, text=True, env=variables, timeout=120)
    assert result.returncode == 0, result.stderr
    *_, file, answer = result.stdout.splitlines()
    return file, json.loads(answer)


def test_the_shipped_asset_runs_under_the_runtimes_python_and_exports_a_day(synthesized, moto_url, tmp_path):
    """The asset as synth staged it, alone on sys.path as /var/task is, with boto3 beside it as the runtime has it."""
    assert synthesized["dev"]["_config"].api.capture_texts  # the tests' dev captures texts: it has the export
    _, function = export_function(synthesized["dev"]["api"])
    code = function["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    asset = Path(synthesized["dev"]["_outdir"]) / f"asset.{code}"
    assert sorted(p.relative_to(asset).as_posix() for p in asset.rglob("*") if p.is_file()) == [MARKER, *SHIPPED]
    table, bucket = seed(moto_url)
    runtime = tmp_path / "runtime"  # what the Lambda runtime provides besides the asset: boto3
    runtime.mkdir()
    for name in BOTO3:
        (runtime / name).symlink_to(Path(boto3.__file__).parents[1] / name)
    variables = {
        "PATH": os.environ["PATH"],
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",  # Lambda sets both
        job.TABLE_VARIABLE: table,
        job.BUCKET_VARIABLE: bucket,
    }
    tonight = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT00:15:00Z")
    file, answer = run_in_runtime(asset, runtime, variables, {"time": tonight})
    assert Path(file).resolve() == (asset / "functions/feedback_export/handler.py").resolve()
    assert answer["exported"] and answer["summary"]["rows"] == 1, answer
    folder = f"feedback-exports/{datetime.now(UTC).date().isoformat()}/"
    assert answer["folder"] == f"s3://{bucket}/{folder}"
    s3 = boto3.client("s3", endpoint_url=moto_url, **CREDENTIALS)
    summary = ExportSummary.from_json(s3.get_object(Bucket=bucket, Key=folder + "summary.json")["Body"].read().decode())
    assert summary.rows == 1 and summary.until == f"{tonight[:10]}T00:00:00+00:00"
    rows = s3.get_object(Bucket=bucket, Key=folder + "feedback.jsonl")["Body"].read().decode()
    assert [json.loads(line)["text"] for line in rows.splitlines()] == ["a wonderful film"]
