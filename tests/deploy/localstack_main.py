"""Start LocalStack (host mode, no Docker) with the deploy check's emulator-only shims applied first.

Runs under LocalStack's own virtualenv (Python >= 3.12), not the project's: it imports nothing from golive.
Each shim stands in for something this machine cannot run; SHIMS (printed by the check) says why.
"""

from __future__ import annotations

SHIMS = {
    "lambda: DockerRuntimeExecutor.prepare_version is a no-op": "LocalStack prepares a function version by pulling the runtime's Docker image and downloading its "
    "runtime-init binary; there is no Docker engine and no internet here. Functions are created "
    "(code, role, configuration validated) but cannot be invoked.",
    "dynamodb: served by moto's DynamoDB backend (LocalStack's own in-process moto)": "LocalStack's DynamoDB provider runs DynamoDB Local, a Java jar it downloads on first use; there is "
    "no Java and no internet here. CloudFormation still creates the table through LocalStack's own "
    "AWS::DynamoDB::GlobalTable resource provider, against moto's DynamoDB.",
    "dynamodb: moto's table description gets a TableId": "DynamoDB returns TableId and LocalStack's GlobalTable provider reads it; moto leaves it out.",
}


def skip_lambda_image_preparation() -> None:
    from localstack.services.lambda_.invocation.docker_runtime_executor import DockerRuntimeExecutor

    DockerRuntimeExecutor.prepare_version = classmethod(lambda cls, function_version: None)


def dynamodb_on_moto() -> None:
    """Replace the `dynamodb:default` service plugin before the plugin manager resolves it."""
    from localstack.services import providers
    from localstack.services.plugins import Service, aws_provider

    @aws_provider(api="dynamodb")
    def dynamodb():
        from localstack.aws.api.dynamodb import DynamodbApi
        from localstack.services.moto import MotoFallbackDispatcher

        class MotoDynamoDB(DynamodbApi):
            """Every operation falls through to moto."""

        return Service.for_provider(MotoDynamoDB(), dispatch_table_factory=MotoFallbackDispatcher)

    providers.dynamodb = dynamodb

    import uuid

    from moto.dynamodb.models.table import Table

    describe = Table.describe

    def describe_with_table_id(self, base_key: str = "TableDescription") -> dict:
        result = describe(self, base_key)
        result[base_key].setdefault("TableId", str(uuid.uuid5(uuid.NAMESPACE_URL, self.table_arn)))
        return result

    Table.describe = describe_with_table_id


if __name__ == "__main__":
    import sys

    skip_lambda_image_preparation()
    dynamodb_on_moto()
    from localstack.runtime.main import main

    sys.exit(main())
