"""What moto lacks to execute golive's training pipeline, bridged in one place (tests/test_pipeline.py uses it).

The pipeline runs in moto's own Step Functions interpreter (`execute_state_machine`) against moto's SageMaker,
S3, IAM, KMS and CloudWatch. Everything else is moto; these are the only stand-ins, each for a gap in moto:

1. `createTrainingJob.sync`: moto's interpreter treats SageMaker as an unsupported optimised integration and
   has no `.sync` ("Unsupported sync callback procedure"). The shim polls DescribeTrainingJob until the job
   ends, as Step Functions does: Completed -> the description is the task's result; Failed or Stopped ->
   `States.TaskFailed` with the description as the cause (moto's own Glue and Batch `.sync` do the same).
2. The training job's run: moto completes every job at once, with a fixed FinalMetricDataList
   (`train:progress`) and no BillableTimeInSeconds. The shim ends the job as the path needs: Completed with
   the final metrics it "logged" (no FinalMetricDataList at all when it logged none) and its billable time,
   or Failed with a reason.
3. `UpdateEndpoint`: not implemented by moto. The shim checks what SageMaker checks before it starts a
   blue/green deployment (the endpoint, the new endpoint config and every rollback alarm exist), sets the
   endpoint Updating, and lets the deployment settle one step per Wait state (shim 4): InService on the new
   config, or, when a rollback alarm "fires", RollingBack and then InService on the old config.
4. Wait states: moto's interpreter really sleeps (60 s per deployment poll). The shim returns at once,
   records the seconds the state asked for, and advances the deployments: an emulated clock.
5. Endpoint-config instance types: moto's allow-list predates ml.g5; the shim also accepts the GPU types in
   infra/config/compute.py's GPUS_PER_INSTANCE.
6. JSONPath filters that match nothing: Step Functions evaluates paths with Jayway JsonPath, where a filter
   (`$.list[?(@.x == 'y')].v`) is an indefinite path and matching nothing gives [] (the pipeline reads optional
   metrics that way, pipeline_gate.py). moto's interpreter (LocalStack's) gives [] only for wildcards and slices
   (localstack/localstack#12318, fixed for those in #12366) and raises "could not be found" for a filter. The
   shim counts filters among the paths that give [].
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from unittest import mock

import boto3
from moto.core.responses import ActionResult
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint, FakeEndpointConfig, SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent, FailureEventException
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_unsupported import (
    StateTaskServiceUnsupported,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils import json_path
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

from infra.config import GPUS_PER_INSTANCE

JOB_ENDED = {"Completed", "Failed", "Stopped"}


@dataclass(frozen=True)
class JobRun:
    """How the training job ends (shim 2)."""

    status: str = "Completed"
    metrics: dict[str, float] | None = None  # None: the job logged no metric at all
    billable_seconds: int = 1800
    failure_reason: str = "AlgorithmError: ExecuteUserScriptError: training exited with code 1"


@dataclass
class Emulator:
    job: JobRun = field(default_factory=JobRun)
    rollback_alarm_fires: bool = False
    waits: list[int] = field(default_factory=list)  # seconds each Wait state asked for
    updates: list[dict] = field(default_factory=list)  # the UpdateEndpoint requests
    _deployments: list[tuple[FakeEndpoint, FakeEndpointConfig]] = field(default_factory=list)

    @contextlib.contextmanager
    def installed(self) -> Iterator[Emulator]:
        """Every shim patched in, for one `mock_aws` block."""
        emulator = self
        create_training_job = SageMakerModelBackend.create_training_job
        validate_instance_type = FakeEndpointConfig.validate_instance_type
        service_for = state_task_factory.state_task_service_for
        indefinite = json_path._contains_slice_or_wildcard_array

        class SageMakerWithSync(StateTaskServiceUnsupported):  # shim 1
            def __init__(self) -> None:
                StateTaskServiceCallback.__init__(
                    self, supported_integration_patterns={ResourceCondition.WaitForTaskToken, ResourceCondition.Sync}
                )

            def _build_sync_resolver(self, env, resource_runtime_part, normalised_parameters, state_credentials):
                return emulator._poll_training_job(
                    self, env, resource_runtime_part, normalised_parameters, state_credentials
                )

        def run_job(backend, *args, **kwargs):  # shim 2
            return emulator._end_job(create_training_job(backend, *args, **kwargs))

        def validate(config, instance_type):  # shim 5
            if instance_type not in GPUS_PER_INSTANCE:
                validate_instance_type(config, instance_type)

        with contextlib.ExitStack() as stack:
            for target, name, value in [
                (
                    state_task_factory,
                    "state_task_service_for",
                    lambda service_name: (
                        SageMakerWithSync() if service_name == "sagemaker" else service_for(service_name)
                    ),
                ),
                (SageMakerModelBackend, "create_training_job", run_job),
                (SageMakerResponse, "update_endpoint", lambda response: emulator._update_endpoint(response)),  # 3
                (WaitFunction, "_wait_interval", lambda function, env, wait_seconds: emulator._tick(wait_seconds)),  # 4
                (FakeEndpointConfig, "validate_instance_type", validate),
                (json_path, "_contains_slice_or_wildcard_array", lambda path: "[?(" in path or indefinite(path)),  # 6
            ]:
                stack.enter_context(mock.patch.object(target, name, value, create=name == "update_endpoint"))
            yield self

    def _poll_training_job(self, task, env, resource_runtime_part, parameters, credentials):
        env.stack.pop()  # CreateTrainingJob's own response; the .sync result is the job's description
        client = boto_client_for(
            region=resource_runtime_part.region, service="sagemaker", state_credentials=credentials
        )
        name = parameters["TrainingJobName"]

        def resolve() -> dict | None:
            job = client.describe_training_job(TrainingJobName=name)
            job.pop("ResponseMetadata", None)
            if job["TrainingJobStatus"] not in JOB_ENDED:
                return None
            if job["TrainingJobStatus"] == "Completed":
                return job
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=EventDetails(
                        taskFailedEventDetails=TaskFailedEventDetails(
                            resource=task._get_sfn_resource(),
                            resourceType=task._get_sfn_resource_type(),
                            error=StatesErrorNameType.StatesTaskFailed.to_name(),
                            cause=to_json_str(job),
                        )
                    ),
                )
            )

        return resolve

    def _end_job(self, job):
        job.training_job_status = job.secondary_status = self.job.status
        job.final_metric_data_list = (
            None
            if self.job.metrics is None
            else [
                {"MetricName": name, "Value": value, "Timestamp": job.training_end_time}
                for name, value in self.job.metrics.items()
            ]
        )
        if self.job.status == "Completed":
            job.billable_time_in_seconds = self.job.billable_seconds
        else:
            job.failure_reason = self.job.failure_reason
        return job

    def _update_endpoint(self, response: SageMakerResponse) -> ActionResult:
        backend = response.sagemaker_backend
        name, config_name = response._get_param("EndpointName"), response._get_param("EndpointConfigName")
        backend.describe_endpoint(name)  # ValidationException when either is missing, as SageMaker answers
        backend.describe_endpoint_config(config_name)
        rollback = (response._get_param("DeploymentConfig") or {}).get("AutoRollbackConfiguration", {})
        alarms = {a["AlarmName"] for a in rollback.get("Alarms", [])}
        found = boto3.client("cloudwatch", region_name=backend.region_name).describe_alarms(AlarmNames=sorted(alarms))[
            "MetricAlarms"
        ]
        if missing := alarms - {a["AlarmName"] for a in found}:
            raise ValidationError(message=f"rollback alarms do not exist: {', '.join(sorted(missing))}")
        self.updates.append(response._get_params())
        endpoint = backend.endpoints[name]
        endpoint.endpoint_status = "Updating"
        self._deployments.append((endpoint, backend.endpoint_configs[config_name]))
        return ActionResult({"EndpointArn": endpoint.arn})

    def _tick(self, wait_seconds: int) -> None:
        self.waits.append(wait_seconds)
        pending = []
        for endpoint, config in self._deployments:
            if self.rollback_alarm_fires and endpoint.endpoint_status == "Updating":
                endpoint.endpoint_status = "RollingBack"
                pending.append((endpoint, config))
                continue
            if not self.rollback_alarm_fires:
                endpoint.endpoint_config_name = config.endpoint_config_name
                endpoint.production_variants = endpoint._process_production_variants(config.production_variants)
            endpoint.endpoint_status = "InService"
        self._deployments = pending
