"""The DynamoDB table of client feedback on predictions, keyed by the signed prediction id: on demand,
point-in-time recovery, encrypted with the environment's own KMS key (the data stack's: the captured texts are
data as much as the training files), and kept on `cdk destroy` unless the environment says otherwise
(retain_feedback). Whoever reads or writes it also needs that key (api_function.py, feedback_export.py).

TTL on `expires_at`: the API's captured texts (api.capture_texts) carry it and DynamoDB deletes them after it;
feedback items have none, so they never expire."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from golive.contracts.feedback_table import TTL_ATTRIBUTE
from infra.constructs.inline import Inline


class FeedbackTable(Inline):
    def __init__(self, scope: Construct, construct_id: str, *, retain: bool, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.TableV2(
            self,
            "Feedback",
            partition_key=dynamodb.Attribute(name="prediction_id", type=dynamodb.AttributeType.STRING),
            billing=dynamodb.Billing.on_demand(),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=TTL_ATTRIBUTE,
            encryption=dynamodb.TableEncryptionV2.customer_managed_key(key),
            removal_policy=cdk.RemovalPolicy.RETAIN if retain else cdk.RemovalPolicy.DESTROY,
        )
