"""The endpoint container's configuration: SageMaker's own variables where it defines them
(SAGEMAKER_BIND_TO_PORT, SAGEMAKER_MODEL_SERVER_WORKERS, SAGEMAKER_MODEL_SERVER_TIMEOUT), `GOLIVE_ENDPOINT_<FIELD>`
for ours (read by functions.common.settings, as the API's `GOLIVE_*` are; no variable is read by both)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from functions.common.settings import EnvSettings

# InvokeEndpoint refuses larger requests itself; refusing them here too gives the same clear message
# when the container is called directly (docker run, tests, a load balancer in front of it).
SAGEMAKER_MAX_PAYLOAD_BYTES = 6_291_456


class EndpointSettings(EnvSettings, BaseModel):
    model_config = ConfigDict(extra="ignore")
    env_prefix: ClassVar[str] = "GOLIVE_ENDPOINT_"
    env_aliases: ClassVar[dict[str, tuple[str, ...]]] = {
        "port": ("SAGEMAKER_BIND_TO_PORT",),
        "workers": ("SAGEMAKER_MODEL_SERVER_WORKERS",),
        "timeout_s": ("SAGEMAKER_MODEL_SERVER_TIMEOUT",),
    }
    env_title: ClassVar[str] = "endpoint settings"

    model_dir: str = Field("/opt/ml/model", description="where SageMaker unpacks model.tar.gz")
    host: str = "0.0.0.0"  # inside the container; tests bind 127.0.0.1
    port: int = Field(8080, ge=1, le=65535)
    # one worker keeps every request in one batching queue on one GPU; more only for CPU-bound hosts
    workers: int = Field(1, ge=1, le=64)
    timeout_s: float = Field(60, gt=0, le=3600)

    # auto: CUDA when ONNX Runtime has it and a GPU answers, else CPU; tensorrt: TensorRT first, then CUDA
    provider: Literal["auto", "cuda", "tensorrt", "cpu"] = "auto"
    # auto: fp16 (converted from the bundle's fp32 at start) on a GPU, the bundle's default (int8) on CPU
    model_variant: Literal["auto", "fp32", "fp16", "int8"] = "auto"
    max_batch_size: int = Field(32, ge=1, le=1024, description="texts per model call; 1 turns batching off")
    max_wait_ms: float = Field(5.0, ge=0, le=1000, description="how long a batch waits for more requests")
    warmup_batches: int = Field(3, ge=0, le=100)

    max_texts: int = Field(256, ge=1, le=4096)
    max_chars: int = Field(5000, ge=1, le=100_000)

    @classmethod
    def old_names_set(cls) -> list[str]:
        """Variables set under the names this container read before it had its own prefix (`GOLIVE_MAX_BATCH_SIZE`):
        read no more, so the start-up log says which to rename rather than ignore them quietly."""
        import os

        names = {key.upper() for key in os.environ}
        return sorted(f"GOLIVE_{field.upper()}" for field in cls.model_fields if f"GOLIVE_{field.upper()}" in names)

    @model_validator(mode="after")
    def _check(self) -> EndpointSettings:
        if self.model_variant == "int8" and self.provider in ("cuda", "tensorrt"):
            raise ValueError(
                "GOLIVE_ENDPOINT_MODEL_VARIANT=int8 runs its quantised MatMuls on the CPU even with a GPU "
                "provider; use fp16 or fp32 on a GPU"
            )
        return self
