"""Each construct of infra/constructs/ alone, in a bare cdk.Stack, with aws_cdk.assertions: no bundle, no
torch, no whole app. Also the logical-ID rule that lets the stacks be split into them (inline.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

cdk = pytest.importorskip("aws_cdk")
from aws_cdk import aws_apigateway as apigw  # noqa: E402
from aws_cdk import aws_kms as kms  # noqa: E402
from aws_cdk import aws_lambda as lambda_  # noqa: E402
from aws_cdk import aws_sns as sns  # noqa: E402
from aws_cdk import aws_sqs as sqs  # noqa: E402
from aws_cdk import aws_stepfunctions as sfn  # noqa: E402
from aws_cdk.assertions import Match, Template  # noqa: E402
from constructs import Construct  # noqa: E402

from golive.contracts import alarms as catalog  # noqa: E402
from golive.monitoring.conditions import Baseline  # noqa: E402
from infra.config import load_config  # noqa: E402
from infra.constructs.alarm_kit import AlarmKit  # noqa: E402
from infra.constructs.api_alarms import ApiAlarms  # noqa: E402
from infra.constructs.api_function import LAMBDA_TIMEOUT_S, ApiFunction  # noqa: E402
from infra.constructs.dashboard import MonitoringDashboard  # noqa: E402
from infra.constructs.endpoint_alarms import EndpointAlarms  # noqa: E402
from infra.constructs.feedback_table import FeedbackTable  # noqa: E402
from infra.constructs.inline import Inline, StableIdStack, unique_id  # noqa: E402
from infra.constructs.quality_alarms import QualityAlarms  # noqa: E402
from infra.constructs.rest_api import RestApi  # noqa: E402
from infra.constructs.rollback_alarms import RollbackAlarms  # noqa: E402
from infra.constructs.training_alerts import TrainingAlerts  # noqa: E402

BASELINE = Baseline(label_share={"negative": 0.4, "positive": 0.6}, mean_confidence=0.82, mean_input_chars=64.0)


def bare_stack(folder: Path) -> cdk.Stack:
    app = cdk.App(outdir=str(folder / "out"), context={"build_dir": str(folder / "build")})
    return cdk.Stack(app, "bare", env=cdk.Environment(account="123456789012", region="us-east-1"))


@pytest.fixture()
def stack(tmp_path) -> cdk.Stack:
    return bare_stack(tmp_path)


def kit(stack: cdk.Stack, env: str = "prod") -> AlarmKit:
    return AlarmKit(load_config(env), sns.Topic(stack, "Topic"))


def alarm_names(template: Template) -> set[str]:
    return {r["Properties"]["AlarmName"] for r in template.find_resources("AWS::CloudWatch::Alarm").values()}


def function(stack: cdk.Stack, construct_id: str = "Fn") -> lambda_.Function:
    return lambda_.Function(
        stack,
        construct_id,
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context): pass"),
    )


# --- inline.py ------------------------------------------------------------------------------------------------


def test_unique_id_is_cdks_own_logical_id_for_every_element():
    app = cdk.App()
    stack = cdk.Stack(app, "s")
    nested = Construct(Construct(stack, "Outer-1"), "Default")
    for scope in (stack, nested, Construct(stack, "Resource")):
        sqs.Queue(scope, "Queue")
        cdk.CfnOutput(scope, "Out", value="x")
    elements = [c for c in stack.node.find_all() if isinstance(c, cdk.CfnElement)]
    assert len(elements) >= 6
    for element in elements:
        path = [s.node.id for s in element.node.scopes[1 + element.node.scopes.index(stack) :]]
        assert unique_id(path) == stack.resolve(element.logical_id), element.node.path


def test_an_inline_unit_keeps_its_resources_logical_ids_in_a_stable_id_stack():
    def queues(stack_class, inline: bool) -> set[str]:
        stack = stack_class(cdk.App(), "s")
        sqs.Queue(Inline(stack, "Unit") if inline else stack, "Queue")
        return set(Template.from_stack(stack).find_resources("AWS::SQS::Queue"))

    assert queues(StableIdStack, inline=True) == queues(cdk.Stack, inline=False)
    assert queues(cdk.Stack, inline=True) != queues(cdk.Stack, inline=False)  # a plain stack names the unit


# --- the API ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("retain, policy", [(True, "Retain"), (False, "Delete")])
def test_feedback_table_is_keyed_by_prediction_id_with_point_in_time_recovery(stack, retain, policy):
    FeedbackTable(stack, "Feedback", retain=retain, key=kms.Key(stack, "DataKey"))
    template = Template.from_stack(stack)
    template.has_resource(
        "AWS::DynamoDB::GlobalTable",
        {
            "DeletionPolicy": policy,
            "Properties": Match.object_like(
                {
                    "KeySchema": [{"AttributeName": "prediction_id", "KeyType": "HASH"}],
                    "BillingMode": "PAY_PER_REQUEST",
                    "Replicas": [
                        Match.object_like({"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}})
                    ],
                }
            ),
        },
    )


def test_api_function_runs_the_handler_with_its_settings_and_reads_only_its_table(stack, tmp_path):
    config = load_config("dev")  # the onnx backend
    package = tmp_path / "package"  # any folder: the asset is zipped, never run here
    (package / "functions").mkdir(parents=True)
    (package / "functions" / "lambda_handler.py").write_text("def handler(event, context): pass\n")
    table = FeedbackTable(stack, "Feedback", retain=True, key=kms.Key(stack, "DataKey")).table
    unit = ApiFunction(stack, "Api", config=config, package_dir=package, table=table, logs_key=kms.Key(stack, "Key"))
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "functions.lambda_handler.handler",
            "Runtime": "python3.13",
            "Timeout": LAMBDA_TIMEOUT_S,
            "MemorySize": config.api.lambda_memory_mb,
            "TracingConfig": {"Mode": "Active"},
            "Environment": {
                "Variables": Match.object_like({"GOLIVE_BACKEND": config.api.backend, "GOLIVE_ENVIRONMENT": "dev"})
            },
        },
    )
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with([Match.object_like({"Action": ["dynamodb:PutItem", "dynamodb:GetItem"]})])
            }
        },
    )
    assert unit.signing_key.secret is not None
    prod, stack = load_config("prod"), bare_stack(tmp_path / "prod")  # the sagemaker backend: one endpoint
    table = FeedbackTable(stack, "Feedback", retain=True, key=kms.Key(stack, "DataKey")).table
    with pytest.raises(ValueError, match="endpoint's name"):
        ApiFunction(stack, "NoEndpoint", config=prod, package_dir=package, table=table, logs_key=kms.Key(stack, "K2"))
    ApiFunction(
        stack,
        "Sagemaker",
        config=prod,
        package_dir=package,
        table=table,
        logs_key=kms.Key(stack, "K3"),
        endpoint_name="golive-prod-endpoint",
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Action": "sagemaker:InvokeEndpoint", "Resource": Match.any_value()})]
                )
            }
        },
    )


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_rest_api_opens_health_and_docs_and_keys_the_rest(stack, env):
    config = load_config(env)
    unit = RestApi(
        stack,
        "Rest",
        config=config,
        function=function(stack),
        logs_key=kms.Key(stack, "Key"),
        retention=cdk.aws_logs.RetentionDays.ONE_MONTH,
    )
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::ApiGateway::Stage", {"StageName": env, "TracingEnabled": True})
    methods = template.find_resources("AWS::ApiGateway::Method")
    keyed = [m for m in methods.values() if m["Properties"].get("ApiKeyRequired")]
    assert len(keyed) == 2 and len(methods) > len(keyed)  # the two {proxy+} routes; health and docs open
    assert (unit.web_acl is not None) == config.api.waf.enabled
    template.resource_count_is("AWS::WAFv2::WebACL", int(config.api.waf.enabled))


# --- monitoring ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("export", [True, False])
def test_api_alarms_split_client_facing_from_capacity_and_notify_both_ways(stack, export):
    """With an export function (api.capture_texts) its failures page too; without one there is no such alarm."""
    alarms_kit = kit(stack)
    handler = function(stack)
    rest = apigw.LambdaRestApi(stack, "Api", handler=handler)
    unit = ApiAlarms(
        stack,
        "Alarms",
        kit=alarms_kit,
        function=handler,
        timeout_s=LAMBDA_TIMEOUT_S,
        stage=rest.deployment_stage,
        table_name="t",
        export_function=function(stack, "Export") if export else None,
    )
    exported = catalog.FEEDBACK_EXPORT_ALARMS if export else ()
    assert [a.node.id for a in unit.client_facing] == [a.construct_id for a in catalog.API_ALARMS[:4]]
    assert [a.node.id for a in unit.capacity] == [a.construct_id for a in (*catalog.API_ALARMS[4:], *exported)]
    template = Template.from_stack(stack)
    assert alarm_names(template) == {f"golive-prod-{a.name}" for a in (*catalog.API_ALARMS, *exported)}
    for alarm in template.find_resources("AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == alarm["Properties"]["OKActions"]
    duration = alarms_kit.alarms[catalog.LAMBDA_DURATION.construct_id]
    assert stack.resolve(duration.node.default_child.threshold) == round(0.8 * LAMBDA_TIMEOUT_S * 1000)


@pytest.mark.parametrize("baseline, expected", [(None, catalog.QUALITY_ALARMS[:2]), (BASELINE, catalog.QUALITY_ALARMS)])
def test_quality_alarms_need_the_baseline_for_drift(stack, baseline, expected):
    unit = QualityAlarms(stack, "Quality", kit=kit(stack), baseline=baseline)
    assert [a.node.id for a in unit.alarms] == [a.construct_id for a in expected]
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::CloudWatch::Alarm", len(expected))
    if baseline:
        [drop] = [
            r["Properties"]
            for r in template.find_resources("AWS::CloudWatch::Alarm").values()
            if r["Properties"]["AlarmName"] == "golive-prod-confidence-drop"
        ]
        assert drop["Threshold"] == pytest.approx(BASELINE.mean_confidence - 0.1)


def test_endpoint_alarms_watch_the_gpus_and_the_autoscaling_maximum(stack):
    unit = EndpointAlarms(stack, "Endpoint", kit=kit(stack, "prod"))
    config = load_config("prod")
    assert len(unit.capacity) == 2 + (config.endpoint.max_instances > config.endpoint.min_instances)
    assert f"golive-prod-{catalog.GPU_UTILIZATION.name}" in alarm_names(Template.from_stack(stack))


def test_rollback_alarms_are_named_as_the_deployment_config_names_them(stack):
    from infra.naming import Names

    RollbackAlarms(stack, "Rollback", kit=kit(stack))
    assert alarm_names(Template.from_stack(stack)) == set(Names(load_config("prod")).rollback_alarms)


def test_training_alerts_deliver_to_the_topic_or_their_dead_letter_queue(stack):
    machine = sfn.StateMachine(
        stack, "Machine", definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "Nothing"))
    )
    unit = TrainingAlerts(stack, "Training", kit=kit(stack), state_machine=machine)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::Events::Rule", 2)
    for rule in template.find_resources("AWS::Events::Rule").values():
        [target] = rule["Properties"]["Targets"]
        assert "DeadLetterConfig" in target
    assert [a.node.id for a in unit.capacity] == [catalog.UNDELIVERED_ALERTS.construct_id]


@pytest.mark.parametrize("endpoint", [False, True])
def test_dashboard_shows_the_endpoint_only_when_there_is_one(stack, endpoint):
    alarms_kit = kit(stack)
    handler = function(stack)
    rest = apigw.LambdaRestApi(stack, "Api", handler=handler)
    machine = sfn.StateMachine(
        stack, "Machine", definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "Nothing"))
    )
    MonitoringDashboard(
        stack,
        "Board",
        kit=alarms_kit,
        alarms=[],
        state_machine=machine,
        function=handler,
        stage=rest.deployment_stage,
        endpoint=endpoint,
        baseline=BASELINE,
    )
    [board] = Template.from_stack(stack).find_resources("AWS::CloudWatch::Dashboard").values()
    assert board["Properties"]["DashboardName"] == "golive-prod"
    body = str(stack.resolve(board["Properties"]["DashboardBody"]))
    assert ("Endpoint model latency" in body) is endpoint
    assert "Predicted-label share" in body and "positive" in body
