"""Retraining triggers on AWS (issue 20): `training.retrain` in the config, the RetrainTrigger construct alone in a
bare stack, and an environment that turns retraining on, synthesised (data, alerts and training stacks) under all
four cdk-nag packs, then cfn-lint and checkov on its templates: the schedule and alarm rules, the function's
settings and least-privilege role. With retraining off (every shipped environment) nothing of it is there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

cdk = pytest.importorskip("aws_cdk")
from aws_cdk import aws_kms as kms  # noqa: E402
from aws_cdk import aws_s3 as s3  # noqa: E402
from aws_cdk import aws_sns as sns  # noqa: E402
from aws_cdk import aws_sqs as sqs  # noqa: E402
from aws_cdk import aws_stepfunctions as sfn  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402

from golive.contracts import alarms as catalog  # noqa: E402
from golive.contracts import retraining  # noqa: E402
from infra.app import FEATURE_FLAGS  # noqa: E402
from infra.assets.training_source import build_source_tarball  # noqa: E402
from infra.checkov import scan  # noqa: E402
from infra.compliance import add_checks  # noqa: E402
from infra.config import ConfigError, EnvironmentConfig, RetrainSettings, load_config  # noqa: E402
from infra.constructs.alarm_kit import AlarmKit  # noqa: E402
from infra.constructs.retrain_trigger import RetrainTrigger  # noqa: E402
from infra.constructs.training_alerts import TrainingAlerts  # noqa: E402
from infra.costs.stages import monitoring_footprint  # noqa: E402
from infra.naming import Names  # noqa: E402
from infra.stacks.alerts_stack import AlertsStack  # noqa: E402
from infra.stacks.data_stack import DataStack  # noqa: E402
from infra.stacks.training_stack import TrainingStack  # noqa: E402
from infra.training_job import training_image_uri  # noqa: E402
from tests.test_capture_config import config_with, write_env  # noqa: E402
from tests.test_constructs import bare_stack  # noqa: E402
from tests.test_infra import assert_ships_and_compiles  # noqa: E402

ON = {"schedule": "rate(7 days)", "on_alarms": True, "min_interval_hours": 48, "min_new_labels": 1000}
CAPTURE = {"capture_texts": True}  # what retraining on new labels needs: exports hold only captured texts


# --- configuration ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_no_shipped_environment_retrains_by_itself(env):
    assert load_config(env).training.retrain == RetrainSettings()
    assert not load_config(env).training.retrain.enabled


@pytest.mark.parametrize(
    "expression",
    ["rate(1 day)", "rate(7 days)", "rate(12 hours)", "rate(1 minute)", "cron(0 3 ? * MON *)",
     "cron(0/15 * * * ? *)", "cron(15 10 ? * 6L 2026-2030)", "cron(0 8 1 JAN,JUL ? *)", "cron(0 4 ? * MON-FRI#2 *)"],
)  # fmt: skip
def test_eventbridge_schedule_expressions_are_accepted(expression):
    config = config_with("dev", api=CAPTURE, training={"retrain": {"schedule": expression}})
    assert config.training.retrain.schedule == expression


@pytest.mark.parametrize(
    "retrain, message",
    [
        ({"schedule": "every monday"}, "'every monday' is not an EventBridge schedule expression; use e.g. rate(7"),
        ({"schedule": "rate(7 day)"}, "'rate(7 day)': EventBridge wants rate(7 days)"),
        ({"schedule": "rate(1 days)"}, "'rate(1 days)': EventBridge wants rate(1 day)"),
        ({"schedule": "rate(0 hours)"}, "the rate must be at least 1"),
        ({"schedule": "rate(2 weeks)"}, "is not an EventBridge schedule expression"),
        ({"schedule": "cron(0 3 ? * MON)"}, "has 5 fields; cron takes 6: minutes hours day-of-month month"),
        ({"schedule": "cron(0 3 * * MON *)"}, "exactly one of day-of-month (*) and day-of-week (MON) must be ?"),
        ({"schedule": "cron(0 3 ? * ? *)"}, "exactly one of day-of-month (?) and day-of-week (?) must be ?"),
        ({"schedule": "cron(0 3am ? * MON *)"}, "'3am' is not a valid hours field"),
        ({"min_interval_hours": 0}, "training.retrain.min_interval_hours: Input should be greater than or equal to 1"),
        ({"min_new_labels": -1}, "training.retrain.min_new_labels: Input should be greater than or equal to 0"),
        ({"on_alarm": True}, "training.retrain.on_alarm: unknown key"),
    ],
)
def test_a_bad_retrain_setting_stops_synth_naming_its_key(tmp_path, retrain, message):
    with pytest.raises(ConfigError) as err:
        load_config("dev", write_env(tmp_path, "dev", training={"retrain": retrain}))
    assert message in str(err.value) and "dev.json" in str(err.value)
    assert "training.retrain" in str(err.value)


def test_the_alarms_that_retrain_are_quality_alarms_named_as_the_monitoring_stack_names_them():
    assert set(catalog.RETRAIN_ON) <= set(catalog.QUALITY_ALARMS)
    assert Names(load_config("prod")).retrain_alarms == ["golive-prod-online-accuracy", "golive-prod-label-share-drift"]


def test_the_cost_estimate_counts_the_trigger_alarm_only_with_retraining_on():
    off, on = config_with("dev", api=CAPTURE), config_with("dev", api=CAPTURE, training={"retrain": ON})
    assert monitoring_footprint(on)[0] == monitoring_footprint(off)[0] + 1


# retraining on new labels with capture off: no export ever holds a row, so no run would ever start
RETRAIN_WITHOUT_CAPTURE = (
    "training.retrain waits for training.retrain.min_new_labels ({n}) new labelled rows in the feedback exports, but "
    "api.capture_texts is false: only captured texts are exported, so retraining would never start; turn on "
    "api.capture_texts, or set training.retrain.min_new_labels to 0 to retrain whenever triggered (on the original "
    "data)"
)


@pytest.mark.parametrize("retrain", [ON, {"schedule": "rate(7 days)"}, {"on_alarms": True}])
def test_retraining_on_new_labels_without_captured_texts_is_a_config_error_naming_both_fixes(tmp_path, retrain):
    with pytest.raises(ConfigError) as err:
        load_config("dev", write_env(tmp_path, "dev", training={"retrain": retrain}))
    n = retrain.get("min_new_labels", RetrainSettings().min_new_labels)
    assert str(err.value) == f"{tmp_path / 'dev.json'} has invalid values:\n  {RETRAIN_WITHOUT_CAPTURE.format(n=n)}"


@pytest.mark.parametrize(
    "api, retrain",
    [
        (CAPTURE, ON),  # exports fill up with captured, labelled texts
        ({}, {**ON, "min_new_labels": 0}),  # no minimum: each trigger retrains on the original data
        ({}, {"min_new_labels": 1000}),  # no schedule, no alarms: retraining is off, the minimum means nothing
    ],
)
def test_retraining_that_can_start_loads(tmp_path, api, retrain):
    config = load_config("dev", write_env(tmp_path, "dev", api=api, training={"retrain": retrain}))
    assert config.training.retrain.min_new_labels == retrain["min_new_labels"]


def test_golive_synth_and_cdk_synth_say_so_in_one_error_without_a_traceback(tmp_path, monkeypatch, capsys):
    """What `golive synth --env dev` and `npx cdk synth -c env=dev` (infra/cdk_entry.py) print for that dev.json."""
    import infra.config
    from cli.main import main
    from tests.conftest import REPO

    folder = write_env(tmp_path / "envs", "dev", training={"retrain": ON})
    expected = f"error: {folder / 'dev.json'} has invalid values:\n  {RETRAIN_WITHOUT_CAPTURE.format(n=1000)}\n"
    shipped_loader = infra.config.load_config
    monkeypatch.setattr(infra.config, "load_config", lambda env, **kw: shipped_loader(env, folder, **kw))
    assert main(["synth", "--env", "dev", "--out", str(tmp_path / "out")]) == 2
    out, err = capsys.readouterr()
    assert err == expected and "Traceback" not in out
    # the CDK CLI's app command, with the app reading that folder
    entry = (
        "import sys; from pathlib import Path; import infra.app, infra.config; "
        "infra.app.load_config = lambda env, **kw: infra.config.load_config(env, Path(sys.argv[1]), **kw); "
        "from infra.cdk_entry import main; sys.exit(main())"
    )
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({"env": "dev"}), "CDK_OUTDIR": str(tmp_path / "cdk.out")}
    env["PYTHONPATH"] = str(REPO)
    result = subprocess.run(
        [sys.executable, "-c", entry, str(folder)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert expected in result.stderr


# --- the construct alone ------------------------------------------------------------------------------------


def trigger_template(tmp_path: Path, retrain: dict) -> Template:
    stack = bare_stack(tmp_path)
    RetrainTrigger(
        stack,
        "Retrain",
        prefix="golive-dev",
        settings=RetrainSettings(**retrain),
        state_machine=sfn.StateMachine(
            stack, "Pipeline", definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "Train"))
        ),
        bucket=s3.Bucket(stack, "Data"),
        key=kms.Key(stack, "DataKey"),
        alarm_names=["golive-dev-online-accuracy", "golive-dev-label-share-drift"],
        logs_key=kms.Key(stack, "LogsKey"),
    )
    return Template.from_stack(stack)


def rules(template: Template) -> list[dict]:
    return [r["Properties"] for r in template.find_resources("AWS::Events::Rule").values()]


def test_a_schedule_alone_makes_one_scheduled_rule(tmp_path):
    template = trigger_template(tmp_path, {"schedule": "cron(0 3 ? * MON *)"})
    (rule,) = rules(template)
    assert rule["ScheduleExpression"] == "cron(0 3 ? * MON *)" and "EventPattern" not in rule
    assert rule["Name"] == "golive-dev-retrain-schedule"


def test_alarms_alone_make_one_rule_on_those_alarms_going_to_alarm(tmp_path):
    template = trigger_template(tmp_path, {"on_alarms": True})
    (rule,) = rules(template)
    assert "ScheduleExpression" not in rule
    assert rule["EventPattern"] == {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "detail": {
            "alarmName": ["golive-dev-online-accuracy", "golive-dev-label-share-drift"],
            "state": {"value": ["ALARM"]},
        },
    }


def test_the_construct_refuses_settings_that_trigger_nothing(tmp_path):
    with pytest.raises(ValueError, match="neither a schedule nor on_alarms"):
        trigger_template(tmp_path, {})


def test_a_failed_trigger_pages_through_the_training_alerts(tmp_path):
    stack = bare_stack(tmp_path)
    machine = sfn.StateMachine(
        stack, "Pipeline", definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "P"))
    )
    kit = AlarmKit(load_config("prod"), sns.Topic(stack, "Topic"))
    TrainingAlerts(stack, "Alerts", kit=kit, state_machine=machine, retrain_queue=sqs.Queue(stack, "Undelivered"))
    names = {
        r["Properties"]["AlarmName"]
        for r in Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm").values()
    }
    assert "golive-prod-undelivered-retrain-triggers" in names


# --- an environment with retraining on, synthesised and checked -----------------------------------------------


def synth_training(folder: Path, config: EnvironmentConfig) -> tuple[Path, dict[str, Template]]:
    """The data, alerts and training stacks as the app builds them, synthesised under all four cdk-nag packs."""
    context = {flag: True for flag in FEATURE_FLAGS}
    context.update({"@aws-cdk/core:defaultCrossStackReferences": "strong", "build_dir": str(folder / "build")})
    app = cdk.App(outdir=str(folder / "out"), context=context)
    env, prefix, image = cdk.Environment(region=config.region), Names(config).prefix, training_image_uri(config)
    data = DataStack(app, f"{prefix}-data", config=config, env=env, training_image_account=image.split(".")[0])
    alerts = AlertsStack(app, f"{prefix}-alerts", config=config, env=env)
    source = build_source_tarball(folder / "build" / "training-source.tar.gz")
    TrainingStack(app, f"{prefix}-training", config=config, data=data, env=env, training_image=image,
                  source_tarball=source, serving_image=None, logs_key=alerts.logs_key)  # fmt: skip
    add_checks(app, ["hipaa", "nist"])
    app.synth()  # raises on any unacknowledged cdk-nag finding
    stacks = [s for s in app.node.children if isinstance(s, cdk.Stack)]
    return folder / "out", {s.stack_name.removeprefix(f"{prefix}-"): Template.from_stack(s) for s in stacks}


@pytest.fixture(scope="module")
def retraining_on(tmp_path_factory) -> tuple[Path, dict[str, Template]]:
    config = config_with("dev", api=CAPTURE, training={"retrain": ON})
    return synth_training(tmp_path_factory.mktemp("retrain-on"), config)


def the_function(template: Template) -> tuple[str, dict]:
    ((function_id, function),) = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": "functions.retrain_trigger.handler.handler"}}
    ).items()
    return function_id, function["Properties"]


def test_the_schedule_and_the_alarms_invoke_the_function_and_what_fails_is_kept(retraining_on):
    _, templates = retraining_on
    training = templates["training"]
    function_id, _ = the_function(training)
    (queue_id,) = training.find_resources("AWS::SQS::Queue")
    by_name = {r["Name"]: r for r in rules(training)}
    assert set(by_name) == {"golive-dev-retrain-schedule", "golive-dev-retrain-on-alarm"}
    assert by_name["golive-dev-retrain-schedule"]["ScheduleExpression"] == "rate(7 days)"
    assert by_name["golive-dev-retrain-on-alarm"]["EventPattern"]["detail"]["alarmName"] == [
        "golive-dev-online-accuracy",
        "golive-dev-label-share-drift",
    ]
    for rule in by_name.values():
        (target,) = rule["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    permissions = [p["Properties"] for p in training.find_resources("AWS::Lambda::Permission").values()]
    assert sorted(p["Principal"] for p in permissions if p["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]}) == [
        "events.amazonaws.com",
        "events.amazonaws.com",
    ]


def test_the_function_gets_its_settings_and_ships_only_its_closure(retraining_on):
    outdir, templates = retraining_on
    _, function = the_function(templates["training"])
    (machine_id,) = templates["training"].find_resources("AWS::StepFunctions::StateMachine")
    variables = function["Environment"]["Variables"]
    assert variables[retraining.STATE_MACHINE_ARN] == {"Ref": machine_id}
    assert variables[retraining.MIN_INTERVAL_HOURS] == "48" and variables[retraining.MIN_NEW_LABELS] == "1000"
    assert "Fn::ImportValue" in variables[retraining.DATA_BUCKET]  # the data stack's bucket
    assert function["Runtime"] == "python3.13" and function["DeadLetterConfig"]
    asset = outdir / f"asset.{function['Code']['S3Key'].removesuffix('.zip')}"
    assert_ships_and_compiles(
        asset,
        [
            "functions/__init__.py",
            "functions/retrain_trigger/__init__.py",
            "functions/retrain_trigger/handler.py",
            "golive/__init__.py",
            "golive/contracts/__init__.py",
            "golive/contracts/feedback_exports.py",
            "golive/contracts/retraining.py",
        ],
    )


def test_the_function_may_start_this_pipeline_and_read_the_exports_only(retraining_on):
    _, templates = retraining_on
    training = templates["training"]
    (machine_id,) = training.find_resources("AWS::StepFunctions::StateMachine")
    (role_id,) = [k for k in training.find_resources("AWS::IAM::Role") if k.startswith("RetrainTrigger")]
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in training.find_resources("AWS::IAM::Policy").values()
        if p["Properties"]["Roles"] == [{"Ref": role_id}]
    ]
    by_action = {json.dumps(s["Action"]): s for s in policy}
    exports_bucket = {"Fn::ImportValue": "golive-dev-data-bucket-arn"}
    assert by_action['["states:ListExecutions", "states:StartExecution"]']["Resource"] == {"Ref": machine_id}
    executions = by_action['"states:DescribeExecution"']["Resource"]["Fn::Join"][1][-3:]  # its own, no other's
    assert executions == [":execution:", {"Fn::Select": [6, {"Fn::Split": [":", {"Ref": machine_id}]}]}, ":*"]
    listing = by_action['"s3:ListBucket"']
    assert listing["Resource"] == exports_bucket
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["feedback-exports/*"]}}
    assert by_action['"s3:GetObject"']["Resource"] == {"Fn::Join": ["", [exports_bucket, "/feedback-exports/*"]]}
    decrypt = by_action['"kms:Decrypt"']
    assert decrypt["Condition"]["StringEquals"]["kms:ViaService"] == {
        "Fn::Join": ["", ["s3.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]
    }
    allowed = {action for s in policy for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert allowed == {
        *("states:ListExecutions", "states:StartExecution", "states:DescribeExecution", "s3:ListBucket"),
        *("s3:GetObject", "kms:Decrypt", "logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage"),
        *("xray:PutTraceSegments", "xray:PutTelemetryRecords"),
    }
    assert templates["data"].find_outputs("*", {"Export": {"Name": "golive-dev-data-bucket-arn"}})


def test_cfn_lint_and_checkov_find_nothing_in_the_retraining_templates(retraining_on):
    outdir, _ = retraining_on
    templates = [str(p) for p in outdir.glob("*.template.json")]
    assert len(templates) == 3
    lint = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), *templates], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    report = scan(outdir)
    assert not report.failed, report.summary()


def test_with_retraining_off_the_training_stack_has_none_of_it(tmp_path):
    _, templates = synth_training(tmp_path, load_config("dev"))
    assert not templates["training"].find_resources("AWS::Events::Rule")
    assert not templates["training"].find_resources("AWS::Lambda::Function")
    assert not templates["data"].find_outputs("*", {"Export": {"Name": "golive-dev-data-bucket-arn"}})


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_shipped_environments_deploy_no_retraining(synthesized, env):
    templates = synthesized[env]
    assert not templates["training"].find_resources("AWS::Events::Rule")
    assert not templates["training"].find_resources("AWS::Lambda::Function")
    assert "golive-" + env + "-undelivered-retrain-triggers" not in json.dumps(templates["monitoring"].to_json())
