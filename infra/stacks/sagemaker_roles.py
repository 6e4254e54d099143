"""The roles SageMaker assumes: one for training jobs, one for endpoint models.

They live in the data stack, beside the buckets and key they reach, so their S3 statements name the
buckets directly (no cross-stack imports) and each prefix wildcard is acknowledged by its exact
cdk-nag finding. Actions are spelled out: no `s3:*`-style grants.
"""

from __future__ import annotations

from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from golive.contracts.feedback_exports import EVAL_PREFIX, EXPORT_PREFIX
from infra.compliance import INLINE_POLICY, accept
from infra.training_job import CLI_JOBS_PREFIX

CDK_QUALIFIER = "hnb659fds"  # the default bootstrap qualifier: where `cdk deploy` puts file and image assets
TRAINING_IMAGE_REPOSITORY = "pytorch-training"


def acknowledge_iam5(construct: IConstruct, findings: dict[str, str]) -> None:
    """Each wildcard cdk-nag's IAM5 finds in a role's policy, accepted with its own reason."""
    for finding, reason in findings.items():
        accept(construct, reason, f"AwsSolutions-IAM5[{finding}]")


class SageMakerRoles(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        data: s3.Bucket,
        models: s3.Bucket,
        capture: s3.Bucket,
        training_image_account: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self._stack, self._key = stack, key
        assets_bucket = f"arn:{stack.partition}:s3:::cdk-{CDK_QUALIFIER}-assets-{stack.account}-{stack.region}"

        self.training = self._training_role(data, models, assets_bucket, training_image_account)
        self.model = self._model_role(models, capture, assets_bucket)

        assets = (
            f"Resource::arn:<AWS::Partition>:s3:::cdk-{CDK_QUALIFIER}-assets-<AWS::AccountId>-{self._region_text()}/*"
        )
        acknowledge_iam5(
            self.training, {assets: "the training source tarball is a CDK file asset; asset keys are content hashes"}
        )
        acknowledge_iam5(
            self.model, {assets: "the first model.tar.gz is a CDK file asset; asset keys are content hashes"}
        )
        for role in (self.training, self.model):
            accept(
                role,
                "the role's own statements, each scoped to a bucket prefix, the key or a log group "
                "(tests assert it); a managed policy would hold the same statements",
                *INLINE_POLICY,
            )

    def _training_role(
        self, data: s3.Bucket, models: s3.Bucket, assets_bucket: str, training_image_account: str
    ) -> iam.Role:
        """Training jobs: read train/ data, the feedback exports, the evaluation set and the source, read the serving
        model (the champion: a training-output/ artefact) and write output and checkpoints, pull the training image."""
        role = iam.Role(
            self,
            "TrainingJob",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="golive training jobs: read train/ data and the source, write output and checkpoints",
        )
        self._read(role, data, "train/")
        self._read(role, data, CLI_JOBS_PREFIX)  # `golive train --sagemaker`: its source and local data
        self._write(role, models, "training-output/")
        self._read(role, models, "checkpoints/")
        self._write(role, models, "checkpoints/")
        for prefix in (EXPORT_PREFIX, EVAL_PREFIX):  # the feedback and eval channels
            self._read(role, data, prefix)
        self._read(role, models, "training-output/")  # the champion channel: the serving model's model.tar.gz
        role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[f"{assets_bucket}/*"]))
        self._pull(
            role,
            self._stack.format_arn(
                service="ecr",
                account=training_image_account,
                resource="repository",
                resource_name=TRAINING_IMAGE_REPOSITORY,
            ),
        )
        self._basics(role, "TrainingJobs")
        return role

    def _model_role(self, models: s3.Bucket, capture: s3.Bucket, assets_bucket: str) -> iam.Role:
        """Endpoint models: pull the serving image (a CDK asset), read model.tar.gz, write captured traffic."""
        stack = self._stack
        role = iam.Role(
            self,
            "Model",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="golive endpoint models: pull the serving image, read model.tar.gz, write captured traffic",
        )
        self._read(role, models, "training-output/")
        self._write(role, capture, "endpoint/")
        role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[f"{assets_bucket}/*"]))
        self._pull(
            role,
            stack.format_arn(
                service="ecr",
                resource="repository",
                resource_name=f"cdk-{CDK_QUALIFIER}-container-assets-{stack.account}-{stack.region}",
            ),
        )
        self._basics(role, "Endpoints")
        return role

    def _pull(self, role: iam.Role, repository_arn: str) -> None:
        """Pull images from one ECR repository (the login is in `_basics`)."""
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                resources=[repository_arn],
            )
        )

    def _region_text(self) -> str:
        region = self._stack.region
        return "<AWS::Region>" if cdk.Token.is_unresolved(region) else region

    def _arn_text(self, bucket: s3.Bucket) -> str:
        """How cdk-nag writes this bucket's ARN in a finding."""
        return (
            f"<{self._stack.resolve(self._stack.get_logical_id(cast(cdk.CfnResource, bucket.node.default_child)))}.Arn>"
        )

    def _read(self, role: iam.Role, bucket: s3.Bucket, prefix: str) -> None:
        role.add_to_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{prefix}*")])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
            )
        )
        role.add_to_policy(iam.PolicyStatement(actions=["kms:Decrypt"], resources=[self._key.key_arn]))
        acknowledge_iam5(role, {f"Resource::{self._arn_text(bucket)}/{prefix}*": f"objects under {prefix} only"})

    def _write(self, role: iam.Role, bucket: s3.Bucket, prefix: str) -> None:
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:AbortMultipartUpload"], resources=[bucket.arn_for_objects(f"{prefix}*")]
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[self._key.key_arn])
        )
        acknowledge_iam5(role, {f"Resource::{self._arn_text(bucket)}/{prefix}*": f"objects under {prefix} only"})

    def _basics(self, role: iam.Role, kind: str) -> None:
        """What every SageMaker job or endpoint needs: its log group, its metrics, an ECR login."""
        stack = self._stack
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=[
                    stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name=f"/aws/sagemaker/{kind}:*",
                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*"]}},
            )
        )
        role.add_to_policy(iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]))
        acknowledge_iam5(
            role,
            {
                f"Resource::arn:<AWS::Partition>:logs:{self._region_text()}:<AWS::AccountId>:log-group:/aws/sagemaker/{kind}:*": f"SageMaker writes one log stream per job or instance inside /aws/sagemaker/{kind}",
                "Resource::*": "cloudwatch:PutMetricData (held to SageMaker's namespaces by a condition) and "
                "ecr:GetAuthorizationToken take no resource ARN",
            },
        )
