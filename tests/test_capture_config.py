"""Text capture on AWS (issue 20): the environment's api.capture_texts reaches the API function (its variables
and a batch-write grant on `text#` items only), the feedback table expires captured texts by TTL, and the GPU
endpoint's raw data capture is off unless an environment turns it on. Torch-free: bare stacks and the config."""

from __future__ import annotations

import json

import pytest

cdk = pytest.importorskip("aws_cdk")
from aws_cdk import aws_kms as kms  # noqa: E402
from aws_cdk.assertions import Match, Template  # noqa: E402

from golive.contracts.feedback_table import TEXT_KEY_PREFIX, TTL_ATTRIBUTE  # noqa: E402
from infra.config import ENVIRONMENTS_DIR, ConfigError, EnvironmentConfig, load_config  # noqa: E402
from infra.constructs.api_function import ApiFunction  # noqa: E402
from infra.constructs.feedback_table import FeedbackTable  # noqa: E402
from infra.naming import endpoint_config_properties  # noqa: E402
from tests.test_constructs import bare_stack  # noqa: E402

ENVS = ("dev", "staging", "prod")


def shipped(env: str) -> dict:
    return json.loads((ENVIRONMENTS_DIR / f"{env}.json").read_text())


def config_with(env: str, **sections: dict) -> EnvironmentConfig:
    """The shipped environment with some keys of its sections changed, validated as a file's would be."""
    raw = shipped(env)
    return EnvironmentConfig.model_validate({**raw, **{k: {**raw.get(k, {}), **v} for k, v in sections.items()}})


def write_env(folder, env: str, **sections: dict):
    raw = shipped(env)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{env}.json").write_text(
        json.dumps({**raw, **{k: {**raw.get(k, {}), **v} for k, v in sections.items()}})
    )
    return folder


# --- configuration ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_no_shipped_environment_captures_texts(env):
    config = load_config(env)
    assert config.api.capture_texts is False and config.endpoint.data_capture_percent == 0


def test_capture_ttl_is_bounded_and_needs_capture_on(tmp_path):
    assert config_with("dev", api={"capture_texts": True}).api.capture_ttl_days == 30
    assert config_with("dev", api={"capture_texts": True, "capture_ttl_days": 3650}).api.capture_ttl_days == 3650
    for days in (0, 3651):
        with pytest.raises(ConfigError, match=r"api\.capture_ttl_days"):
            load_config(
                "dev", write_env(tmp_path / str(days), "dev", api={"capture_texts": True, "capture_ttl_days": days})
            )
    with pytest.raises(ConfigError, match=r"capture_ttl_days \(7\) keeps captured texts, but capture_texts is false"):
        load_config("dev", write_env(tmp_path / "off", "dev", api={"capture_ttl_days": 7}))


# --- the feedback table and the API function ----------------------------------------------------------------


def test_feedback_table_expires_items_by_their_expires_at(tmp_path):
    stack = bare_stack(tmp_path)
    FeedbackTable(stack, "Feedback", retain=True, key=kms.Key(stack, "DataKey"))
    assert TTL_ATTRIBUTE == "expires_at"  # the attribute functions/api/feedback_store.py writes
    Template.from_stack(stack).has_resource_properties(
        "AWS::DynamoDB::GlobalTable", {"TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True}}
    )


def api_template(tmp_path, config: EnvironmentConfig) -> Template:
    """The API function alone, with its table (prod's sagemaker backend is given an endpoint's name)."""
    package = tmp_path / "package"  # any folder: the asset is zipped, never run here
    (package / "functions").mkdir(parents=True, exist_ok=True)
    (package / "functions" / "lambda_handler.py").write_text("def handler(event, context): pass\n")
    stack = bare_stack(tmp_path / config.name)
    table = FeedbackTable(stack, "Feedback", retain=True, key=kms.Key(stack, "DataKey")).table
    endpoint = "golive-prod-endpoint" if config.api.backend == "sagemaker" else None
    keys = kms.Key(stack, "Key")
    ApiFunction(stack, "Api", config=config, package_dir=package, table=table, logs_key=keys, endpoint_name=endpoint)
    return Template.from_stack(stack)


def statements(template: Template) -> list[dict]:
    return [
        s
        for p in template.find_resources("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def api_variables(template: Template) -> dict:
    [function] = [
        r["Properties"]
        for r in template.find_resources("AWS::Lambda::Function").values()
        if r["Properties"]["Handler"] == "functions.lambda_handler.handler"
    ]
    return function["Environment"]["Variables"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_capture_off_sets_no_capture_variable_and_grants_no_batch_write(tmp_path, env):
    template = api_template(tmp_path, load_config(env))
    variables = api_variables(template)
    assert not any(name.startswith("GOLIVE_CAPTURE") for name in variables), variables
    assert variables["GOLIVE_FEEDBACK_TABLE"]  # the table is still there, for feedback
    assert not [s for s in statements(template) if "BatchWriteItem" in json.dumps(s["Action"])]


def test_capture_on_passes_the_setting_and_grants_batch_writes_of_text_items_only(tmp_path):
    config = config_with("dev", api={"capture_texts": True, "capture_ttl_days": 7})
    template = api_template(tmp_path, config)
    variables = api_variables(template)
    assert variables["GOLIVE_CAPTURE_TEXTS"] == "true" and variables["GOLIVE_CAPTURE_TTL_DAYS"] == "7"
    [table_id] = template.find_resources("AWS::DynamoDB::GlobalTable")
    [batch] = [s for s in statements(template) if "BatchWriteItem" in json.dumps(s["Action"])]
    assert batch["Action"] == "dynamodb:BatchWriteItem" and batch["Effect"] == "Allow"
    assert batch["Resource"] == {"Fn::GetAtt": [table_id, "Arn"]}  # this table only, not its indexes
    assert batch["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{TEXT_KEY_PREFIX}*"]}}
    # feedback itself keeps its conditional put and read
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with([Match.object_like({"Action": ["dynamodb:PutItem", "dynamodb:GetItem"]})])
            }
        },
    )


# --- the GPU endpoint's data capture ------------------------------------------------------------------------


@pytest.mark.parametrize("scale_to_zero", [False, True])
def test_endpoint_data_capture_is_off_by_default_and_on_only_when_asked(scale_to_zero):
    endpoint = {"enabled": True, "scale_to_zero": scale_to_zero}
    default = config_with("prod", endpoint=endpoint)
    role = "arn:aws:iam::123456789012:role/models"
    off = endpoint_config_properties(default, "model", "capture-bucket", "key-arn", model_role_arn=role)
    assert "DataCaptureConfig" not in off  # SageMaker would store bodies raw: nothing to redact them
    on = endpoint_config_properties(
        config_with("prod", endpoint={**endpoint, "data_capture_percent": 25}),
        "model",
        "capture-bucket",
        "key-arn",
        model_role_arn=role,
    )
    assert on["DataCaptureConfig"] == {
        "EnableCapture": True,
        "InitialSamplingPercentage": 25,
        "DestinationS3Uri": "s3://capture-bucket/endpoint/",
        "KmsKeyId": "key-arn",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
    }
    assert {k: v for k, v in on.items() if k != "DataCaptureConfig"} == off
