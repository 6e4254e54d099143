"""Auth beyond one shared key: per-client API keys and usage plans, the opt-in IAM and Cognito authorizers and
the AWS WAF web ACL, each synthesised in a bare app under all four cdk-nag packs (any unacknowledged finding
fails synth), and the config combinations that are refused, with what they say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

cdk = pytest.importorskip("aws_cdk")
from aws_cdk import aws_kms as kms  # noqa: E402
from aws_cdk.assertions import Match, Template  # noqa: E402

from infra.app import FEATURE_FLAGS  # noqa: E402
from infra.compliance import add_checks  # noqa: E402
from infra.config import ApiClient, ConfigError, load_config  # noqa: E402
from infra.constructs.client_keys import ClientKeys, output_name  # noqa: E402
from infra.constructs.web_acl import WebAcl, rate_limited_body  # noqa: E402
from infra.stacks.api_stack import ApiStack  # noqa: E402
from infra.stacks.data_stack import DataStack  # noqa: E402

POOL_ARN = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_AbCdEf123"
# the keyless routes (functions/api/api_gateway.py: PUBLIC_ROUTES) and the two keyed {proxy+} methods
PUBLIC_METHODS = 4


def write_env(folder: Path, api: dict, name: str = "dev") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps({"name": name, "api": api}))
    return folder


def synth_api(tmp_path: Path, api: dict, remove: str | None = None) -> Template:
    """The API stack for a dev config with `api` settings, synthesised with every cdk-nag pack; `remove`: the path
    (below the stack) of a construct taken out before synth."""
    config = load_config("dev", write_env(tmp_path / "env", api))
    package = tmp_path / "package"
    package.mkdir(exist_ok=True)
    (package / "handler.py").write_text("")
    context = {flag: True for flag in FEATURE_FLAGS} | {"build_dir": str(tmp_path / "build")}
    app = cdk.App(outdir=str(tmp_path / "out"), context=context)
    region = cdk.Environment(region=config.region)  # the feedback table's key is named per region
    keys = cdk.Stack(app, "keys", env=region)
    logs_key = kms.Key(keys, "LogsKey", enable_key_rotation=True)
    data = DataStack(app, "data", config=config, training_image_account="763104351884", env=region)
    stack = ApiStack(app, "api", config=config, package_dir=package, logs_key=logs_key, data=data, env=region)
    if remove:
        *parents, child = remove.split("/")
        parent = stack
        for part in parents:
            parent = parent.node.find_child(part)
        assert parent.node.try_remove_child(child)
    add_checks(app, ["hipaa", "nist"])
    app.synth()
    return Template.from_stack(stack)


def assert_lint_clean(outdir: Path) -> None:
    """cfn-lint and checkov find nothing unaccepted in a synthesised variant (dev and prod: test_infra, test_compliance)."""
    import subprocess
    import sys

    from infra.checkov import scan

    lint = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), *map(str, outdir.glob("*.template.json"))],
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    report = scan(outdir)
    assert not report.failed, report.summary()


def methods(template: Template) -> dict[str, dict]:
    """Method properties by "VERB /path" (the path rebuilt from the template's resources)."""
    resources = template.find_resources("AWS::ApiGateway::Resource")

    def path(ref: dict | None) -> str:
        if not ref or "Ref" not in ref:
            return ""
        props = resources[ref["Ref"]]["Properties"]
        return path(props["ParentId"]) + "/" + props["PathPart"]

    return {
        f"{m['Properties']['HttpMethod']} {path(m['Properties']['ResourceId']) or '/'}": m["Properties"]
        for m in template.find_resources("AWS::ApiGateway::Method").values()
    }


# --- per-client keys --------------------------------------------------------------------------------------------


def test_each_client_gets_its_own_key_usage_plan_and_output_and_default_keeps_its_key(tmp_path):
    template = synth_api(
        tmp_path,
        {
            "throttle_rate_per_second": 10,
            "throttle_burst": 20,
            "quota_per_day": 10_000,
            "clients": [
                {"name": "default"},
                {"name": "mobile-app", "throttle_rate_per_second": 5, "quota_per_day": 500},
                {"name": "batch", "quota_per_day": None},
            ],
        },
    )
    keys = template.find_resources("AWS::ApiGateway::ApiKey")
    plans = {
        p["Properties"]["UsagePlanName"]: p for p in template.find_resources("AWS::ApiGateway::UsagePlan").values()
    }
    assert len(keys) == 3 and set(plans) == {"golive-dev-default", "golive-dev-mobile-app", "golive-dev-batch"}
    assert plans["golive-dev-default"]["Properties"]["Throttle"] == {"RateLimit": 10, "BurstLimit": 20}
    assert plans["golive-dev-default"]["Properties"]["Quota"] == {"Limit": 10_000, "Period": "DAY"}
    assert plans["golive-dev-mobile-app"]["Properties"]["Throttle"] == {"RateLimit": 5, "BurstLimit": 20}
    assert plans["golive-dev-mobile-app"]["Properties"]["Quota"] == {"Limit": 500, "Period": "DAY"}
    assert "Quota" not in plans["golive-dev-batch"]["Properties"]  # an explicit null: no quota for this client

    # every key in exactly one plan, each plan on the stage, and an output naming each key
    plan_ids = {
        name: logical
        for logical, p in template.find_resources("AWS::ApiGateway::UsagePlan").items()
        for name in [p["Properties"]["UsagePlanName"]]
    }
    links = {
        link["Properties"]["KeyId"]["Ref"]: link["Properties"]["UsagePlanId"]["Ref"]
        for link in template.find_resources("AWS::ApiGateway::UsagePlanKey").values()
    }
    assert set(links) == set(keys) and sorted(links.values()) == sorted(plan_ids.values())
    outputs = template.find_outputs("*")
    for client in ("default", "mobile-app", "batch"):
        key_ref = outputs[output_name(client)]["Value"]["Ref"]
        assert links[key_ref] == plan_ids[f"golive-dev-{client}"]
        assert repr(client) in outputs[output_name(client)]["Description"]
    assert output_name("mobile-app") == "ApiKeyIdMobileApp" and output_name("default") == "ApiKeyId"
    # earlier releases' single key: same logical id, same (absent) name, so a deploy keeps its value
    assert keys["ApiClientKey398C39A9"]["Properties"]["Description"] == "golive dev client key"
    assert "Name" not in keys["ApiClientKey398C39A9"]["Properties"]
    assert keys[outputs["ApiKeyIdMobileApp"]["Value"]["Ref"]]["Properties"]["Name"] == "golive-dev-mobile-app"


def test_client_keys_construct_in_a_bare_stack():
    from aws_cdk import aws_apigateway as apigw

    stack = cdk.Stack(cdk.App(), "bare")
    api = apigw.RestApi(stack, "Api", deploy_options=apigw.StageOptions(stage_name="dev"))
    api.root.add_method("GET", api_key_required=True)
    settings = load_config("dev").api.model_copy(update={"clients": [ApiClient(name="web")]})
    ClientKeys(stack, "Keys", api=api, settings=settings, environment="dev")
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::ApiGateway::ApiKey", 1)
    template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan",
        {"UsagePlanName": "golive-dev-web", "ApiStages": [Match.object_like({"Stage": Match.any_value()})]},
    )
    assert {o for o in template.find_outputs("*") if o.startswith("ApiKeyId")} == {
        "ApiKeyIdWeb"
    }  # no "default": no ApiKeyId


# --- authorizers ------------------------------------------------------------------------------------------------


def test_iam_authorizer_signs_every_keyed_method_and_ships_the_policy_clients_need(tmp_path):
    template = synth_api(tmp_path, {"authorizer": "iam"})
    found = methods(template)
    keyed = {route: m for route, m in found.items() if m.get("ApiKeyRequired")}
    assert set(keyed) == {"ANY /v1/{proxy+}", "ANY /{proxy+}"}
    assert all(m["AuthorizationType"] == "AWS_IAM" for m in keyed.values())
    public = {route: m for route, m in found.items() if not m.get("ApiKeyRequired")}
    assert set(public) == {"ANY /v1/health", "ANY /docs", "ANY /docs/assets/{name}", "ANY /openapi.json"}
    assert all(m["AuthorizationType"] == "NONE" for m in public.values())

    (policy,) = template.find_resources("AWS::IAM::ManagedPolicy").values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "execute-api:Invoke" and statement["Effect"] == "Allow"
    resource = json.dumps(statement["Resource"])
    assert ":execute-api:" in resource and "/dev/*/*" in resource  # this stage only
    assert "InvokePolicyArn" in template.find_outputs("*")
    variables = next(
        iter(
            template.find_resources(
                "AWS::Lambda::Function", {"Properties": {"Handler": "functions.lambda_handler.handler"}}
            ).values()
        )
    )["Properties"]["Environment"]["Variables"]
    assert variables["GOLIVE_AUTHORIZER"] == "iam" and variables["GOLIVE_API_KEY_REQUIRED"] == "true"
    assert_lint_clean(tmp_path / "out")


def test_cognito_authorizer_checks_the_pools_tokens_and_scopes(tmp_path):
    template = synth_api(
        tmp_path, {"authorizer": "cognito", "cognito": {"user_pool_arn": POOL_ARN, "scopes": ["golive/predict"]}}
    )
    ((authorizer_id, authorizer),) = template.find_resources("AWS::ApiGateway::Authorizer").items()
    assert authorizer["Properties"]["Type"] == "COGNITO_USER_POOLS"
    assert authorizer["Properties"]["ProviderARNs"] == [POOL_ARN]
    assert authorizer["Properties"]["IdentitySource"] == "method.request.header.Authorization"
    for route, method in methods(template).items():
        if method.get("ApiKeyRequired"):
            assert method["AuthorizationType"] == "COGNITO_USER_POOLS", route
            assert method["AuthorizerId"] == {"Ref": authorizer_id}
            assert method["AuthorizationScopes"] == ["golive/predict"]
        else:
            assert method["AuthorizationType"] == "NONE", route
    template.resource_count_is("AWS::IAM::ManagedPolicy", 0)
    assert_lint_clean(tmp_path / "out")


def test_no_authorizer_keeps_keys_alone(synthesized):
    for env in ("dev", "prod"):
        found = methods(synthesized[env]["api"])
        assert len(found) == PUBLIC_METHODS + 2
        assert all(m["AuthorizationType"] == "NONE" for m in found.values())
        assert [r for r, m in found.items() if m.get("ApiKeyRequired")] == ["ANY /v1/{proxy+}", "ANY /{proxy+}"]


# --- WAF --------------------------------------------------------------------------------------------------------


def test_prod_puts_a_web_acl_with_managed_rules_and_a_rate_limit_on_its_stage(synthesized):
    settings = load_config("prod").api.waf
    assert settings.enabled and not load_config("dev").api.waf.enabled
    api = synthesized["prod"]["api"]
    ((acl_id, acl),) = api.find_resources("AWS::WAFv2::WebACL").items()
    props = acl["Properties"]
    assert props["Scope"] == "REGIONAL" and props["DefaultAction"] == {"Allow": {}}
    rules = {rule["Name"]: rule for rule in props["Rules"]}
    assert set(rules) == {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "RateLimitPerIp"}
    common = rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    assert common["VendorName"] == "AWS"
    # bodies up to the API's 1 MB must pass: the 8 KB body-size rule only counts
    assert common["RuleActionOverrides"] == [{"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}]
    rate = rules["RateLimitPerIp"]
    assert rate["Statement"]["RateBasedStatement"] == {
        "AggregateKeyType": "IP",
        "Limit": settings.rate_limit,
        "EvaluationWindowSec": settings.rate_window_seconds,
    }
    response = rate["Action"]["Block"]["CustomResponse"]
    assert response["ResponseCode"] == 429
    assert response["ResponseHeaders"] == [{"Name": "Retry-After", "Value": str(settings.rate_window_seconds)}]
    body = props["CustomResponseBodies"][response["CustomResponseBodyKey"]]
    assert body["ContentType"] == "APPLICATION_JSON" and json.loads(body["Content"]) == rate_limited_body(settings)
    assert all(r["VisibilityConfig"]["CloudWatchMetricsEnabled"] for r in props["Rules"])

    (association,) = api.find_resources("AWS::WAFv2::WebACLAssociation").values()
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    (stage_id,) = api.find_resources("AWS::ApiGateway::Stage")
    assert {"Ref": stage_id} in association["Properties"]["ResourceArn"]["Fn::Join"][1]

    (logging,) = api.find_resources("AWS::WAFv2::LoggingConfiguration").values()
    logging = logging["Properties"]
    assert logging["ResourceArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    assert logging["LoggingFilter"]["DefaultBehavior"] == "DROP"  # blocked requests only
    assert {f["SingleHeader"]["Name"] for f in logging["RedactedFields"]} == {"x-api-key", "authorization"}
    group_name = json.dumps(logging["LogDestinationConfigs"]).split("log-group:")[1].split('"')[0]
    api.has_resource_properties("AWS::Logs::LogGroup", {"LogGroupName": group_name, "KmsKeyId": Match.any_value()})
    assert group_name.startswith("aws-waf-logs-")  # WAF logs only to groups named so
    assert not synthesized["dev"]["api"].find_resources("AWS::WAFv2::WebACL")


def test_with_waf_on_nothing_accepts_the_missing_waf_finding(tmp_path):
    """The web ACL's association is what satisfies AwsSolutions-APIG3 (and NIST's WAF rule): take it away and
    synth fails, so no acceptance is left standing where WAF is on."""
    synth_api(tmp_path / "on", {"waf": {"enabled": True}})
    with pytest.raises(Exception, match="ValidationFailed"):
        synth_api(
            tmp_path / "off", {"waf": {"enabled": True}}, remove="Default/WebAcl/Association"
        )  # in the RestApi unit
    report = json.loads((tmp_path / "off" / "out" / "validation-report.json").read_text())
    rules = {v["ruleName"] for plugin in report["pluginReports"] for v in plugin["violations"]}
    assert {"AwsSolutions-APIG3", "NIST.800.53.R5-APIGWAssociatedWithWAF"} <= rules


def test_nothing_accepts_an_unrotated_signing_key(tmp_path, synthesized):
    """The rotation schedule is what satisfies the rotation rules of every pack: without it synth fails."""
    with pytest.raises(Exception, match="ValidationFailed"):
        synth_api(tmp_path, {}, remove="ApiFunction/SigningKey/Default/Schedule")  # in the ApiFunction unit
    report = json.loads((tmp_path / "out" / "validation-report.json").read_text())
    rules = {v["ruleName"] for plugin in report["pluginReports"] for v in plugin["violations"]}
    assert {
        "AwsSolutions-SMG4",
        "HIPAA.Security-SecretsManagerRotationEnabled",
        "NIST.800.53.R5-SecretsManagerRotationEnabled",
    } <= rules
    for env in ("dev", "prod"):  # and checkov's rotation check (CKV2_AWS_57) runs unskipped
        (secret,) = synthesized[env]["api"].find_resources("AWS::SecretsManager::Secret").values()
        assert "CKV2_AWS_57" not in json.dumps(secret.get("Metadata", {}))


def test_web_acl_construct_in_a_bare_stack_counts_the_rules_it_is_told_to():
    stack = cdk.Stack(cdk.App(), "bare")
    settings = load_config("prod").api.waf.model_copy(
        update={"count_only_rules": ["SizeRestrictions_BODY", "CrossSiteScripting_BODY"]}
    )
    WebAcl(
        stack,
        "Waf",
        name="bare",
        settings=settings,
        logs_key=kms.Key(stack, "Key"),
        stage_arn="arn:aws:apigateway:us-east-1::/restapis/abc/stages/dev",
        retention=cdk.aws_logs.RetentionDays.ONE_WEEK,
    )
    acl = next(iter(Template.from_stack(stack).find_resources("AWS::WAFv2::WebACL").values()))
    overrides = acl["Properties"]["Rules"][0]["Statement"]["ManagedRuleGroupStatement"]["RuleActionOverrides"]
    assert [o["Name"] for o in overrides] == ["SizeRestrictions_BODY", "CrossSiteScripting_BODY"]


# --- the combinations that are refused ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "api,message",
    [
        ({"authorizer": "cognito"}, 'authorizer "cognito" needs "cognito": {"user_pool_arn"'),
        ({"authorizer": "iam", "cognito": {"user_pool_arn": POOL_ARN}}, "\"cognito\" is set but authorizer is 'iam'"),
        ({"authorizer": "jwt"}, "api.authorizer: Input should be 'none', 'iam' or 'cognito'"),
        (
            {"authorizer": "cognito", "cognito": {"user_pool_arn": "arn:aws:cognito-idp:us-east-1:1:pool/x"}},
            "api.cognito.user_pool_arn: String should match pattern",
        ),
        (
            {"authorizer": "cognito", "cognito": {"user_pool_arn": POOL_ARN, "scopes": ["golive predict"]}},
            "scopes are single words such as 'golive/predict'",
        ),
        ({"clients": []}, "api.clients: List should have at least 1 item"),
        ({"clients": [{"name": "web"}, {"name": "web"}]}, "clients: web listed more than once"),
        ({"clients": [{"name": "Mobile App"}]}, "api.clients.0.name: String should match pattern"),
        (
            {"clients": [{"name": "web", "throttle_rate_per_second": 500}]},
            "client 'web': throttle 500/s burst 100 is above the stage's 50/s burst 100",
        ),
        ({"clients": [{"name": "web", "quota": 5}]}, "api.clients.0.quota: unknown key"),
        (
            {"waf": {"enabled": True, "rate_limit": 5}},
            "api.waf.rate_limit: Input should be greater than or equal to 10",
        ),
        ({"waf": {"rate_window_seconds": 90}}, "api.waf.rate_window_seconds: Input should be 60, 120, 300 or 600"),
        (
            {"waf": {"count_only_rules": ["SizeRestrictions_Body"]}},
            "'SizeRestrictions_Body' is not a rule of AWSManagedRulesCommonRuleSet; did you mean 'SizeRestrictions_BODY'?",
        ),
        ({"signing_key_rotation_days": 0}, "api.signing_key_rotation_days: Input should be greater than or equal to 1"),
    ],
)
def test_an_invalid_auth_combination_fails_saying_what_to_change(tmp_path, api, message):
    with pytest.raises(ConfigError) as err:
        load_config("dev", write_env(tmp_path, api))
    assert message in str(err.value) and "dev.json" in str(err.value)
