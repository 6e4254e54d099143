"""The training pipeline's states and the permissions each one needs (the training stack owns the state machine).

    NameRun -> the run's data (infra/stacks/pipeline_inputs.py): train/ always; the execution input's feedback_uri,
      eval/ when anything is there, and the serving model (the newest Approved package) when there is one
      -> Train (spot, S3 checkpoints, those channels; the .sync result is the job's description)
      -> the gate (infra/stacks/pipeline_gate.py), on the held-out rows both models were scored on:
           challenger_accuracy >= promote_min_accuracy, and with a serving model, accuracy_gain >= promote_min_gain
           on >= min_comparison_rows rows: register Approved -> [create model, endpoint config, blue/green update,
               wait until the endpoint is InService on the new config, or mark the package Rejected and fail on
               rollback; scale_to_zero: create model, rolling update of the inference component, the same wait]
           below the floor or not better: register Rejected -> KeptCurrentModel (the endpoint keeps its model)
           too few rows to compare, no gain logged, or an Approved package whose model is not found: register
               PendingManualApproval -> AwaitingApproval
      a job that logged no challenger_accuracy (or comparison_rows) -> NoAccuracyMetric, nothing registered

The Train state: infra/stacks/pipeline_training_job.py; the promote step: infra/stacks/pipeline_promote.py;
the permissions beyond what CDK's tasks grant themselves: infra/stacks/pipeline_grants.py.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn

from infra.stacks.pipeline_gate import GATE_METRIC, read_and_gate
from infra.stacks.pipeline_grants import grant_pipeline
from infra.stacks.pipeline_inputs import find_inputs
from infra.stacks.pipeline_promote import promote
from infra.stacks.pipeline_scope import PipelineScope
from infra.stacks.pipeline_training_job import train_state


class PipelineStates(PipelineScope):
    """The state machine's states; `start` is the first (NameRun)."""

    def _definition(self) -> sfn.IChainable:
        failed = sfn.Fail(
            self, "TrainingFailed", cause="the training job failed or was stopped; see its logs", error="TrainingFailed"
        )
        name_run = sfn.Pass(self, "NameRun", parameters={"id": sfn.JsonPath.uuid()}, result_path="$.run")
        train = train_state(self)
        train.add_catch(failed, errors=["States.ALL"], result_path="$.error")
        no_metric = sfn.Fail(
            self,
            "NoAccuracyMetric",
            error="NoAccuracyMetric",
            cause=f"the training job reported no {GATE_METRIC} or comparison_rows; nothing was registered",
        )
        if self.config.endpoint.enabled:
            after_approval = promote(self)
        else:
            after_approval = sfn.Succeed(self, "RegisteredNoEndpoint", comment="this environment has no endpoint")
        train.next(read_and_gate(self, no_metric, after_approval))
        return name_run.next(find_inputs(self, train))

    def grant(self, role: iam.IRole) -> None:
        """What the states need beyond what CDK's tasks grant themselves (infra/stacks/pipeline_grants.py)."""
        grant_pipeline(self, role)
