"""Typed configuration per environment (dev, staging, prod), read from infra/environments/<env>.json.

Environments differ in numbers, not in shape: one model, three files. A wrong value stops synth with
the file, the key and what is allowed, before CDK builds anything.
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from golive.contracts.alarms import MonitoringSettings
from golive.contracts.hyperparameters import hyperparameter_problems
from golive.errors import UserError

ENVIRONMENTS_DIR = Path(__file__).resolve().parent / "environments"
# these environments page someone: synth refuses them without a real alarm_email
ALERTED_ENVIRONMENTS = ("staging", "prod")
# reserved for documentation and tests (RFC 2606, RFC 6761): mail sent there reaches nobody
RESERVED_EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "example", "test", "invalid", "localhost")


def _sizes(family: str, gpus: dict[str, int]) -> dict[str, int]:
    return {f"{family}.{size}": count for size, count in gpus.items()}


# NVIDIA GPUs per SageMaker instance type (AWS's instance specifications): training switches torchrun on when a
# job has more than one GPU in all; ml.inf/ml.trn need Neuron builds we do not ship. A type missing here is
# refused with the list, so a new one is added here with its GPU count.
_G_SIZES = {"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "16xlarge": 1, "12xlarge": 4, "24xlarge": 4,
            "48xlarge": 8}
GPUS_PER_INSTANCE: dict[str, int] = {
    **_sizes("ml.g4dn", {"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "16xlarge": 1, "12xlarge": 4}),
    **_sizes("ml.g5", _G_SIZES), **_sizes("ml.g6", _G_SIZES), **_sizes("ml.g6e", _G_SIZES),
    **_sizes("ml.p3", {"2xlarge": 1, "8xlarge": 4, "16xlarge": 8}),
    "ml.p4d.24xlarge": 8, "ml.p4de.24xlarge": 8, "ml.p5.48xlarge": 8,
}


class ConfigError(UserError):
    pass


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _gpu_instance(value: str) -> str:
    if value not in GPUS_PER_INSTANCE:
        families = ", ".join(dict.fromkeys(t.rsplit(".", 1)[0] for t in GPUS_PER_INSTANCE))
        close = difflib.get_close_matches(value, GPUS_PER_INSTANCE, n=1, cutoff=0.9)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"{value!r} is not a SageMaker GPU instance type; {hint}use a size of the {families} "
                         "families, e.g. ml.g5.xlarge (a newer type: add it with its GPU count to GPUS_PER_INSTANCE "
                         "in infra/config.py)")
    return value


class TrainingSettings(_Strict):
    instance_type: str = "ml.g5.xlarge"
    instance_count: int = Field(1, ge=1, le=16)
    use_spot: bool = True
    max_run_hours: float = Field(4.0, gt=0, le=120)
    max_wait_hours: float = Field(8.0, gt=0, le=120)  # spot: how long to wait for capacity, run time included
    promote_min_accuracy: float = Field(0.85, ge=0, le=1)  # the new model reaches the endpoint only above this
    volume_size_gb: int = Field(30, ge=1, le=16_384)
    # the AWS PyTorch training image (resolved with the sagemaker SDK at synth) brings torch and CUDA
    pytorch_version: str = "2.10"
    py_version: str = "py313"
    hyperparameters: dict[str, str] = {"epochs": "3", "batch-size": "32"}  # `golive train` flags, without --

    _instance = field_validator("instance_type")(_gpu_instance)

    @field_validator("hyperparameters")
    @classmethod
    def _training_flags(cls, value: dict[str, str]) -> dict[str, str]:
        """Names and values `golive train` takes (golive.contracts.hyperparameters): checked here, not in the job."""
        problems = hyperparameter_problems(value)
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @property
    def gpus(self) -> int:
        """GPUs across the whole job."""
        return GPUS_PER_INSTANCE[self.instance_type] * self.instance_count

    @property
    def distributed(self) -> bool:
        """One training process per GPU (torchrun) whenever the job has more than one GPU, on one instance or many."""
        return self.gpus > 1

    @model_validator(mode="after")
    def _wait_covers_run(self) -> "TrainingSettings":
        if self.use_spot and self.max_wait_hours < self.max_run_hours:
            raise ValueError("max_wait_hours must be at least max_run_hours when use_spot is true")
        return self


class EndpointSettings(_Strict):
    enabled: bool = True  # false: no endpoint at all (cheapest dev); the API then serves in-Lambda ONNX
    instance_type: str = "ml.g5.xlarge"
    # at least 1: a real-time endpoint without inference components cannot scale to zero; to pay nothing
    # when idle, set enabled to false (dev does) and serve in the Lambda
    min_instances: int = Field(1, ge=1, le=20)
    max_instances: int = Field(2, ge=1, le=20)
    invocations_per_instance_target: int = Field(600, ge=1)  # per minute, for target tracking
    data_capture_percent: int = Field(100, ge=0, le=100)  # share of requests and responses kept in S3
    # blue/green: how long the new fleet takes traffic, watched by the rollback alarms, before the old goes
    bake_minutes: int = Field(10, ge=0, le=60)

    _instance = field_validator("instance_type")(_gpu_instance)

    @model_validator(mode="after")
    def _bounds(self) -> "EndpointSettings":
        if self.max_instances < self.min_instances:
            raise ValueError(f"max_instances ({self.max_instances}) is below min_instances ({self.min_instances})")
        return self


CLIENT_NAME = r"[a-z0-9]+(-[a-z0-9]+)*"
COGNITO_POOL_ARN = r"arn:aws[a-z-]*:cognito-idp:[a-z0-9-]+:\d{12}:userpool/[a-z0-9-]+_[A-Za-z0-9]+"
# the rules of AWS's managed core rule set (AWSManagedRulesCommonRuleSet), for waf.count_only_rules
COMMON_RULE_SET_RULES = (
    "NoUserAgent_HEADER", "UserAgent_BadBots_HEADER", "SizeRestrictions_QUERYSTRING", "SizeRestrictions_Cookie_HEADER",
    "SizeRestrictions_BODY", "SizeRestrictions_URIPATH", "EC2MetaDataSSRF_BODY", "EC2MetaDataSSRF_COOKIE",
    "EC2MetaDataSSRF_URIPATH", "EC2MetaDataSSRF_QUERYARGUMENTS", "GenericLFI_QUERYARGUMENTS", "GenericLFI_URIPATH",
    "GenericLFI_BODY", "RestrictedExtensions_URIPATH", "RestrictedExtensions_QUERYARGUMENTS",
    "GenericRFI_QUERYARGUMENTS", "GenericRFI_BODY", "GenericRFI_URIPATH", "CrossSiteScripting_COOKIE",
    "CrossSiteScripting_QUERYARGUMENTS", "CrossSiteScripting_BODY", "CrossSiteScripting_URIPATH")


class ApiClient(_Strict):
    """A client app: its own API key and usage plan. A limit left out is the environment's (api.*); an explicit
    `"quota_per_day": null` gives this client no quota."""

    name: str = Field(pattern=f"^{CLIENT_NAME}$", max_length=40)
    throttle_rate_per_second: float | None = Field(None, gt=0, le=10_000)
    throttle_burst: int | None = Field(None, ge=1, le=5_000)
    quota_per_day: int | None = Field(None, ge=1)

    def limits(self, api: "ApiSettings") -> tuple[float, int, int | None]:
        """(rate per second, burst, quota per day or None) for this client's usage plan."""
        quota = self.quota_per_day if "quota_per_day" in self.model_fields_set else api.quota_per_day
        return (self.throttle_rate_per_second or api.throttle_rate_per_second,
                self.throttle_burst or api.throttle_burst, quota)


class CognitoSettings(_Strict):
    """An existing Cognito user pool whose tokens the API accepts (api.authorizer "cognito")."""

    user_pool_arn: str = Field(pattern=f"^{COGNITO_POOL_ARN}$")
    # OAuth scopes an access token must carry (e.g. "golive/predict", a resource server's scope, for
    # machine-to-machine clients); empty: any ID token the pool issued
    scopes: list[str] = Field(default_factory=list)

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: list[str]) -> list[str]:
        bad = [s for s in value if not s or any(c.isspace() for c in s)]
        if bad:
            raise ValueError(f"scopes are single words such as 'golive/predict', not {bad}")
        return value


class WafSettings(_Strict):
    """An AWS WAF web ACL on the API stage: AWS's core and known-bad-inputs rule sets, and a rate limit per IP."""

    enabled: bool = False
    rate_limit: int = Field(2000, ge=10, le=2_000_000_000)  # requests per client IP per window; above: 429
    rate_window_seconds: Literal[60, 120, 300, 600] = 300
    # core rule set rules that only count (metrics, logs) instead of blocking. SizeRestrictions_BODY blocks bodies
    # over 8 KB, and the API takes up to 1 MB (64 texts); the app answers its own 413 over that.
    count_only_rules: list[str] = Field(default_factory=lambda: ["SizeRestrictions_BODY"])

    @field_validator("count_only_rules")
    @classmethod
    def _known_rules(cls, value: list[str]) -> list[str]:
        for rule in value:
            if rule not in COMMON_RULE_SET_RULES:
                close = difflib.get_close_matches(rule, COMMON_RULE_SET_RULES, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise ValueError(f"{rule!r} is not a rule of AWSManagedRulesCommonRuleSet; {hint}see COMMON_RULE_SET_RULES "
                                 "in infra/config.py")
        return value


class ApiSettings(_Strict):
    backend: Literal["onnx", "sagemaker"] = "onnx"
    lambda_memory_mb: int = Field(2048, ge=512, le=10240)
    lambda_architecture: Literal["x86_64", "arm64"] = "x86_64"
    throttle_rate_per_second: float = Field(50, gt=0, le=10_000)
    throttle_burst: int = Field(100, ge=1, le=5_000)
    quota_per_day: int | None = Field(100_000, ge=1)
    log_retention_days: Literal[7, 14, 30, 60, 90, 180, 365, 731] = 30
    # the most requests the function runs at once (Lambda reserved concurrency). None: it shares the account's
    # pool, the only choice on a new account (limit 10). A value needs the account's limit >= it + 100, since
    # AWS keeps 100 unreserved; above it, API Gateway answers 500 and the Lambda throttles alarm fires.
    reserved_concurrency: int | None = Field(None, ge=1, le=10_000)
    # one API key and usage plan per client app; the key of the client named "default" is the one existing
    # deploys already hand out (README: Auth)
    clients: list[ApiClient] = Field(default_factory=lambda: [ApiClient(name="default")], min_length=1)
    # who may call the keyed routes besides holding a key: "iam" (SigV4-signed requests of principals allowed
    # execute-api:Invoke) or "cognito" (tokens of the user pool in `cognito`)
    authorizer: Literal["none", "iam", "cognito"] = "none"
    cognito: CognitoSettings | None = None
    waf: WafSettings = WafSettings()
    # the prediction-id signing key rotates this often. Ids stay valid until the second rotation after they were
    # issued, and a warm Lambda instance keeps signing with the key it started with: so at most daily.
    signing_key_rotation_days: int = Field(30, ge=1, le=365)

    @model_validator(mode="after")
    def _consistent(self) -> "ApiSettings":
        names = [client.name for client in self.clients]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"clients: {', '.join(repeated)} listed more than once; each client needs its own name")
        for client in self.clients:
            rate, burst, _ = client.limits(self)
            if rate > self.throttle_rate_per_second or burst > self.throttle_burst:
                raise ValueError(
                    f"client {client.name!r}: throttle {rate:g}/s burst {burst} is above the stage's "
                    f"{self.throttle_rate_per_second:g}/s burst {self.throttle_burst}, which caps every client; raise "
                    "api.throttle_rate_per_second/throttle_burst too, or lower the client's")
        if self.authorizer == "cognito" and self.cognito is None:
            raise ValueError('authorizer "cognito" needs "cognito": {"user_pool_arn": "arn:aws:cognito-idp:...:'
                             'userpool/..."}, the user pool whose tokens the API accepts')
        if self.cognito is not None and self.authorizer != "cognito":
            raise ValueError(f'"cognito" is set but authorizer is {self.authorizer!r}; set authorizer to "cognito" to '
                             "use the user pool, or remove the cognito block")
        return self


class CostSettings(_Strict):
    # monthly budget per stage in USD; AWS Budgets alerts at 80% actual and 100% forecast
    monthly_budget_usd: dict[Literal["data", "training", "inference", "api", "monitoring"], float] = {
        "data": 20, "training": 200, "inference": 1000, "api": 50, "monitoring": 20}
    anomaly_threshold_usd: float = Field(50, gt=0)  # anomaly alerts above this total impact

    @field_validator("monthly_budget_usd")
    @classmethod
    def _positive(cls, value: dict) -> dict:
        bad = [stage for stage, amount in value.items() if amount <= 0]
        if bad:
            raise ValueError(f"budgets must be above 0 USD (not for {', '.join(bad)})")
        return value


# string fields checked by shape: the pattern, and what the value is not when it fails
FIELD_PATTERNS = {
    "account": (r"\d{12}", "is not a 12-digit AWS account id"),
    "region": (r"[a-z]{2}(-gov)?-[a-z]+-\d", "is not an AWS region name such as us-east-1"),
    "alarm_email": (r"[^@\s]+@[^@\s]+\.[^@\s]+", "is not an e-mail address"),
}


class EnvironmentConfig(_Strict):
    name: Literal["dev", "staging", "prod"]
    account: str | None = None  # None: the CLI's default account at deploy time (synth works without one)
    region: str = "us-east-1"
    cost_center: str = "ml-platform"
    alarm_email: str | None = None
    retain_feedback: bool = True  # the feedback table outlives `cdk destroy` (data buckets always do)
    training: TrainingSettings = TrainingSettings()
    endpoint: EndpointSettings = EndpointSettings()
    api: ApiSettings = ApiSettings()
    costs: CostSettings = CostSettings()
    monitoring: MonitoringSettings = MonitoringSettings()

    @field_validator(*FIELD_PATTERNS)
    @classmethod
    def _matches_pattern(cls, value: str | None, info: ValidationInfo) -> str | None:
        pattern, problem = FIELD_PATTERNS[info.field_name]
        if value is not None and not re.fullmatch(pattern, value):
            raise ValueError(f"{value!r} {problem}")
        return value

    @field_validator("alarm_email")
    @classmethod
    def _deliverable(cls, value: str | None) -> str | None:
        domain = (value or "").rpartition("@")[2].lower()
        if any(domain == d or domain.endswith(f".{d}") for d in RESERVED_EMAIL_DOMAINS):
            raise ValueError(f"{value!r} is a reserved example domain: mail sent there reaches nobody; "
                             "use your team's on-call address")
        return value

    @model_validator(mode="after")
    def _backend_needs_endpoint(self) -> "EnvironmentConfig":
        if self.api.backend == "sagemaker" and not self.endpoint.enabled:
            raise ValueError("api.backend is 'sagemaker' but endpoint.enabled is false; enable the endpoint or "
                             "serve in the Lambda with api.backend 'onnx'")
        return self


def load_config(env: str, directory: Path = ENVIRONMENTS_DIR, overrides: dict | None = None,
                for_deploy: bool = False) -> EnvironmentConfig:
    """The environment's settings; `overrides` (top-level keys, e.g. from `-c alarm_email=...`) win over
    the file. `for_deploy` also asks what a deployable environment needs (see `require_alerts`)."""
    path = Path(directory) / f"{env}.json"
    if not path.is_file():
        known = sorted(p.stem for p in Path(directory).glob("*.json"))
        raise ConfigError(f"unknown environment {env!r}: no {path}; known: {', '.join(known) or 'none'}")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
    overrides = {key: value for key, value in (overrides or {}).items() if value is not None}
    source = f"{path}" + "".join(f" (with -c {key}={value})" for key, value in overrides.items())
    try:
        config = EnvironmentConfig.model_validate({**raw, **overrides})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown key (a typo?)"
            problems.append(f"  {key}: {message}")
        raise ConfigError(f"{source} has invalid values:\n" + "\n".join(problems)) from None
    if for_deploy:
        require_alerts(config, path)
    return config


def require_alerts(config: EnvironmentConfig, path: Path) -> None:
    """staging and prod page someone: their alarms and budgets must reach a real address."""
    if config.name in ALERTED_ENVIRONMENTS and not config.alarm_email:
        raise ConfigError(
            f"{path}: alarm_email is not set, so {config.name}'s alarms and budgets would notify nobody. Set "
            f'"alarm_email" in that file to your on-call address, or pass it at synth: '
            f"-c alarm_email=oncall@yourcompany.com (golive synth --alarm-email ...)")
