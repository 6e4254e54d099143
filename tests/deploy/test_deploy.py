"""The deploy check: dev and prod, as synthesised, deployed with the pinned CDK CLI on LocalStack's CloudFormation.
dev is synthesised with api.capture_texts on (tests/conftest.py: SYNTH_CHANGES), so its daily feedback export, which
only capture brings, is deployed too; prod is as shipped, without it.

Both environments live in one account, as they do for a small team: prod is deployed first, then dev. Each
one's stacks all reach CREATE_COMPLETE, and its REST API refuses a call without the API key (403) and lets
one with it through to the Lambda integration. Then `cdk destroy` removes dev, prod must still answer and
still log through an existing role, and prod is destroyed. The check prints what was really created, what
went through a shim and what was not exercised (inventory.py).
Run it with `python -m pytest -m deploy tests/deploy` (scripts/test.sh runs it after the default lane).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.deploy.cdk_cli import without_docker_images
from tests.deploy.inventory import deployed_resources, destroy_report, report, shims_report, unexplained_placeholders
from tests.deploy.localstack_main import SHIMS

pytestmark = pytest.mark.deploy

# API Gateway's own answers: no or a wrong key; the Lambda integration failing (it cannot run without Docker).
# LocalStack creates the stage's gateway responses but does not apply their templates (its provider's TODO), so
# it answers with its default body where AWS answers {"error": {"type": "forbidden", ...}}
# (tests/test_gateway_responses.py renders those templates).
FORBIDDEN = (403, {"message": "Forbidden"})
INTEGRATION_FAILED = (502, {"message": "Internal server error"})


@dataclass
class Deployment:
    env: str
    assembly: Path
    stacks: list[str]


def stack_names(assembly: Path) -> list[str]:
    artifacts = json.loads((assembly / "manifest.json").read_text())["artifacts"]
    return [
        artifact.get("properties", {}).get("stackName", name)
        for name, artifact in artifacts.items()
        if artifact["type"] == "aws:cloudformation:stack"
    ]


def existing_stacks(cloudformation, names: list[str]) -> dict[str, dict]:
    """Stacks by name that exist now (a deleted stack is not found by name)."""
    found = {}
    for name in names:
        try:
            found[name] = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        except ClientError as error:
            assert "does not exist" in str(error), error
    return found


def deploy(env: str, synthesized, cdk, cloudformation, tmp_path: Path) -> Deployment:
    """`cdk deploy --all` of the environment's assembly; prints what LocalStack created and what it did not."""
    assembly = tmp_path / f"cdk.out-{env}"
    images = without_docker_images(synthesized[env]["_outdir"], assembly)
    stacks = stack_names(assembly)
    cdk.deploy_all(assembly)
    statuses = {name: stack["StackStatus"] for name, stack in existing_stacks(cloudformation, stacks).items()}
    assert statuses == {name: "CREATE_COMPLETE" for name in stacks}
    resources = deployed_resources(cloudformation, stacks)
    print(report(env, resources, stacks, images), flush=True)
    unexplained = unexplained_placeholders(resources)
    assert not unexplained, (
        "LocalStack created placeholders for these, and inventory.NOT_EXERCISED gives no reason: "
        f"{sorted({r.type for r in unexplained})}"
    )
    return Deployment(env, assembly, stacks)


def call(localstack, api_url: str, method: str, path: str, key: str | None) -> tuple[int, dict]:
    """Call the deployed stage through LocalStack's path-style execute-api route on loopback
    (the ApiUrl output's host name would need DNS)."""
    api_id, stage = urlsplit(api_url).hostname.split(".")[0], urlsplit(api_url).path.strip("/")
    headers = {"x-api-key": key} if key else {}
    body = {"inputs": ["a deploy check"]} if method == "POST" else None
    response = httpx.request(
        method,
        f"{localstack.endpoint}/_aws/execute-api/{api_id}/{stage}/{path}",
        json=body,
        headers=headers,
        timeout=120,
    )
    return response.status_code, response.json()


def check_api(env: str, localstack, aws) -> None:
    """403 without the key or with a wrong one; with it, through to the API's function; /v1/health needs none."""
    cloudformation = aws("cloudformation")
    api_stack = f"golive-{env}-api"
    api = {
        o["OutputKey"]: o["OutputValue"]
        for o in cloudformation.describe_stacks(StackName=api_stack)["Stacks"][0]["Outputs"]
    }
    # the API's function (ApiStack's "Function"), not the signing key's rotation function beside it
    function = next(
        r.physical_id
        for r in deployed_resources(cloudformation, [api_stack])
        if r.type == "AWS::Lambda::Function" and r.logical_id.startswith("Function")
    )
    key = aws("apigateway").get_api_key(apiKey=api["ApiKeyId"], includeValue=True)
    assert key["enabled"]
    assert call(localstack, api["ApiUrl"], "POST", "v1/predict", None) == FORBIDDEN
    assert call(localstack, api["ApiUrl"], "POST", "v1/predict", "not-" + key["value"]) == FORBIDDEN
    seen = len(localstack.log.read_text(errors="replace"))
    assert call(localstack, api["ApiUrl"], "POST", "v1/predict", key["value"]) == INTEGRATION_FAILED
    # past the key check: API Gateway invoked this environment's function (which cannot start without Docker)
    assert f"Error while invoking lambda {function}" in localstack.log.read_text(errors="replace")[seen:]
    assert call(localstack, api["ApiUrl"], "GET", "v1/health", None) == INTEGRATION_FAILED

    table = aws("dynamodb").describe_table(TableName=api["FeedbackTable"])["Table"]
    assert table["KeySchema"] == [{"AttributeName": "prediction_id", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def check_feedback_export(env: str, capture: bool, aws) -> None:
    """With api.capture_texts the export's function, its daily rule (targeting it) and its errors alarm exist in the
    emulator; without, none of them."""
    cloudformation = aws("cloudformation")
    api = deployed_resources(cloudformation, [f"golive-{env}-api"])
    exported = {r.type: r for r in api if r.logical_id.startswith("FeedbackExport")}
    alarm = f"golive-{env}-feedback-export-errors"
    alarms = aws("cloudwatch").describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
    if not capture:
        assert not exported and not alarms, (sorted(exported), alarms)
        return
    function = aws("lambda").get_function_configuration(FunctionName=exported["AWS::Lambda::Function"].physical_id)
    assert function["Handler"] == "functions.feedback_export.handler.handler"
    assert not exported["AWS::Events::Rule"].placeholder
    (rule_name,) = aws("events").list_rule_names_by_target(TargetArn=function["FunctionArn"])["RuleNames"]
    rule = aws("events").describe_rule(Name=rule_name)
    assert rule["ScheduleExpression"] == "cron(15 0 * * ? *)" and rule["State"] == "ENABLED"
    ((dimension,),) = [a["Dimensions"] for a in alarms]
    assert dimension == {"Name": "FunctionName", "Value": function["FunctionName"]}


def destroy(deployment: Deployment, cdk, cloudformation) -> None:
    """`cdk destroy --all`: every stack of the environment gone; prints what was kept on purpose."""
    ids = [stack["StackId"] for stack in existing_stacks(cloudformation, deployment.stacks).values()]
    cdk.destroy_all(deployment.assembly)
    left = {name: stack["StackStatus"] for name, stack in existing_stacks(cloudformation, deployment.stacks).items()}
    assert set(left.values()) <= {"DELETE_COMPLETE"}, left
    retained = [
        event["ResourceType"]
        for stack_id in ids
        for event in cloudformation.describe_stack_events(StackName=stack_id)["StackEvents"]
        if event["ResourceStatus"] == "DELETE_SKIPPED"
    ]
    print(destroy_report(deployment.env, len(ids), retained), flush=True)


def check_api_logging_role(aws) -> None:
    """API Gateway's account-wide setting must name a role that exists: every REST API in the region logs through it."""
    role_arn = aws("apigateway").get_account().get("cloudwatchRoleArn")
    assert role_arn, "API Gateway's account setting names no CloudWatch logging role"
    iam = aws("iam")
    try:
        iam.get_role(RoleName=role_arn.rsplit("/", 1)[-1])
        return
    except iam.exceptions.NoSuchEntityException:
        pass
    pytest.fail(
        f"API Gateway's account-wide logging role {role_arn} no longer exists: "
        "every REST API in this account and region lost its execution logs"
    )


def test_dev_and_prod_deploy_side_by_side_answer_and_are_destroyed(synthesized, localstack, aws, cdk, tmp_path, capsys):
    cloudformation = aws("cloudformation")
    with capsys.disabled():  # the report belongs in the CI log, pass or fail
        print("\n" + shims_report(SHIMS), flush=True)
        deployments = {}
        for env in ("prod", "dev"):  # dev last: deploying it must not take over anything prod uses
            deployments[env] = deploy(env, synthesized, cdk, cloudformation, tmp_path)
            check_api(env, localstack, aws)
            check_feedback_export(env, synthesized[env]["_config"].api.capture_texts, aws)
        assert synthesized["dev"]["_config"].api.capture_texts  # so the export is deployed at all
        check_api_logging_role(aws)

        destroy(deployments["dev"], cdk, cloudformation)
        check_api("prod", localstack, aws)  # prod outlives dev
        check_api_logging_role(aws)
        destroy(deployments["prod"], cdk, cloudformation)
