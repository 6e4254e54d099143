"""Compliance: checkov on the synthesised templates, cdk-nag's opt-in packs, and the defects they and a
real deployment found: API Gateway's account-wide logging role owned by one environment, and prod
alarms that e-mailed nobody."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

cdk = pytest.importorskip("aws_cdk")

from infra.app import build_app  # noqa: E402
from infra.assets.lambda_package import build_lambda_package  # noqa: E402
from infra.checkov import scan  # noqa: E402
from infra.compliance import ComplianceError, accept, optional_packs  # noqa: E402
from infra.config import ConfigError, load_config  # noqa: E402
from tests.conftest import ALARM_EMAIL, synth_context  # noqa: E402

# --- checkov ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_checkov_finds_nothing_that_is_not_fixed_or_accepted_with_a_reason(synthesized, env):
    report = scan(synthesized[env]["_outdir"])
    assert not report.failed, report.summary()
    assert report.passed > 100
    for finding in report.skipped:  # every skip written by infra.compliance.accept, with its reason
        assert finding.reason and finding.reason != "No comment provided", finding


def _tiny_template(tmp_path: Path, accepted: bool) -> Path:
    from aws_cdk import aws_logs as logs

    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Tiny")
    group = logs.LogGroup(stack, "Logs", removal_policy=cdk.RemovalPolicy.DESTROY)  # no KMS key: CKV_AWS_158
    if accepted:
        accept(group, "a test log group that holds nothing", "CKV_AWS_158")
    app.synth()
    return tmp_path


def test_checkov_fails_an_unexplained_finding_and_reads_the_reason_of_an_accepted_one(tmp_path):
    failed = scan(_tiny_template(tmp_path / "plain", accepted=False))
    assert [f.check_id for f in failed.failed] == ["CKV_AWS_158"]
    skipped = scan(_tiny_template(tmp_path / "accepted", accepted=True))
    assert not skipped.failed
    assert [(f.check_id, f.reason) for f in skipped.skipped] == [("CKV_AWS_158", "a test log group that holds nothing")]


def test_scan_of_a_folder_without_templates_is_a_clear_error(tmp_path):
    from infra.checkov import CheckovError

    with pytest.raises(CheckovError, match="no \\*.template.json"):
        scan(tmp_path)


# --- cdk-nag: the opt-in packs, and what an acceptance must say ----------------------------------------------------


@pytest.mark.slow
def test_prod_passes_the_hipaa_and_nist_packs(tiny_bundle, tmp_path):
    """dev under all four packs is checked by test_cdk_nag_fails_synth_on_an_unacknowledged_finding_of_every_pack."""
    package = tmp_path / "pkg"
    build_lambda_package(tiny_bundle, package, install=False)
    app = build_app(
        cdk.App(
            outdir=str(tmp_path / "out"),
            context=synth_context("prod", package, tiny_bundle, tmp_path / "build", compliance="hipaa,nist"),
        )
    )
    app.synth()  # raises ValidationFailed on any unacknowledged finding


def test_compliance_packs_are_named_clearly():
    assert optional_packs("hipaa, NIST") == ["hipaa", "nist"]
    assert optional_packs(None) == []
    with pytest.raises(ComplianceError, match="unknown compliance pack 'pci'.*hipaa, nist"):
        optional_packs("hipaa,pci")


def test_an_acceptance_names_its_rules_and_says_why():
    stack = cdk.Stack(cdk.App(), "Tiny")
    with pytest.raises(ValueError, match="say why"):
        accept(stack, "ok", "AwsSolutions-L1")
    with pytest.raises(ValueError, match="name the rules"):
        accept(stack, "a perfectly specific reason for nothing")
    with pytest.raises(ValueError, match="one CloudFormation resource"):
        accept(stack, "checkov reads skips from a resource's Metadata", "CKV_AWS_158")


def test_log_groups_are_kms_encrypted_and_prod_reserves_lambda_concurrency(synthesized):
    for env in ("dev", "prod"):
        groups = {
            f"{name}/{logical}": r["Properties"]
            for name, template in synthesized[env].items()
            if not name.startswith("_")
            for logical, r in template.find_resources("AWS::Logs::LogGroup").items()
        }
        # the API function, its access logs, the key-rotation function, the pipeline; dev (capture on, as the tests
        # synthesise it): the feedback export; prod: the WAF's blocked requests
        assert len(groups) == {"dev": 6, "prod": 6}[env] and all("KmsKeyId" in props for props in groups.values()), (
            groups
        )
        policy = json.dumps(synthesized[env]["alerts"].find_resources("AWS::KMS::Key"))
        assert "kms:EncryptionContext:aws:logs:arn" in policy
    api_function = {"Properties": {"Handler": "functions.lambda_handler.handler"}}
    (prod_fn,) = synthesized["prod"]["api"].find_resources("AWS::Lambda::Function", api_function).values()
    assert prod_fn["Properties"]["ReservedConcurrentExecutions"] == load_config("prod").api.reserved_concurrency == 100
    (dev_fn,) = synthesized["dev"]["api"].find_resources("AWS::Lambda::Function", api_function).values()
    assert "ReservedConcurrentExecutions" not in dev_fn["Properties"]  # a new account cannot reserve any


def test_training_alerts_eventbridge_cannot_deliver_are_kept_and_alarmed(synthesized):
    monitoring = synthesized["dev"]["monitoring"]
    ((queue_id, queue),) = monitoring.find_resources("AWS::SQS::Queue").items()
    assert "KmsMasterKeyId" in queue["Properties"]
    for rule in monitoring.find_resources("AWS::Events::Rule").values():
        assert rule["Properties"]["Targets"][0]["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    monitoring.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": "golive-dev-undelivered-alerts",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}],
        },
    )


# --- API Gateway's account-wide logging role ---------------------------------------------------------------------


def test_api_gateway_account_setting_belongs_to_no_environment(synthesized):
    """Destroying one environment must not delete the role every API in the region logs through."""
    for env in ("dev", "prod"):
        api = synthesized[env]["api"].to_json()["Resources"]
        assert not [r for r in api.values() if r["Type"] == "AWS::ApiGateway::Account"]
        roles = [r for r in api.values() if r["Type"] == "AWS::IAM::Role"]
        assert not [
            r for r in roles if "apigateway.amazonaws.com" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"])
        ]

        account = synthesized[env]["account"].to_json()["Resources"]
        (setting,) = [r for r in account.values() if r["Type"] == "AWS::ApiGateway::Account"]
        (role_id,) = [k for k, r in account.items() if r["Type"] == "AWS::IAM::Role"]
        assert setting["Properties"]["CloudWatchRoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
        assert setting["DeletionPolicy"] == account[role_id]["DeletionPolicy"] == "Retain"
        # its stage logs through that role: the account stack is deployed first
        manifest = json.loads((Path(synthesized[env]["_outdir"]) / "manifest.json").read_text())
        assert "golive-account" in manifest["artifacts"][f"golive-{env}-api"]["dependencies"]
    # one stack, the same from every environment: deploying dev then prod changes nothing
    dev, prod = (
        json.loads((Path(synthesized[env]["_outdir"]) / "golive-account.template.json").read_text())
        for env in ("dev", "prod")
    )
    assert dev == prod


# --- alarm_email --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_staging_and_prod_refuse_to_synth_without_an_alarm_email(env):
    assert load_config(env).alarm_email is None  # shipped unset: the user must choose
    with pytest.raises(ConfigError) as err:
        load_config(env, for_deploy=True)
    message = str(err.value)
    assert f"environments/{env}.json: alarm_email is not set" in message and "-c alarm_email=" in message
    config = load_config(env, overrides={"alarm_email": "oncall@acme-ml.io"}, for_deploy=True)
    assert config.alarm_email == "oncall@acme-ml.io"
    assert load_config("dev", for_deploy=True).alarm_email is None  # dev may page nobody


@pytest.mark.parametrize(
    "address",
    [
        "ml-oncall@example.com",
        "a@mail.example.org",
        "x@example.net",
        "ops@corp.test",
        "ops@nowhere.invalid",
        "root@box.localhost",
    ],
)
def test_reserved_example_domains_are_refused_as_alarm_email(tmp_path, address):
    (tmp_path / "prod.json").write_text(json.dumps({"name": "prod", "alarm_email": address}))
    with pytest.raises(ConfigError, match=r"prod.json has invalid values:\n  alarm_email: .*reserved example domain"):
        load_config("prod", tmp_path)
    with pytest.raises(ConfigError, match=rf"(?s)with -c alarm_email={re.escape(address)}.*reserved example domain"):
        load_config("dev", overrides={"alarm_email": address})


def test_golive_synth_of_prod_without_alarm_email_says_what_to_set(capsys, tmp_path):
    from cli.main import main

    assert main(["synth", "--env", "prod", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "prod.json: alarm_email is not set" in err and "--alarm-email" in err and "Traceback" not in err
    assert main(["synth", "--env", "dev", "--compliance", "pci"]) == 2
    assert "unknown compliance pack 'pci'" in capsys.readouterr().err


def test_cdk_synth_of_prod_without_alarm_email_is_one_clear_line(tmp_path):
    """What `npx cdk synth -c env=prod` runs (cdk.json: python -m infra.cdk_entry), with the context the CLI passes."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps({"env": "prod"}),
        "CDK_OUTDIR": str(tmp_path),
        "PYTHONPATH": str(REPO),
    }
    result = subprocess.run(
        [sys.executable, "-m", "infra.cdk_entry"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "error: " in result.stderr and "prod.json: alarm_email is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_prod_alarms_and_budgets_write_to_the_given_address(synthesized):
    subscribers = [
        s["Address"]
        for b in synthesized["prod"]["costs"].find_resources("AWS::Budgets::Budget").values()
        for n in b["Properties"]["NotificationsWithSubscribers"]
        for s in n["Subscribers"]
        if s["SubscriptionType"] == "EMAIL"
    ]
    assert subscribers and set(subscribers) == {ALARM_EMAIL}
