"""The API's settings: the Lambda, API Gateway's throttles and quotas, its clients, authorizer and WAF."""

from __future__ import annotations

import difflib
from typing import Literal

from pydantic import Field, field_validator, model_validator

from infra.config.base import Strict

# the API function's timeout, below API Gateway's 29 s integration timeout, so the client sees our error body
LAMBDA_TIMEOUT_S = 28
# what a request needs besides waiting for a model to wake up: one endpoint round trip and the answer
REQUEST_BUDGET_S = 3
CLIENT_NAME = r"[a-z0-9]+(-[a-z0-9]+)*"
COGNITO_POOL_ARN = r"arn:aws[a-z-]*:cognito-idp:[a-z0-9-]+:\d{12}:userpool/[a-z0-9-]+_[A-Za-z0-9]+"
# the rules of AWS's managed core rule set (AWSManagedRulesCommonRuleSet), for waf.count_only_rules
COMMON_RULE_SET_RULES = (
    "NoUserAgent_HEADER",
    "UserAgent_BadBots_HEADER",
    "SizeRestrictions_QUERYSTRING",
    "SizeRestrictions_Cookie_HEADER",
    "SizeRestrictions_BODY",
    "SizeRestrictions_URIPATH",
    "EC2MetaDataSSRF_BODY",
    "EC2MetaDataSSRF_COOKIE",
    "EC2MetaDataSSRF_URIPATH",
    "EC2MetaDataSSRF_QUERYARGUMENTS",
    "GenericLFI_QUERYARGUMENTS",
    "GenericLFI_URIPATH",
    "GenericLFI_BODY",
    "RestrictedExtensions_URIPATH",
    "RestrictedExtensions_QUERYARGUMENTS",
    "GenericRFI_QUERYARGUMENTS",
    "GenericRFI_BODY",
    "GenericRFI_URIPATH",
    "CrossSiteScripting_COOKIE",
    "CrossSiteScripting_QUERYARGUMENTS",
    "CrossSiteScripting_BODY",
    "CrossSiteScripting_URIPATH",
)


class ApiClient(Strict):
    """A client app: its own API key and usage plan. A limit left out is the environment's (api.*); an explicit
    `"quota_per_day": null` gives this client no quota."""

    name: str = Field(pattern=f"^{CLIENT_NAME}$", max_length=40)
    throttle_rate_per_second: float | None = Field(None, gt=0, le=10_000)
    throttle_burst: int | None = Field(None, ge=1, le=5_000)
    quota_per_day: int | None = Field(None, ge=1)

    def limits(self, api: ApiSettings) -> tuple[float, int, int | None]:
        """(rate per second, burst, quota per day or None) for this client's usage plan."""
        quota = self.quota_per_day if "quota_per_day" in self.model_fields_set else api.quota_per_day
        return (
            self.throttle_rate_per_second or api.throttle_rate_per_second,
            self.throttle_burst or api.throttle_burst,
            quota,
        )


class CognitoSettings(Strict):
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


class WafSettings(Strict):
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
                raise ValueError(
                    f"{rule!r} is not a rule of AWSManagedRulesCommonRuleSet; {hint}see COMMON_RULE_SET_RULES "
                    "in infra/config/api.py"
                )
        return value


class ApiSettings(Strict):
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
    # sagemaker backend on a scale_to_zero endpoint: how long a request that finds the model asleep waits and retries
    # before answering 503 + Retry-After (functions/api/warmup.py); 0: answer 503 at once
    wait_for_warmup_seconds: float = Field(0, ge=0)
    # Lambda SnapStart (a published version and an alias behind API Gateway). Off by default: at this function's
    # size a snapshot's cache and restores cost more than the on-demand init they replace (`golive costs
    # estimate` prices both); turn it on for lower cold-start latency
    snapstart: bool = False
    # keep each prediction's text, redacted (golive/redaction.py), in the feedback table for capture_ttl_days, so
    # feedback can become training data (functions/api/capture.py; DynamoDB's TTL on `expires_at` deletes them).
    # Off by default: even redacted, texts are users' data (names, for one, are not redacted)
    capture_texts: bool = False
    capture_ttl_days: int = Field(30, ge=1, le=3650)

    @field_validator("wait_for_warmup_seconds")
    @classmethod
    def _within_timeout(cls, value: float) -> float:
        longest = LAMBDA_TIMEOUT_S - REQUEST_BUDGET_S
        if value > longest:
            raise ValueError(
                f"{value:g} s is too long for the API function's {LAMBDA_TIMEOUT_S} s timeout (API "
                f"Gateway gives up at 29 s): at most {longest} s, leaving {REQUEST_BUDGET_S} s to answer"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ApiSettings:
        if not self.capture_texts and self.capture_ttl_days != type(self).model_fields["capture_ttl_days"].default:
            raise ValueError(
                f"capture_ttl_days ({self.capture_ttl_days}) keeps captured texts, but capture_texts is false: set "
                "capture_texts to true to capture them, or remove capture_ttl_days"
            )
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
                    "api.throttle_rate_per_second/throttle_burst too, or lower the client's"
                )
        if self.authorizer == "cognito" and self.cognito is None:
            raise ValueError(
                'authorizer "cognito" needs "cognito": {"user_pool_arn": "arn:aws:cognito-idp:...:'
                'userpool/..."}, the user pool whose tokens the API accepts'
            )
        if self.cognito is not None and self.authorizer != "cognito":
            raise ValueError(
                f'"cognito" is set but authorizer is {self.authorizer!r}; set authorizer to "cognito" to '
                "use the user pool, or remove the cognito block"
            )
        return self
