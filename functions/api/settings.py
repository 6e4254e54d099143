"""Typed API configuration from environment variables (`GOLIVE_<FIELD>`), validated at start-up
(functions.common.settings reads them; the endpoint container's are `GOLIVE_ENDPOINT_*`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from functions.common.settings import EnvSettings


class Settings(EnvSettings, BaseModel):
    """The Lambda's and `golive serve`'s settings: arguments, then `GOLIVE_<FIELD>` (any case), then defaults."""

    model_config = ConfigDict(extra="ignore")
    env_prefix: ClassVar[str] = "GOLIVE_"
    env_title: ClassVar[str] = "serving settings"

    backend: Literal["onnx", "sagemaker"] = "onnx"
    environment: str = "local"  # dev/staging/prod on AWS: the `environment` dimension of every metric
    # the bundle: a folder in the Lambda package (always holds the manifest and metrics; the ONNX files
    # only for the onnx backend), or an s3:// prefix or model.tar.gz fetched once at cold start
    model_dir: str = "model_artifacts"
    model_s3_uri: str | None = None
    model_variant: Literal["fp32", "int8"] | None = None
    endpoint_name: str | None = None
    # the model's inference component on that endpoint, when it is hosted as one (a scale-to-zero endpoint):
    # InvokeEndpoint must name it
    inference_component_name: str | None = None
    feedback_table: str | None = None  # DynamoDB table; unset in local mode (SQLite is used instead)
    feedback_db: str = ".golive/feedback.sqlite3"
    # the keys that sign prediction ids (functions.api.signing_keys): a Secrets Manager secret in AWS
    # (read at cold start; AWSPREVIOUS still verifies after a rotation), else a key file generated
    # next to the feedback database
    signing_secret_arn: str | None = None
    signing_key_file: str | None = None
    # what API Gateway asks of callers (set by infra/stacks/api_stack.py): declared in the OpenAPI document so
    # clients and Swagger UI's "Authorize" send it. The app itself checks neither: `golive serve` needs no key.
    api_key_required: bool = False
    authorizer: Literal["none", "iam", "cognito"] = "none"

    max_texts: int = Field(64, ge=1, le=1024)
    max_chars: int = Field(5000, ge=1, le=100_000)
    max_body_bytes: int = Field(1_000_000, ge=1024, le=6_000_000)  # Lambda's own payload limit is 6 MB
    # /v1/explain runs the model on n + 1 rows of n + 2 tokens (benchmarks/RESULTS.md has its cost)
    max_explain_tokens: int = Field(64, ge=1, le=512)
    # X-Ray: Lambda's active tracing always records the invocation. The Powertools Tracer (X-Ray SDK, about
    # 0.3 s of imports at cold start) adds subsegments for AWS calls; "auto" turns it on where those calls
    # are the story (the sagemaker backend) and leaves the in-process onnx backend lean.
    tracing: Literal["auto", "sdk", "off"] = "auto"
    log_texts: bool = False  # texts are personal data: never logged unless turned on here
    # keep each prediction's text, redacted (golive.redaction), in the feedback store for this many days, so
    # feedback can become training data (functions.api.capture). Off unless an environment turns it on.
    capture_texts: bool = False
    capture_ttl_days: int = Field(30, ge=1, le=3650)
    # ONNX Runtime threads per model call (0: one per core) and model calls at once. The Lambda answers one
    # request at a time, so one call using every core is fastest; `golive serve` takes requests
    # concurrently, so single-threaded calls side by side are (functions.api.local.serving_threads).
    intra_op_threads: int = Field(0, ge=0)
    inference_workers: int = Field(1, ge=1, le=64)

    # SageMaker client: connect + read per attempt, times attempts, stays under API Gateway's 29 s
    sagemaker_connect_timeout_s: float = 2.0
    sagemaker_read_timeout_s: float = 10.0
    sagemaker_max_attempts: int = Field(2, ge=1, le=5)
    retry_after_s: int = Field(5, ge=1, le=3600)
    # a scale-to-zero endpoint waking up (functions.api.warmup): the Retry-After a first "asleep" answer gets
    # until this instance has measured a wake-up itself (AWS: "several minutes"), and how long a request may
    # wait and retry before answering 503 (0: answer at once; tries stop early so the answer beats API Gateway's 29 s)
    expected_warmup_seconds: int = Field(300, ge=1, le=3600)
    wait_for_warmup_seconds: float = Field(0, ge=0, le=25)

    @property
    def use_xray_sdk(self) -> bool:
        return self.tracing == "sdk" or (self.tracing == "auto" and self.backend == "sagemaker")

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.backend == "sagemaker" and not self.endpoint_name:
            raise ValueError("GOLIVE_ENDPOINT_NAME must be set when GOLIVE_BACKEND=sagemaker")
        worst = self.sagemaker_max_attempts * (self.sagemaker_connect_timeout_s + self.sagemaker_read_timeout_s)
        if worst >= 29:
            raise ValueError(
                f"SageMaker timeouts allow {worst:.0f} s per request, over API Gateway's 29 s; lower "
                "GOLIVE_SAGEMAKER_READ_TIMEOUT_S or GOLIVE_SAGEMAKER_MAX_ATTEMPTS"
            )
        return self
