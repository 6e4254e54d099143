"""The CDK app: one stack per concern for one environment (`cdk synth -c env=dev`, or `golive synth`).

cdk-nag's AwsSolutions pack checks every synth; an unacknowledged finding fails it.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.config import EnvironmentConfig, load_config
from infra.stacks.api_stack import ApiStack
from infra.stacks.data_stack import DataStack

ROOT = Path(__file__).resolve().parents[1]
FEATURE_FLAGS = ("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy",)


def lambda_package(app: cdk.App, config: EnvironmentConfig) -> Path:
    """A prebuilt package (-c lambda_package=DIR), or one built now from the bundle (-c model=DIR)."""
    prebuilt = app.node.try_get_context("lambda_package")
    if prebuilt:
        return Path(prebuilt)
    from golive.lambda_package import build_lambda_package

    model = Path(app.node.try_get_context("model") or ROOT / "model_artifacts")
    variant = "int8" if config.api.backend == "onnx" else None
    dest = ROOT / "build" / f"lambda-{config.name}"
    print(build_lambda_package(model, dest, variant=variant, architecture=config.api.lambda_architecture).summary())
    return dest


def build_app(app: cdk.App | None = None) -> cdk.App:
    app = app or cdk.App()
    for flag in FEATURE_FLAGS:  # before any construct exists, whether or not cdk.json was read
        app.node.set_context(flag, True)
    config = load_config(app.node.try_get_context("env") or "dev")
    env = cdk.Environment(account=config.account, region=config.region)
    prefix = f"golive-{config.name}"
    DataStack(app, f"{prefix}-data", config=config, env=env)
    ApiStack(app, f"{prefix}-api", config=config, package_dir=lambda_package(app, config), env=env,
             endpoint_name=f"{prefix}-endpoint" if config.api.backend == "sagemaker" else None)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


if __name__ == "__main__":
    build_app().synth()
