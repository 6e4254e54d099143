"""`golive feedback export --env`: a deployed environment's feedback table, found from its API stack's outputs and
filled through the real Lambda (FastAPI via Mangum, real API Gateway events, the hand-written bundle) on moto's
DynamoDB, exported to a file and to moto's S3 with the same join as `--local`; and what a user is told when the
environment, its stack or table, or their credentials are not what the command needs."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count

from cli.main import main
from golive.contracts.feedback_table import TEXT_KEY_PREFIX, TTL_ATTRIBUTE
from tests.conftest import cold_started_lambda, fresh_lambda_module
from tests.unit.cli.test_feedback_export import PERSONAL, assert_counted, feedback, predict
from training.reading import SkipReport, read_rows

STACK = "golive-dev-api"  # dev's API stack (infra/naming.py: Names.api_stack)
# the API stack's output that names its table; the stand-in table is moto's (its CloudFormation has no GlobalTable)
TEMPLATE = {
    "Resources": {
        "Feedback": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "KeySchema": [{"AttributeName": "prediction_id", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "prediction_id", "AttributeType": "S"}],
            },
        }
    },
    "Outputs": {"FeedbackTable": {"Value": {"Ref": "Feedback"}}},
}
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def deploy_stand_in() -> str:
    """The dev API stack, as far as the command sees it: a stack with the FeedbackTable output; the table's name."""
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(StackName=STACK, TemplateBody=json.dumps(TEMPLATE))
    outputs = cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]
    return next(o["OutputValue"] for o in outputs if o["OutputKey"] == "FeedbackTable")


@pytest.fixture()
def deployed(handmade_bundle, tmp_path, monkeypatch):
    """dev after a day of traffic through the Lambda: feedback before capture was on, then with capture on."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        table = deploy_stand_in()
        monkeypatch.setenv("GOLIVE_FEEDBACK_TABLE", table)
        monkeypatch.setenv("GOLIVE_SIGNING_KEY_FILE", str(tmp_path / "signing.key"))
        lambdas = cold_started_lambda(handmade_bundle, tmp_path, monkeypatch)
        before = next(lambdas)  # capture off (the default)
        [uncaptured] = predict(before, "said before capture was on")
        feedback(before, uncaptured, "positive")
        monkeypatch.setenv("GOLIVE_CAPTURE_TEXTS", "true")
        module = fresh_lambda_module()  # a new cold start: same table, same signing key
        texts = ["a wonderful film", PERSONAL, "dull and slow", "a wonderful film", "dull and slow", "gone"]
        ids = predict(module, *texts)
        for prediction_id, label in zip(ids, ["positive", "negative", "negative", "positive", "positive", "negative"]):
            feedback(module, prediction_id, label)
        predict(module, "never labelled")  # a captured text without feedback is no training row
        # DynamoDB's TTL deletes expired items within days, not at once: "gone" is past its time, still stored
        boto3.client("dynamodb").update_item(
            TableName=table,
            Key={"prediction_id": {"S": TEXT_KEY_PREFIX + ids[5]}},
            UpdateExpression="SET #e = :past",
            ExpressionAttributeNames={"#e": TTL_ATTRIBUTE},
            ExpressionAttributeValues={":past": {"N": "1"}},
        )
        yield table, ids
        next(lambdas, None)


def export(*argv: str) -> int:
    return main(["feedback", "export", *argv])


def test_env_export_reads_the_deployed_table_and_writes_what_local_would(deployed, tmp_path, capsys):
    _, ids = deployed
    out = tmp_path / "feedback.jsonl"
    assert export("--env", "dev", "--since", "2020-01-01", "--out", str(out)) == 0
    assert_counted(capsys.readouterr().out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    # DynamoDB keeps no order: feedback received in the same second is taken in prediction id order, so either
    # "a wonderful film" row may stand for both
    by_text = {r["text"]: (r["label"], r["prediction_id"]) for r in rows}
    assert set(by_text) == {"a wonderful film", "write to [EMAIL] about it"}  # redacted before it was stored
    assert by_text["a wonderful film"][0] == "positive" and by_text["a wonderful film"][1] in (ids[0], ids[3])
    assert by_text["write to [EMAIL] about it"] == ("negative", ids[1])
    assert all(r["model_version"] and r["received_at"].startswith("20") for r in rows)
    assert "jane.doe@example.com" not in out.read_text()
    skipped = SkipReport()
    training = read_rows(str(out), None, None, skipped)  # what `golive train --data` reads, its columns guessed
    assert [(r.text, r.label) for r in training] == [(r["text"], r["label"]) for r in rows] and skipped.total == 0

    assert export("--env", "dev", "--since", "2999-01-01", "--out", str(tmp_path / "later.jsonl")) == 0
    assert (tmp_path / "later.jsonl").read_text() == "" and "exported 0 labelled texts" in capsys.readouterr().out


CAPTURE_OFF = (
    "warning: api.capture_texts is false in infra/environments/dev.json: the API deployed from it keeps no texts, so "
    "only texts captured while capture was on (and not yet past api.capture_ttl_days) can be exported; the other "
    "feedback is left out as 'no captured text'. To capture from now on, set api.capture_texts to true and deploy "
    f"with `npx cdk deploy {STACK} -c env=dev` (README: Deploy)\n"
)


def test_env_export_with_capture_off_in_the_config_warns_and_still_exports_what_was_captured(
    deployed, tmp_path, monkeypatch, capsys
):
    """dev ships with capture off; the table still holds the texts captured while it was on, within their TTL."""
    assert export("--env", "dev", "--since", "2020-01-01", "--out", str(tmp_path / "off.jsonl")) == 0
    out, err = capsys.readouterr()
    assert err == CAPTURE_OFF
    assert_counted(out)  # the captured texts, and the feedback before capture counted as having none
    assert len((tmp_path / "off.jsonl").read_text().splitlines()) == 2

    import infra.config

    folder = tmp_path / "envs"  # dev with capture on: nothing to warn about
    folder.mkdir()
    raw = json.loads((infra.config.ENVIRONMENTS_DIR / "dev.json").read_text())
    (folder / "dev.json").write_text(json.dumps({**raw, "api": {**raw["api"], "capture_texts": True}}))
    shipped_loader = infra.config.load_config
    monkeypatch.setattr(infra.config, "load_config", lambda env, **kw: shipped_loader(env, folder, **kw))
    assert export("--env", "dev", "--since", "2020-01-01", "--out", str(tmp_path / "on.jsonl")) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert_counted(out)


def test_env_export_to_s3_writes_the_object_training_reads(deployed, tmp_path, capsys):
    _, ids = deployed
    boto3.client("s3").create_bucket(Bucket="golive-dev-data")
    uri = "s3://golive-dev-data/exports/feedback.jsonl"
    assert export("--env", "dev", "--since", "2020-01-01", "--out", uri) == 0
    printed = capsys.readouterr().out
    assert_counted(printed)
    assert f"to {uri}" in printed
    body = boto3.client("s3").get_object(Bucket="golive-dev-data", Key="exports/feedback.jsonl")["Body"].read()
    exported = [json.loads(line)["prediction_id"] for line in body.decode().splitlines()]
    assert len(exported) == 2 and ids[1] in exported and ({ids[0], ids[3]} & set(exported))
    assert sorted(r.label for r in read_rows(uri, None, None, SkipReport())) == ["negative", "positive"]


@pytest.fixture()
def aws_env(monkeypatch, tmp_path):
    """Credentials for moto; no shared config or credentials files, no instance metadata to ask."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def failure(capsys, *argv: str) -> str:
    try:
        code = export(*argv)
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in out + err, out + err
    return err


OUT = ("--since", "2020-01-01", "--out")


def test_a_missing_stack_or_table_says_what_to_deploy(aws_env, tmp_path, capsys):
    with mock_aws():
        err = failure(capsys, "--env", "dev", *OUT, str(tmp_path / "f.jsonl"))
        assert err.startswith(CAPTURE_OFF), err  # said before any AWS call, then why nothing could be read
        assert f"no stack {STACK} in us-east-1 for these credentials: deploy dev first" in err, err
        assert f"`npx cdk deploy {STACK} -c env=dev`" in err, err  # the command (infra/deployed.py's, as train's)
        table = deploy_stand_in()
        boto3.client("dynamodb").delete_table(TableName=table)
        err = failure(capsys, "--env", "dev", *OUT, str(tmp_path / "f.jsonl"))
        assert f"the feedback table {table} (stack {STACK}'s output) does not exist in us-east-1" in err, err
    assert not (tmp_path / "f.jsonl").exists()


def test_no_credentials_says_how_to_configure_them(aws_env, monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    err = failure(capsys, "--env", "dev", *OUT, str(tmp_path / "f.jsonl"))
    assert "cannot find the feedback table of dev: no AWS credentials found; configure them with `aws configure`" in err


@set_initial_no_auth_action_count(5)  # moto checks IAM policies from the sixth call on: the command's own
def test_credentials_without_read_access_to_the_table_are_told_what_they_need(aws_env, monkeypatch, tmp_path, capsys):
    with mock_aws():
        deploy_stand_in()  # calls 1-2 (create, describe)
        iam = boto3.client("iam")
        iam.create_user(UserName="analyst")  # call 3
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "cloudformation:DescribeStacks", "Resource": "*"}],
        }
        iam.put_user_policy(UserName="analyst", PolicyName="stacks-only", PolicyDocument=json.dumps(policy))  # 4
        key = iam.create_access_key(UserName="analyst")["AccessKey"]  # 5
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # a new process: nothing cached from the keys above
        err = failure(capsys, "--env", "dev", *OUT, str(tmp_path / "f.jsonl"))
    assert "cannot read the feedback table" in err and "AccessDenied" in err, err
    assert "your AWS credentials need dynamodb:Scan and dynamodb:BatchGetItem on the feedback table" in err, err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--env", "qa", *OUT, "f.jsonl"], "unknown environment 'qa'"),
        (
            ["--env", "dev", "--local", "f.sqlite3", *OUT, "f.jsonl"],
            "argument --local: not allowed with argument --env",
        ),
        ([*OUT, "f.jsonl"], "one of the arguments --local --env is required"),
        (["--env", "dev", *OUT, "s3://golive-dev-data"], "--out s3://golive-dev-data names no object"),
    ],
)
def test_careless_env_exports_get_one_clear_message_before_any_aws_call(argv, message, aws_env, capsys):
    with mock_aws():  # nothing deployed: a message about AWS would mean the arguments were not checked first
        assert message in failure(capsys, *argv)
