"""The SageMaker compute settings: the training job's and the GPU endpoint's instances, counted in GPUs."""

from __future__ import annotations

import difflib
from typing import Literal

from pydantic import Field, field_validator, model_validator

from golive.contracts.hyperparameters import hyperparameter_problems
from infra.config.base import Strict
from infra.config.retrain import RetrainSettings


def _sizes(family: str, gpus: dict[str, int]) -> dict[str, int]:
    return {f"{family}.{size}": count for size, count in gpus.items()}


# NVIDIA GPUs per SageMaker instance type (AWS's instance specifications): training switches torchrun on when a
# job has more than one GPU in all; ml.inf/ml.trn need Neuron builds we do not ship. A type missing here is
# refused with the list, so a new one is added here with its GPU count.
_G_SIZES = {
    "xlarge": 1,
    "2xlarge": 1,
    "4xlarge": 1,
    "8xlarge": 1,
    "16xlarge": 1,
    "12xlarge": 4,
    "24xlarge": 4,
    "48xlarge": 8,
}
GPUS_PER_INSTANCE: dict[str, int] = {
    **_sizes("ml.g4dn", {"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "16xlarge": 1, "12xlarge": 4}),
    **_sizes("ml.g5", _G_SIZES),
    **_sizes("ml.g6", _G_SIZES),
    **_sizes("ml.g6e", _G_SIZES),
    **_sizes("ml.p3", {"2xlarge": 1, "8xlarge": 4, "16xlarge": 8}),
    "ml.p4d.24xlarge": 8,
    "ml.p4de.24xlarge": 8,
    "ml.p5.48xlarge": 8,
}


def _gpu_instance(value: str) -> str:
    if value not in GPUS_PER_INSTANCE:
        families = ", ".join(dict.fromkeys(t.rsplit(".", 1)[0] for t in GPUS_PER_INSTANCE))
        close = difflib.get_close_matches(value, GPUS_PER_INSTANCE, n=1, cutoff=0.9)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(
            f"{value!r} is not a SageMaker GPU instance type; {hint}use a size of the {families} "
            "families, e.g. ml.g5.xlarge (a newer type: add it with its GPU count to GPUS_PER_INSTANCE "
            "in infra/config/compute.py)"
        )
    return value


class TrainingSettings(Strict):
    instance_type: str = "ml.g5.xlarge"
    instance_count: int = Field(1, ge=1, le=16)
    use_spot: bool = True
    max_run_hours: float = Field(4.0, gt=0, le=120)
    max_wait_hours: float = Field(8.0, gt=0, le=120)  # spot: how long to wait for capacity, run time included
    # the promotion gate (infra/stacks/pipeline_gate.py), on the held-out rows both models are scored on: the new
    # model's accuracy must reach the floor, and beat the serving model's by promote_min_gain on at least
    # min_comparison_rows rows (fewer: registered PendingManualApproval, for a person to decide)
    promote_min_accuracy: float = Field(0.85, ge=0, le=1)
    promote_min_gain: float = Field(0.005, ge=0, le=1)
    min_comparison_rows: int = Field(200, ge=1)
    volume_size_gb: int = Field(30, ge=1, le=16_384)
    # the AWS PyTorch training image (resolved with the sagemaker SDK at synth) brings torch and CUDA
    pytorch_version: str = "2.10"
    py_version: str = "py313"
    hyperparameters: dict[str, str] = {"epochs": "3", "batch-size": "32"}  # `golive train` flags, without --
    retrain: RetrainSettings = RetrainSettings()  # what starts the pipeline by itself (off by default)

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
    def _wait_covers_run(self) -> TrainingSettings:
        if self.use_spot and self.max_wait_hours < self.max_run_hours:
            raise ValueError("max_wait_hours must be at least max_run_hours when use_spot is true")
        return self


class ServerlessSettings(Strict):
    """SageMaker Serverless Inference (endpoint.kind "serverless"): the bundle's ONNX model on CPU, billed per
    GB-second of inference; what SageMaker's ProductionVariantServerlessConfig takes."""

    memory_size_mb: int = Field(2048, ge=1024, le=6144)  # in 1 GB steps
    max_concurrency: int = Field(10, ge=1, le=200)
    provisioned_concurrency: int | None = Field(None, ge=1, le=200)  # kept warm (billed by the hour); None: none

    @field_validator("memory_size_mb")
    @classmethod
    def _gigabytes(cls, value: int) -> int:
        if value % 1024:
            raise ValueError(
                f"{value} MB is not a whole number of GB; serverless endpoints take 1024, 2048, 3072, "
                "4096, 5120 or 6144"
            )
        return value

    @model_validator(mode="after")
    def _provisioned_within_max(self) -> ServerlessSettings:
        if self.provisioned_concurrency is not None and self.provisioned_concurrency > self.max_concurrency:
            raise ValueError(
                f"provisioned_concurrency ({self.provisioned_concurrency}) is above max_concurrency "
                f"({self.max_concurrency})"
            )
        return self


# keys that size a fleet of instances: meaningless on a serverless endpoint
INSTANCE_KEYS = ("instance_type", "min_instances", "max_instances", "invocations_per_instance_target")


class EndpointSettings(Strict):
    enabled: bool = True  # false: no endpoint at all (cheapest dev); the API then serves in-Lambda ONNX
    # "instances": GPU instances (always on, or scaling to zero with scale_to_zero); "serverless": SageMaker
    # Serverless Inference on CPU (the container's CPU path), sized by the `serverless` block
    kind: Literal["instances", "serverless"] = "instances"
    instance_type: str = "ml.g5.xlarge"
    # at least 1 for an always-on endpoint; scale_to_zero scales between 0 and max_instances instead
    min_instances: int = Field(1, ge=1, le=20)
    max_instances: int = Field(2, ge=1, le=20)
    invocations_per_instance_target: int = Field(600, ge=1)  # per minute (per model copy with scale_to_zero)
    # the model as an inference component on an endpoint with managed instance scaling down to 0 instances:
    # nothing is billed while idle; the first call after idle wakes it (minutes, answered 503 + Retry-After)
    scale_to_zero: bool = False
    scale_in_idle_minutes: int = Field(30, ge=5, le=1440)  # scale_to_zero: no call for this long -> 0 instances
    expected_warmup_seconds: int = Field(300, ge=1, le=3600)  # scale_to_zero: the API's first Retry-After
    serverless: ServerlessSettings = ServerlessSettings()
    # share of requests and responses SageMaker keeps in the capture bucket, raw, for its lifecycle (365 days):
    # SageMaker writes them itself, so nothing can redact them first (the API's redacted capture is
    # api.capture_texts). Off by default; turn it on only where raw texts may be kept (README: Serving API)
    data_capture_percent: int = Field(0, ge=0, le=100)
    # blue/green: how long the new fleet takes traffic, watched by the rollback alarms, before the old goes
    bake_minutes: int = Field(10, ge=0, le=60)

    _instance = field_validator("instance_type")(_gpu_instance)

    @model_validator(mode="after")
    def _bounds(self) -> EndpointSettings:
        if self.max_instances < self.min_instances and not self.scale_to_zero:
            raise ValueError(f"max_instances ({self.max_instances}) is below min_instances ({self.min_instances})")
        if self.scale_to_zero and self.kind == "serverless":
            raise ValueError(
                'scale_to_zero is for kind "instances" (an inference component on GPU instances); a '
                "serverless endpoint already bills nothing while idle: remove scale_to_zero or set kind "
                'to "instances"'
            )
        # a key "set" is one away from its default, so a config dumped and read again (model_dump) is still valid
        changed = {key for key in self.model_fields_set if getattr(self, key) != type(self).model_fields[key].default}
        if self.scale_to_zero and "min_instances" in changed:
            raise ValueError(
                f"min_instances ({self.min_instances}) does not apply with scale_to_zero: the endpoint "
                "scales between 0 and max_instances; remove min_instances (or set scale_to_zero to false)"
            )
        if self.kind == "serverless":
            sized = [key for key in INSTANCE_KEYS if key in changed]
            if sized:
                raise ValueError(
                    f'{", ".join(sized)} size GPU instances and do not apply to kind "serverless"; remove '
                    "them and size the endpoint with serverless.memory_size_mb and max_concurrency"
                )
            if "data_capture_percent" in changed and self.data_capture_percent:
                raise ValueError(
                    "data_capture_percent: SageMaker Serverless Inference has no data capture; set it to 0 "
                    'or use kind "instances"'
                )
        elif "serverless" in changed:
            raise ValueError('the serverless block applies only to kind "serverless"; set kind or remove the block')
        return self

    @property
    def gpus(self) -> bool:
        """Whether the endpoint runs on GPU instances (serverless runs the container's CPU path)."""
        return self.kind == "instances"

    @property
    def max_copies(self) -> int:
        """scale_to_zero: the most copies of the model, one per GPU of max_instances instances."""
        return self.max_instances * GPUS_PER_INSTANCE[self.instance_type]
