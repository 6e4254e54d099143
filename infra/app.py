"""The CDK app: one stack per concern for one environment (`cdk synth -c env=dev`, or `golive synth`).

    alerts -> data -> inference (when the endpoint is enabled) -> training; data, inference -> api -> monitoring;
    alerts -> costs
    account (golive-account: API Gateway's account-wide logging role, shared by all environments) -> api

The inference stack builds the endpoint image (the only Docker asset) and the training pipeline registers
models with it, so training depends on inference and an environment without an endpoint needs no Docker.

Every resource carries the Project, Environment, Stage and CostCenter tags. cdk-nag's AwsSolutions and
Serverless packs check every synth, HIPAA and NIST 800-53 R5 on request (-c compliance=hipaa,nist); an
unacknowledged finding fails it (infra/compliance.py). staging and prod need -c alarm_email=... or
alarm_email in their file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import aws_cdk as cdk

from golive.errors import UserError
from golive.monitoring.conditions import Baseline
from infra.assets.imports import ROOT
from infra.assets.staging import build_dir
from infra.compliance import add_checks, optional_packs
from infra.config import EnvironmentConfig, load_config
from infra.naming import ACCOUNT_STACK, SHARED_ENVIRONMENT, Names, stage_tags
from infra.stacks.account_stack import AccountStack
from infra.stacks.alerts_stack import AlertsStack
from infra.stacks.api_stack import ApiStack
from infra.stacks.costs_stack import CostsStack
from infra.stacks.data_stack import DataStack
from infra.stacks.inference_stack import InferenceStack
from infra.stacks.monitoring_stack import MonitoringStack
from infra.stacks.training_stack import TrainingStack
from infra.training_job import training_image_uri

_Stack = TypeVar("_Stack", bound=cdk.Stack)

# CloudFormation takes no Tags on these (CDK would add them and cfn-lint rejects them): the scalable target
# costs nothing; a dashboard ($3/month) shows in the cost report as untagged spend
UNTAGGABLE = ("AWS::ApplicationAutoScaling::ScalableTarget", "AWS::CloudWatch::Dashboard")
FEATURE_FLAGS = ("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy",)


def model_dir(app: cdk.App) -> Path:
    return Path(app.node.try_get_context("model") or ROOT / "model_artifacts")


def lambda_package(app: cdk.App, config: EnvironmentConfig, progress: Callable[[str], None] | None = None) -> Path:
    """A prebuilt package (-c lambda_package=DIR), or one built now from the bundle (-c model=DIR)."""
    from infra.assets.lambda_package import build_lambda_package, is_lambda_package

    prebuilt = app.node.try_get_context("lambda_package")
    if prebuilt:
        if not is_lambda_package(Path(prebuilt)):
            raise UserError(
                f"{prebuilt} is not a Lambda package (no functions/lambda_handler.py in it); build one with "
                f"`golive package-lambda --out {prebuilt}`, or leave the option out to build it now"
            )
        return Path(prebuilt)
    variant = "int8" if config.api.backend == "onnx" else None
    dest = build_dir(app) / f"lambda-{config.name}"
    print(
        build_lambda_package(
            model_dir(app), dest, variant=variant, architecture=config.api.lambda_architecture, progress=progress
        ).summary()
    )
    return dest


def baseline(app: cdk.App) -> Baseline | None:
    """The quality alarms' baseline: the deploy-time bundle's validation-set figures."""
    from golive.bundle import read_manifest, read_metrics

    read_manifest(model_dir(app))  # a clear error when there is no bundle yet
    return read_metrics(model_dir(app)).baseline


def build_app(app: cdk.App | None = None, progress: Callable[[str], None] | None = None) -> cdk.App:
    """The app's stacks for the environment in context `env` (dev when unset); `progress` hears a line per stack."""
    from golive.bundle import read_manifest

    app = app or cdk.App()
    config = _configure(app)
    packs = optional_packs(app.node.try_get_context("compliance"))
    read_manifest(model_dir(app))  # every environment deploys the bundle: no bundle is a clear error before any work
    _Stacks(app, config, progress).build()
    add_checks(app, packs)
    return app


def _configure(app: cdk.App) -> EnvironmentConfig:
    """The environment's config, with the app's context set before any construct exists."""
    if app.node.try_get_context("env") == "":  # `-c env=` is a mistake, not a request for dev
        load_config("")  # raises ConfigError: unknown environment '', naming the known ones
    for flag in FEATURE_FLAGS:  # before any construct exists, whether or not cdk.json was read
        app.node.set_context(flag, True)
    # stacks import each other's outputs (bucket names, role ARNs): keep producers protected, explicitly
    app.node.set_context("@aws-cdk/core:defaultCrossStackReferences", "strong")
    return load_config(
        app.node.try_get_context("env") or "dev",
        for_deploy=True,
        overrides={"alarm_email": app.node.try_get_context("alarm_email")},
    )


class _Stacks:
    """One environment's stacks, each tagged with its stage as it is made (the order in the module docstring)."""

    def __init__(self, app: cdk.App, config: EnvironmentConfig, progress: Callable[[str], None] | None) -> None:
        self.app, self.config, self.progress = app, config, progress
        self.env = cdk.Environment(account=config.account, region=config.region)
        self.prefix = Names(config).prefix

    def tagged(self, stack: _Stack, stage: str, environment: str | None = None) -> _Stack:
        for key, value in stage_tags(self.config, stage, environment).items():
            cdk.Tags.of(stack).add(key, value, exclude_resource_types=list(UNTAGGABLE))
        if self.progress:
            self.progress(f"{stack.stack_name}: built")
        return stack

    def build(self) -> None:
        app, config, env, prefix = self.app, self.config, self.env, self.prefix
        training_image = training_image_uri(config)
        data = self.tagged(
            DataStack(
                app,
                Names(config).data_stack,
                config=config,
                env=env,
                training_image_account=training_image.split(".")[0],
            ),
            "data",
        )
        alerts = self.tagged(AlertsStack(app, f"{prefix}-alerts", config=config, env=env), "monitoring")
        account = self.tagged(AccountStack(app, ACCOUNT_STACK, env=env), "api", SHARED_ENVIRONMENT)
        self.tagged(
            CostsStack(
                app, f"{prefix}-costs", config=config, alert_topic=alerts.topic, logs_key=alerts.logs_key, env=env
            ),
            "monitoring",
        )
        inference = self.inference(data, alerts) if config.endpoint.enabled else None
        training = self.training(data, alerts, inference, training_image)
        api = self.api(data, alerts, account, inference)
        self.tagged(
            MonitoringStack(
                app,
                f"{prefix}-monitoring",
                config=config,
                alert_topic=alerts.topic,
                api=api,
                training=training,
                inference=inference,
                env=env,
                baseline=baseline(app),
            ),
            "monitoring",
        )

    def inference(self, data: DataStack, alerts: AlertsStack) -> InferenceStack:
        from golive.bundle import pack_tarball
        from infra.assets.endpoint_image import stage_image_context

        app, config = self.app, self.config
        return self.tagged(
            InferenceStack(
                app,
                f"{self.prefix}-inference",
                config=config,
                data=data,
                env=self.env,
                alert_topic=alerts.topic,
                model_tarball=pack_tarball(model_dir(app), build_dir(app) / f"model-{config.name}.tar.gz"),
                image_context=stage_image_context(build_dir(app) / "endpoint-image"),
            ),
            "inference",
        )

    def training(
        self, data: DataStack, alerts: AlertsStack, inference: InferenceStack | None, training_image: str
    ) -> TrainingStack:
        from infra.assets.training_source import build_source_tarball

        training = self.tagged(
            TrainingStack(
                self.app,
                f"{self.prefix}-training",
                config=self.config,
                data=data,
                env=self.env,
                training_image=training_image,
                source_tarball=build_source_tarball(build_dir(self.app) / "training-source.tar.gz"),
                serving_image=inference.endpoint_image.image_uri if inference else None,
                logs_key=alerts.logs_key,
            ),
            "training",
        )
        if inference is not None:  # the pipeline registers models with its image and promotes them to its endpoint
            training.add_stack_dependency(inference)
        return training

    def api(
        self, data: DataStack, alerts: AlertsStack, account: AccountStack, inference: InferenceStack | None
    ) -> ApiStack:
        config = self.config
        proxied = inference if config.api.backend == "sagemaker" else None  # config: it needs endpoint.enabled
        api = self.tagged(
            ApiStack(
                self.app,
                Names(config).api_stack,
                config=config,
                package_dir=lambda_package(self.app, config, self.progress),
                env=self.env,
                logs_key=alerts.logs_key,
                data=data,
                endpoint_name=proxied.endpoint_name if proxied else None,
                inference_component_name=proxied.inference_component_name if proxied else None,
            ),
            "api",
        )
        api.add_stack_dependency(account)  # its stage logs through the account's API Gateway role
        if config.api.backend == "sagemaker":
            assert proxied is not None  # config: the sagemaker backend needs endpoint.enabled
            api.add_stack_dependency(proxied)
        return api


def synthesize(app: cdk.App) -> cdk.cx_api.CloudAssembly:
    """Write the templates; cdk-nag findings that are not acknowledged fail it as a UserError naming the report."""
    try:
        return app.synth()
    except RuntimeError as exc:
        if "ValidationFailed" in str(exc):
            raise UserError(
                f"cdk-nag found unacknowledged problems; see {app.outdir}/validation-report.json. Fix "
                "them, or accept one on purpose with its reason (infra/compliance.py, accept)"
            ) from None
        raise
