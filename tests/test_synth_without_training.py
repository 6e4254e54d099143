"""The whole CDK app synthesises from a hand-written bundle and a Lambda package built without pip, in a
Python where torch and transformers cannot be imported: infra needs no training run. Its templates also
show the inference stack and the pipeline's promote step creating the same endpoint config."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO, synth_context
from tests.handmade_bundle import write_handmade_bundle

ENVS = ("dev", "staging", "prod")
# torch, transformers and the training code are importable nowhere in this run: an import of any fails
SYNTH = """
import json, sys
sys.modules.update(dict.fromkeys(("torch", "transformers", "training"), None))
import aws_cdk as cdk
from infra.app import build_app, synthesize
from infra.assets.lambda_package import build_lambda_package

contexts = json.loads(sys.argv[1])
build_lambda_package(contexts["dev"]["model"], contexts["dev"]["lambda_package"], install=False)
for env, context in contexts.items():
    synthesize(build_app(cdk.App(outdir=context.pop("outdir"), context=context)))
assert not [m for m in sys.modules if m.split(".")[0] in ("torch", "transformers", "training") and sys.modules[m]]
"""


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> dict[str, dict[str, dict]]:
    """dev and prod synthesised in a subprocess without torch; stacks by name without `golive-<env>-`."""
    tmp = tmp_path_factory.mktemp("synth-without-training")
    bundle = write_handmade_bundle(tmp / "bundle")
    contexts = {
        env: {**synth_context(env, tmp / "package", bundle, tmp / f"build-{env}"), "outdir": str(tmp / env)}
        for env in ENVS
    }
    result = subprocess.run(
        [sys.executable, "-c", SYNTH, json.dumps(contexts, default=str)], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return {
        env: {
            path.name.removesuffix(".template.json").removeprefix(f"golive-{env}-").removeprefix("golive-"): json.loads(
                path.read_text()
            )
            for path in (tmp / env).glob("*.template.json")
        }
        for env in ENVS
    }


def test_every_stack_synthesises_without_torch_or_a_trained_bundle(templates):
    assert set(templates["dev"]) == {"account", "alerts", "data", "costs", "training", "api", "monitoring"}
    assert set(templates["prod"]) == set(templates["staging"]) == set(templates["dev"]) | {"inference"}
    # the hand-written bundle's baseline reached the quality alarms
    alarms = [
        r["Properties"]
        for r in templates["prod"]["monitoring"]["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    ]
    assert any(
        a.get("AlarmName") == "golive-prod-confidence-drop" and a["Threshold"] == pytest.approx(0.72) for a in alarms
    )


def rendered(node) -> object:
    """A template value with its intrinsics written out as text, so that two stacks' references to the same
    export compare equal: {"Fn::ImportValue": "x"} -> "<import x>"; Fn::Join joined."""
    if isinstance(node, list):
        return [rendered(item) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((function, argument),) = node.items()
        if function == "Fn::Join":
            return argument[0].join(str(rendered(part)) for part in argument[1])
        if function.startswith(("Fn::", "Ref")):
            names = ".".join(map(str, argument)) if isinstance(argument, list) else str(argument)
            return f"<{function} {names}>"  # no quotes: it may stand inside a JSON string (a definition)
    return {key: rendered(value) for key, value in node.items()}


def test_the_promote_step_creates_the_endpoint_config_cloudformation_creates(templates):
    """infra/naming.py writes the properties once; this checks both users of them end up with the same."""
    prod = templates["prod"]
    [initial] = [
        r["Properties"]
        for r in prod["inference"]["Resources"].values()
        if r["Type"] == "AWS::SageMaker::EndpointConfig"
    ]
    [machine] = [
        r["Properties"]
        for r in prod["training"]["Resources"].values()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    states = json.loads(rendered(machine["DefinitionString"]))["States"]
    promoted = states["CreateEndpointConfig"]["Parameters"]
    initial, promoted = rendered(initial), dict(promoted)
    # the model is the one difference: CloudFormation's first model, the pipeline's per-run model
    assert [v.pop("ModelName") for v in initial["ProductionVariants"]] != []
    assert [v.pop("ModelName.$") for v in promoted["ProductionVariants"]] == ["$.model.name"]
    assert promoted["ProductionVariants"] == initial["ProductionVariants"]
    assert promoted["ProductionVariants"][0]["InstanceType"].startswith("ml.g")
    # prod as shipped captures no raw traffic, so neither config has data capture (tests/test_capture_config.py)
    assert "DataCaptureConfig" not in promoted and "DataCaptureConfig" not in initial
    model = states["CreateModel"]["Parameters"]
    [first] = [r["Properties"] for r in prod["inference"]["Resources"].values() if r["Type"] == "AWS::SageMaker::Model"]
    assert model["EnableNetworkIsolation"] is first["EnableNetworkIsolation"] is True
    assert model["ExecutionRoleArn"] == rendered(first["ExecutionRoleArn"])


def test_staging_promotes_by_updating_its_inference_component(templates):
    """staging scales to zero: its model is an inference component, which the promote step updates, with the same
    specification (infra/naming.py) and rollback alarms as the inference stack's component. moto has no inference
    components, so this path is checked here, on the definition, not executed in tests/test_pipeline.py."""
    staging = templates["staging"]
    [component] = [
        r["Properties"]
        for r in staging["inference"]["Resources"].values()
        if r["Type"] == "AWS::SageMaker::InferenceComponent"
    ]
    [machine] = [
        r["Properties"]
        for r in staging["training"]["Resources"].values()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    states = json.loads(rendered(machine["DefinitionString"]))["States"]
    assert "CreateEndpointConfig" not in states and "BlueGreenUpdate" not in states
    update = states["UpdateComponent"]
    assert update["Resource"].endswith(":states:::aws-sdk:sagemaker:updateInferenceComponent")
    assert update["Next"] == "WaitForComponent" and states["CreateModel"]["Next"] == "UpdateComponent"
    params = update["Parameters"]
    assert params["InferenceComponentName"] == component["InferenceComponentName"] == "golive-staging-model"
    spec = dict(params["Specification"])
    assert spec.pop("ModelName.$") == "$.model.name"
    assert spec == {k: v for k, v in component["Specification"].items() if k != "ModelName"}
    assert params["DeploymentConfig"] == rendered(component["DeploymentConfig"])
    describe = states["DescribeComponent"]
    assert describe["Resource"].endswith(":describeInferenceComponent") and describe["Next"] == "ComponentSettled"
    choices = states["ComponentSettled"]
    assert choices["Default"] == "MarkRolledBack" and {c["Next"] for c in choices["Choices"]} == {
        "WaitForComponent",
        "Promoted",
    }
    assert states["MarkRolledBack"]["Parameters"]["ModelApprovalStatus"] == "Rejected"  # no longer the champion
    assert states["MarkRolledBack"]["Next"] == "RolledBack"
    # least privilege: the component's two calls on the component alone; no endpoint or endpoint-config rights
    [policy] = [
        r["Properties"]["PolicyDocument"]
        for r in staging["training"]["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
    ]
    statements = rendered(policy["Statement"])
    component_arn = [
        s["Resource"]
        for s in statements
        if s["Action"] in ("sagemaker:updateInferenceComponent", "sagemaker:describeInferenceComponent")
    ]
    assert len(component_arn) == 2 and all(
        r.endswith(":inference-component/golive-staging-model") for r in component_arn
    )
    actions = {a.lower() for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert not {"sagemaker:updateendpoint", "sagemaker:createendpointconfig"} & actions
