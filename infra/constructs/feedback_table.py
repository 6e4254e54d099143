"""The DynamoDB table of client feedback on predictions, keyed by the signed prediction id: on demand,
point-in-time recovery, and kept on `cdk destroy` unless the environment says otherwise (retain_feedback).

TTL on `expires_at`: the API's captured texts (api.capture_texts) carry it and DynamoDB deletes them after it;
feedback items have none, so they never expire."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from golive.contracts.feedback_table import TTL_ATTRIBUTE
from infra.constructs.inline import Inline


class FeedbackTable(Inline):
    def __init__(self, scope: Construct, construct_id: str, *, retain: bool) -> None:
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
            removal_policy=cdk.RemovalPolicy.RETAIN if retain else cdk.RemovalPolicy.DESTROY,
        )
