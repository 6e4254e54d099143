"""Compliance checks on the CDK app, and the one place where a finding is accepted on purpose.

cdk-nag checks every synth with its AwsSolutions and Serverless packs; the HIPAA Security and NIST
800-53 R5 packs run on request (`-c compliance=hipaa,nist`, or `golive synth --compliance hipaa,nist`).
checkov checks the synthesised templates (`python -m infra.checkov cdk.out`). An unacknowledged
cdk-nag finding fails synth; the test suite fails on any checkov finding without a skip.

A finding is either fixed in the stack or accepted with `accept(construct, reason, *rules)`, which
writes the reason where each checker reads it: a cdk-nag acknowledgement on the construct (and its
children) and, for checkov ids, a skip in the CloudFormation resource's `Metadata`. The same rule
often appears in several packs; the tuples below name one concern across all of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, ServerlessChecks
from constructs import IConstruct

from golive.errors import UserError

ALWAYS = {"AwsSolutions": AwsSolutionsChecks, "Serverless": ServerlessChecks}
OPTIONAL = {"hipaa": HIPAASecurityChecks, "nist": NIST80053R5Checks}
MIN_REASON_CHARS = 20  # a reason says why, for this resource; "not needed" is not one

# one concern, named by every pack that checks it (cdk-nag ids; checkov ids start with CKV_)
LAMBDA_DLQ = ("Serverless-LambdaDLQ", "HIPAA.Security-LambdaDLQ", "NIST.800.53.R5-LambdaDLQ", "CKV_AWS_116")
LAMBDA_IN_VPC = ("HIPAA.Security-LambdaInsideVPC", "NIST.800.53.R5-LambdaInsideVPC", "CKV_AWS_117")
LAMBDA_CONCURRENCY = ("HIPAA.Security-LambdaConcurrency", "NIST.800.53.R5-LambdaConcurrency", "CKV_AWS_115")
LAMBDA_ENV_KMS = ("CKV_AWS_173",)
LAMBDA_RUNTIME_NOT_NEWEST = ("AwsSolutions-L1", "Serverless-LambdaLatestVersion")
LAMBDA_TRACING = ("Serverless-LambdaTracing",)
INLINE_POLICY = ("HIPAA.Security-IAMNoInlinePolicy", "NIST.800.53.R5-IAMNoInlinePolicy")
S3_REPLICATION = ("HIPAA.Security-S3BucketReplicationEnabled", "NIST.800.53.R5-S3BucketReplicationEnabled")
S3_KMS = ("HIPAA.Security-S3DefaultEncryptionKMS", "NIST.800.53.R5-S3DefaultEncryptionKMS")
S3_ACCESS_LOGS = ("AwsSolutions-S1", "CKV_AWS_18")
API_CACHE = (
    "HIPAA.Security-APIGWCacheEnabledAndEncrypted",
    "NIST.800.53.R5-APIGWCacheEnabledAndEncrypted",
    "CKV_AWS_120",
)
API_CLIENT_CERT = ("HIPAA.Security-APIGWSSLEnabled", "NIST.800.53.R5-APIGWSSLEnabled")
API_WAF = ("AwsSolutions-APIG3", "NIST.800.53.R5-APIGWAssociatedWithWAF")
API_OPEN_ROUTE = ("CKV_AWS_59",)
ENDPOINT_KMS = (
    "HIPAA.Security-SageMakerEndpointConfigurationKMSKeyConfigured",
    "NIST.800.53.R5-SageMakerEndpointConfigurationKMSKeyConfigured",
)
SNS_REDRIVE = ("Serverless-SNSRedrivePolicy",)
SECRET_KMS = ("HIPAA.Security-SecretsManagerUsingKMSKey", "NIST.800.53.R5-SecretsManagerUsingKMSKey", "CKV_AWS_149")
QUEUE_DLQ = ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy")


class ComplianceError(UserError):
    pass


def optional_packs(value: str | Iterable[str] | None) -> list[str]:
    """`hipaa,nist` (or a list) from -c compliance=...; an unknown name is a clear error."""
    if not value:
        return []
    names = [n.strip().lower() for n in (value.split(",") if isinstance(value, str) else value) if n.strip()]
    unknown = [n for n in names if n not in OPTIONAL]
    if unknown:
        raise ComplianceError(
            f"unknown compliance pack {', '.join(map(repr, unknown))}: use any of "
            f"{', '.join(OPTIONAL)} (e.g. -c compliance=hipaa,nist)"
        )
    return list(dict.fromkeys(names))


def add_checks(app: cdk.App, optional: Iterable[str] = ()) -> None:
    """AwsSolutions and Serverless always, plus the optional packs named (see `optional_packs`)."""
    packs = [*ALWAYS.values(), *(OPTIONAL[name] for name in optional)]
    cdk.Validations.of(app).add_plugins(*(pack(app) for pack in packs))


def accept(construct: IConstruct, reason: str, *rules: str) -> None:
    """Accept `rules` on `construct` (and what it contains) for `reason`: cdk-nag ids such as
    `Serverless-LambdaDLQ` or `AwsSolutions-IAM5[Resource::*]`, and checkov ids such as `CKV_AWS_116`."""
    if len(reason.strip()) < MIN_REASON_CHARS:
        raise ValueError(f"say why {', '.join(rules)} is accepted on {construct.node.path}, specifically: {reason!r}")
    if not rules:
        raise ValueError(f"name the rules accepted on {construct.node.path}")
    for rule in rules:
        if rule.startswith("CKV"):
            _skip_checkov(construct, rule, reason)
        else:
            cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))


def _skip_checkov(construct: IConstruct, rule: str, reason: str) -> None:
    """checkov reads skips from the resource's Metadata: {"checkov": {"skip": [{"id", "comment"}]}}."""
    resource = construct if isinstance(construct, cdk.CfnResource) else construct.node.default_child
    if not isinstance(resource, cdk.CfnResource):
        raise ValueError(f"checkov skips go on one CloudFormation resource; {construct.node.path} is not one")
    metadata = resource.get_metadata("checkov") or {"skip": []}
    metadata["skip"] = [*metadata["skip"], {"id": rule, "comment": reason}]
    resource.add_metadata("checkov", metadata)


def finding_text(value: Any) -> str:
    """A CloudFormation value (an ARN with references, as a template holds it) the way cdk-nag writes it in a
    finding's id, e.g. `<DataBucket1234.Arn>/train/*`: cdk-nag's own flattenCfnReference, in Python."""
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Fn::Join":
            return argument[0].join(finding_text(item) for item in argument[1])
        if function in ("Fn::Sub", "Fn::ImportValue"):
            return finding_text(argument)
        if function == "Fn::GetAtt":
            return f"<{finding_text(argument[0])}.{finding_text(argument[1])}>"
        if function == "Ref":
            return f"<{finding_text(argument)}>"
    return json.dumps(value, separators=(",", ":"))
