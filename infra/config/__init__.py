"""Typed configuration per environment (dev, staging, prod), read from infra/environments/<env>.json.

Environments differ in numbers, not in shape: one model, three files. A wrong value stops synth with
the file, the key and what is allowed, before CDK builds anything.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from golive.contracts.alarms import MonitoringSettings
from golive.json_text import parse_json
from infra.config.api import COMMON_RULE_SET_RULES, ApiClient, ApiSettings, CognitoSettings, WafSettings
from infra.config.base import ConfigError, Strict
from infra.config.compute import GPUS_PER_INSTANCE, EndpointSettings, ServerlessSettings, TrainingSettings
from infra.config.retrain import RetrainSettings

__all__ = [
    "ALERTED_ENVIRONMENTS",
    "COMMON_RULE_SET_RULES",
    "ENVIRONMENTS_DIR",
    "GPUS_PER_INSTANCE",
    "ApiClient",
    "ApiSettings",
    "CognitoSettings",
    "ConfigError",
    "CostSettings",
    "EndpointSettings",
    "EnvironmentConfig",
    "MonitoringSettings",
    "RetrainSettings",
    "ServerlessSettings",
    "TrainingSettings",
    "WafSettings",
    "load_config",
    "require_alerts",
]

ENVIRONMENTS_DIR = Path(__file__).resolve().parents[1] / "environments"
# these environments page someone: synth refuses them without a real alarm_email
ALERTED_ENVIRONMENTS = ("staging", "prod")
# reserved for documentation and tests (RFC 2606, RFC 6761): mail sent there reaches nobody
RESERVED_EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "example", "test", "invalid", "localhost")


class CostSettings(Strict):
    # monthly budget per stage in USD; AWS Budgets alerts at 80% actual and 100% forecast
    monthly_budget_usd: dict[Literal["data", "training", "inference", "api", "monitoring"], float] = {
        "data": 20,
        "training": 200,
        "inference": 1000,
        "api": 50,
        "monitoring": 20,
    }
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


class EnvironmentConfig(Strict):
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
        assert info.field_name is not None  # a field validator always has its field
        pattern, problem = FIELD_PATTERNS[info.field_name]
        if value is not None and not re.fullmatch(pattern, value):
            raise ValueError(f"{value!r} {problem}")
        return value

    @field_validator("alarm_email")
    @classmethod
    def _deliverable(cls, value: str | None) -> str | None:
        domain = (value or "").rpartition("@")[2].lower()
        if any(domain == d or domain.endswith(f".{d}") for d in RESERVED_EMAIL_DOMAINS):
            raise ValueError(
                f"{value!r} is a reserved example domain: mail sent there reaches nobody; "
                "use your team's on-call address"
            )
        return value

    @property
    def api_wakes_endpoint(self) -> bool:
        """The API invokes an endpoint that scales to zero: it answers 503s while the endpoint wakes (ModelWakingUp)
        and measures each wake-up (WakeUpSeconds)."""
        return self.api.backend == "sagemaker" and self.endpoint.enabled and self.endpoint.scale_to_zero

    @model_validator(mode="after")
    def _backend_needs_endpoint(self) -> EnvironmentConfig:
        if self.api.backend == "sagemaker" and not self.endpoint.enabled:
            raise ValueError(
                "api.backend is 'sagemaker' but endpoint.enabled is false; enable the endpoint or "
                "serve in the Lambda with api.backend 'onnx'"
            )
        if self.endpoint.scale_to_zero and not self.endpoint.enabled:
            raise ValueError(
                "endpoint.scale_to_zero is true but endpoint.enabled is false: there is no endpoint to "
                "scale; enable the endpoint or remove scale_to_zero"
            )
        if self.api.wait_for_warmup_seconds and not (
            self.api.backend == "sagemaker" and self.endpoint.enabled and self.endpoint.scale_to_zero
        ):
            raise ValueError(
                "api.wait_for_warmup_seconds waits for a model endpoint that scales to zero: it needs "
                "api.backend 'sagemaker' and endpoint.scale_to_zero true; set it to 0 otherwise"
            )
        return self

    @model_validator(mode="after")
    def _retraining_can_start(self) -> EnvironmentConfig:
        """The retraining trigger waits for min_new_labels exported rows, and only captured texts are exported:
        without capture no export ever holds a row, so retraining would never start, and nothing would say why."""
        retrain = self.training.retrain
        if retrain.enabled and retrain.min_new_labels > 0 and not self.api.capture_texts:
            raise ValueError(
                f"training.retrain waits for training.retrain.min_new_labels ({retrain.min_new_labels}) new labelled "
                "rows in the feedback exports, but api.capture_texts is false: only captured texts are exported, so "
                "retraining would never start; turn on api.capture_texts, or set training.retrain.min_new_labels "
                "to 0 to retrain whenever triggered (on the original data)"
            )
        return self


def load_config(
    env: str, directory: Path = ENVIRONMENTS_DIR, overrides: dict | None = None, for_deploy: bool = False
) -> EnvironmentConfig:
    """The environment's settings; `overrides` (top-level keys, e.g. from `-c alarm_email=...`) win over
    the file. `for_deploy` also asks what a deployable environment needs (see `require_alerts`)."""
    path = Path(directory) / f"{env}.json"
    if not path.is_file():
        known = sorted(p.stem for p in Path(directory).glob("*.json"))
        raise ConfigError(f"unknown environment {env!r}: no {path}; known: {', '.join(known) or 'none'}")
    raw = _read_object(path)
    if "name" in raw and raw["name"] != env:  # a copied file would deploy (and alert, or not) as another environment
        raise ConfigError(f'{path} says name {json.dumps(raw["name"])}; it must be "{env}" (the file\'s name)')
    overrides = {key: value for key, value in (overrides or {}).items() if value is not None}
    source = f"{path}" + "".join(f" (with -c {key}={value})" for key, value in overrides.items())
    try:
        config = EnvironmentConfig.model_validate({**raw, **overrides})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown key (a typo?)"
            # a check across sections names its keys in its message
            problems.append(f"  {key}: {message}" if key else f"  {message}")
        raise ConfigError(f"{source} has invalid values:\n" + "\n".join(problems)) from None
    if for_deploy:
        require_alerts(config, path)
    return config


def _read_object(path: Path) -> dict:
    """The file's JSON object (UTF-8, a byte-order mark allowed, as some editors save it)."""
    try:
        raw = parse_json(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path} is not UTF-8 text (byte {exc.start} is {exc.object[exc.start : exc.start + 1]!r}); "
            "save it as UTF-8"
        ) from None
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f'{path} must be a JSON object ({{"name": "{path.stem}", ...}}), not {_json_kind(raw)}')
    return raw


def _json_kind(value: object) -> str:
    kinds = {list: "a list", str: "a string", bool: "true or false", int: "a number", float: "a number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def require_alerts(config: EnvironmentConfig, path: Path) -> None:
    """staging and prod page someone: their alarms and budgets must reach a real address."""
    if config.name in ALERTED_ENVIRONMENTS and not config.alarm_email:
        raise ConfigError(
            f"{path}: alarm_email is not set, so {config.name}'s alarms and budgets would notify nobody. Set "
            f'"alarm_email" in that file to your on-call address, or pass it at synth: '
            f"-c alarm_email=oncall@yourcompany.com (golive synth --alarm-email ...)"
        )
