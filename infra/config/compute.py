"""The SageMaker compute settings: the training job's and the GPU endpoint's instances, counted in GPUs."""

from __future__ import annotations

import difflib

from pydantic import Field, field_validator, model_validator

from golive.contracts.hyperparameters import hyperparameter_problems
from infra.config.base import Strict


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


def _gpu_instance(value: str) -> str:
    if value not in GPUS_PER_INSTANCE:
        families = ", ".join(dict.fromkeys(t.rsplit(".", 1)[0] for t in GPUS_PER_INSTANCE))
        close = difflib.get_close_matches(value, GPUS_PER_INSTANCE, n=1, cutoff=0.9)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"{value!r} is not a SageMaker GPU instance type; {hint}use a size of the {families} "
                         "families, e.g. ml.g5.xlarge (a newer type: add it with its GPU count to GPUS_PER_INSTANCE "
                         "in infra/config/compute.py)")
    return value


class TrainingSettings(Strict):
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


class EndpointSettings(Strict):
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
