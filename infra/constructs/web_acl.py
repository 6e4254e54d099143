"""An AWS WAF web ACL on an API Gateway stage: AWS's core rule set, its known-bad-inputs rule set and a rate
limit per client IP, with CloudWatch metrics per rule and logs of the requests it blocked.

- The managed rule groups block what looks like an attack. API Gateway answers those 403s through its
  WAF_FILTERED gateway response (infra/constructs/gateway_responses.py), in the API's error shape. Rules of
  the core set named in `count_only_rules` only count: SizeRestrictions_BODY would block every body over
  8 KB, and the API takes up to 1 MB (WAF inspects a REST API body's first 8 KB only).
- The rate rule blocks a client IP that sent more than `rate_limit` requests in the last `rate_window_seconds`,
  with WAF's own custom response: 429, `Retry-After`, the API's error body. (A WAF custom response takes
  precedence over API Gateway's gateway responses.)
- Logs go to a KMS-encrypted log group (its name must start with aws-waf-logs-): blocked requests only, so
  normal traffic costs no log ingestion, and the API key and Authorization headers are redacted.
"""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.config import WafSettings

MANAGED_RULE_GROUPS = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet")
RATE_RULE = "RateLimitPerIp"
RATE_LIMITED_BODY = "rate_limited"
REDACTED_HEADERS = ("x-api-key", "authorization")


def rate_limited_body(settings: WafSettings) -> dict:
    """The rate rule's answer, in the API's error shape (`golive.client` reads its type and Retry-After)."""
    return {
        "error": {
            "type": "throttled",
            "message": (
                f"too many requests from this IP address: over {settings.rate_limit} in {settings.rate_window_seconds} s "
                "(the API's web application firewall); retry after Retry-After seconds"
            ),
        }
    }


class WebAcl(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        settings: WafSettings,
        stage_arn: str,
        logs_key: kms.IKey,
        retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.acl = wafv2.CfnWebACL(
            self,
            "Acl",
            name=name,
            scope="REGIONAL",
            description=f"{name}: AWS managed rules and a rate limit per IP",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            rules=_rules(name, settings),
            visibility_config=_visibility(name, "all"),
            custom_response_bodies={
                RATE_LIMITED_BODY: wafv2.CfnWebACL.CustomResponseBodyProperty(
                    content_type="APPLICATION_JSON", content=json.dumps(rate_limited_body(settings))
                )
            },
        )
        wafv2.CfnWebACLAssociation(self, "Association", resource_arn=stage_arn, web_acl_arn=self.acl.attr_arn)
        self._log_blocked(name, logs_key, retention)

    def _log_blocked(self, name: str, logs_key: kms.IKey, retention: logs.RetentionDays) -> None:
        """The blocked requests, their key and Authorization headers redacted, in an encrypted log group."""
        log_group_name = f"aws-waf-logs-{name}"
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=log_group_name,
            retention=retention,
            encryption_key=logs_key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        logging = wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.acl.attr_arn,
            # WAF takes the log group's ARN without the ":*" that CloudFormation's Arn attribute ends with
            log_destination_configs=[
                cdk.Stack.of(self).format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=log_group_name,
                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": header})
                for header in REDACTED_HEADERS
            ],
            # a JSON property: CloudFormation's own casing, passed through as written
            logging_filter={
                "DefaultBehavior": "DROP",
                "Filters": [
                    {
                        "Behavior": "KEEP",
                        "Requirement": "MEETS_ANY",
                        "Conditions": [{"ActionCondition": {"Action": "BLOCK"}}],
                    }
                ],
            },
        )
        logging.node.add_dependency(self.log_group)


def _visibility(name: str, metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=f"{name}-{metric}", sampled_requests_enabled=True
    )


def _rules(name: str, settings: WafSettings) -> list[wafv2.CfnWebACL.RuleProperty]:
    """The managed rule groups in order, then the rate rule."""
    rules = [_managed_rule(name, priority, group, settings) for priority, group in enumerate(MANAGED_RULE_GROUPS)]
    return [*rules, _rate_rule(name, len(rules), settings)]


def _managed_rule(name: str, priority: int, group: str, settings: WafSettings) -> wafv2.CfnWebACL.RuleProperty:
    counted = settings.count_only_rules if group == "AWSManagedRulesCommonRuleSet" else []
    return wafv2.CfnWebACL.RuleProperty(
        name=group,
        priority=priority,
        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
        visibility_config=_visibility(name, group),
        statement=wafv2.CfnWebACL.StatementProperty(
            managed_rule_group_statement=(
                wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                    vendor_name="AWS",
                    name=group,
                    rule_action_overrides=[
                        wafv2.CfnWebACL.RuleActionOverrideProperty(
                            name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                        )
                        for rule in counted
                    ]
                    or None,
                )
            )
        ),
    )


def _rate_rule(name: str, priority: int, settings: WafSettings) -> wafv2.CfnWebACL.RuleProperty:
    """Blocks an IP over the rate limit with WAF's own 429, Retry-After and the API's error body."""
    return wafv2.CfnWebACL.RuleProperty(
        name=RATE_RULE,
        priority=priority,
        visibility_config=_visibility(name, RATE_RULE),
        statement=wafv2.CfnWebACL.StatementProperty(
            rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                aggregate_key_type="IP",
                limit=settings.rate_limit,
                evaluation_window_sec=settings.rate_window_seconds,
            )
        ),
        action=wafv2.CfnWebACL.RuleActionProperty(
            block=wafv2.CfnWebACL.BlockActionProperty(
                custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                    response_code=429,
                    custom_response_body_key=RATE_LIMITED_BODY,
                    response_headers=[
                        wafv2.CfnWebACL.CustomHTTPHeaderProperty(
                            name="Retry-After", value=str(settings.rate_window_seconds)
                        )
                    ],
                )
            )
        ),
    )
