"""Data: S3 buckets for training data, model artifacts and captured endpoint traffic, and the key that encrypts
them (and the API stack's feedback table).

KMS-encrypted with one rotating key, TLS only, versioned, access-logged, never public, with lifecycle
rules. The buckets and their key outlive `cdk destroy` on purpose: data and models are not the
stack's to delete (empty and delete them by hand when you mean it).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.compliance import S3_ACCESS_LOGS, S3_KMS, S3_REPLICATION, accept
from infra.config import EnvironmentConfig
from infra.deployed import DATA_BUCKET_OUTPUT, DATA_KEY_OUTPUT, MODELS_BUCKET_OUTPUT, TRAINING_ROLE_OUTPUT
from infra.stacks.sagemaker_roles import SageMakerRoles
from infra.training_job import CLI_JOBS_PREFIX


class DataStack(cdk.Stack):
    def __init__(
        self, scope: Construct, construct_id: str, config: EnvironmentConfig, training_image_account: str, **kwargs
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        removal = cdk.RemovalPolicy.RETAIN
        self.key = kms.Key(
            self,
            "DataKey",
            enable_key_rotation=True,
            removal_policy=removal,
            description=f"golive {config.name}: data, models, captured traffic and the feedback table",
        )

        self.access_logs = self._access_log_bucket(removal)
        self._data_buckets(removal)
        for bucket in (self.access_logs, self.data, self.models, self.capture):
            accept(
                bucket,
                "versioned and retained on destroy; cross-region replication doubles storage and needs "
                "a bucket and key in a second region: add it when you need regional disaster recovery",
                *S3_REPLICATION,
            )

        cdk.CfnOutput(
            self,
            "TrainingDataUri",
            value=f"s3://{self.data.bucket_name}/train/",
            description="upload training files (TSV/CSV/JSONL) here before starting the training pipeline",
        )
        self.roles = SageMakerRoles(
            self,
            "SageMaker",
            key=self.key,
            data=self.data,
            models=self.models,
            capture=self.capture,
            training_image_account=training_image_account,
        )
        # what `golive train --sagemaker` launches a job with, read from a laptop (infra/deployed.py)
        for name, value in {
            DATA_BUCKET_OUTPUT: self.data.bucket_name,
            MODELS_BUCKET_OUTPUT: self.models.bucket_name,
            DATA_KEY_OUTPUT: self.key.key_arn,
            TRAINING_ROLE_OUTPUT: self.roles.training.role_arn,
        }.items():
            cdk.CfnOutput(self, name, value=value)

    def _access_log_bucket(self, removal: cdk.RemovalPolicy) -> s3.Bucket:
        """S3 server access logs can only be delivered to an SSE-S3 bucket, not an SSE-KMS one; delivery is
        granted by bucket policy (the app turns on @aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy), not ACLs."""
        bucket = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=removal,
            lifecycle_rules=[
                s3.LifecycleRule(expiration=cdk.Duration.days(365), noncurrent_version_expiration=cdk.Duration.days(30))
            ],
        )
        accept(bucket, "this is the access-log bucket; logging it into itself would loop", *S3_ACCESS_LOGS)
        accept(bucket, "S3 delivers server access logs only to SSE-S3 buckets, never to SSE-KMS ones", *S3_KMS)
        return bucket

    def _data_buckets(self, removal: cdk.RemovalPolicy) -> None:
        """`data` (training files), `models` (artifacts, spot checkpoints) and `capture` (endpoint traffic), each
        with its lifecycle."""
        self.data = self._bucket(
            "Data",
            "data/",
            removal,
            [
                s3.LifecycleRule(
                    noncurrent_version_expiration=cdk.Duration.days(90),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                ),
                # `golive train --sagemaker`'s copies of local files, made for one job
                s3.LifecycleRule(prefix=CLI_JOBS_PREFIX, expiration=cdk.Duration.days(30)),
            ],
        )
        self.models = self._bucket(
            "Models",
            "models/",
            removal,
            [
                s3.LifecycleRule(
                    noncurrent_version_expiration=cdk.Duration.days(90),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                ),
                # spot checkpoints are only needed until the job ends
                s3.LifecycleRule(prefix="checkpoints/", expiration=cdk.Duration.days(14)),
            ],
        )
        self.capture = self._bucket(
            "Capture",
            "capture/",
            removal,
            [
                s3.LifecycleRule(
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS, transition_after=cdk.Duration.days(30)
                        )
                    ],
                    expiration=cdk.Duration.days(365),
                    noncurrent_version_expiration=cdk.Duration.days(7),
                ),
            ],
        )

    def _bucket(
        self, name: str, log_prefix: str, removal: cdk.RemovalPolicy, rules: list[s3.LifecycleRule]
    ) -> s3.Bucket:
        return s3.Bucket(
            self,
            name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=log_prefix,
            lifecycle_rules=rules,
            removal_policy=removal,
        )
