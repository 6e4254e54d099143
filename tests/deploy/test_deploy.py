"""The deploy check: dev and prod, as synthesised, deployed with the pinned CDK CLI on LocalStack's CloudFormation.

Per environment: every stack reaches CREATE_COMPLETE; the REST API refuses a call without the API key (403)
and lets one with it through to the Lambda integration; `cdk destroy` removes every stack. The check prints
what was really created, what went through a shim, and what was not exercised (see inventory.py).
Run it with `python -m pytest -m deploy` (scripts/test.sh runs it after the default lane).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.deploy.cdk_cli import without_docker_images
from tests.deploy.inventory import deployed_resources, destroy_report, report, unexplained_placeholders
from tests.deploy.localstack_main import SHIMS

pytestmark = pytest.mark.deploy

# API Gateway's own answers: no or a wrong key; the Lambda integration failing (it cannot run without Docker)
FORBIDDEN = (403, {"message": "Forbidden"})
INTEGRATION_FAILED = (502, {"message": "Internal server error"})


def stack_names(assembly: Path) -> list[str]:
    artifacts = json.loads((assembly / "manifest.json").read_text())["artifacts"]
    return [artifact.get("properties", {}).get("stackName", name) for name, artifact in artifacts.items()
            if artifact["type"] == "aws:cloudformation:stack"]


def outputs(cloudformation, stack: str) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]}


def call(localstack, api_url: str, method: str, path: str, key: str | None) -> tuple[int, dict]:
    """Call the deployed stage through LocalStack's path-style execute-api route on loopback
    (the ApiUrl output's host name would need DNS)."""
    api_id, stage = urlsplit(api_url).hostname.split(".")[0], urlsplit(api_url).path.strip("/")
    headers = {"x-api-key": key} if key else {}
    body = {"inputs": ["a deploy check"]} if method == "POST" else None
    response = httpx.request(method, f"{localstack.endpoint}/_aws/execute-api/{api_id}/{stage}/{path}",
                             json=body, headers=headers, timeout=120)
    return response.status_code, response.json()


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_stack_deploys_answers_and_is_destroyed(env, synthesized, localstack, aws, cdk, tmp_path, capsys):
    assembly = tmp_path / "cdk.out"
    images = without_docker_images(synthesized[env]["_outdir"], assembly)
    stacks = stack_names(assembly)
    cloudformation = aws("cloudformation")

    cdk.deploy_all(assembly)
    described = {s: cloudformation.describe_stacks(StackName=s)["Stacks"][0] for s in stacks}
    assert {s: d["StackStatus"] for s, d in described.items()} == {s: "CREATE_COMPLETE" for s in stacks}
    resources = deployed_resources(cloudformation, stacks)
    with capsys.disabled():
        print("\n" + report(env, resources, stacks, images, SHIMS), flush=True)
    unexplained = unexplained_placeholders(resources)
    assert not unexplained, ("LocalStack created placeholders for these, and inventory.NOT_EXERCISED gives no reason: "
                             f"{sorted({r.type for r in unexplained})}")

    api = outputs(cloudformation, f"golive-{env}-api")
    function = next(r.physical_id for r in resources if r.stack == f"golive-{env}-api" and r.type == "AWS::Lambda::Function")
    key = aws("apigateway").get_api_key(apiKey=api["ApiKeyId"], includeValue=True)
    assert key["enabled"]
    assert call(localstack, api["ApiUrl"], "POST", "v1/predict", None) == FORBIDDEN
    assert call(localstack, api["ApiUrl"], "POST", "v1/predict", "not-" + key["value"]) == FORBIDDEN
    log_before = localstack.log.read_text(errors="replace")
    assert call(localstack, api["ApiUrl"], "POST", "v1/predict", key["value"]) == INTEGRATION_FAILED
    # past the key check: API Gateway invoked the API's function (which cannot start without Docker)
    assert f"Error while invoking lambda {function}" in localstack.log.read_text(errors="replace")[len(log_before):]
    # the health route is public: no key, and still through to the function
    assert call(localstack, api["ApiUrl"], "GET", "v1/health", None) == INTEGRATION_FAILED

    table = aws("dynamodb").describe_table(TableName=api["FeedbackTable"])["Table"]
    assert table["KeySchema"] == [{"AttributeName": "prediction_id", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"

    stack_ids = [d["StackId"] for d in described.values()]
    cdk.destroy_all(assembly)
    left = {}
    for stack in stacks:
        try:
            left[stack] = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        except ClientError as error:  # a deleted stack is not found by name
            assert "does not exist" in str(error)
    assert set(left.values()) <= {"DELETE_COMPLETE"}, left
    retained = [e["ResourceType"] for stack_id in stack_ids
                for e in cloudformation.describe_stack_events(StackName=stack_id)["StackEvents"]
                if e["ResourceStatus"] == "DELETE_SKIPPED"]
    with capsys.disabled():
        print(destroy_report(env, stacks, retained), flush=True)
