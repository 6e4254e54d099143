"""The training pipeline, executed: the state machine from the synthesised template, run by moto's Step Functions
interpreter against moto's SageMaker, S3, IAM, KMS and CloudWatch (the harness: tests/pipeline_run.py; what moto
lacks: tests/moto_shims.py). Each run is one execution; what it did is read back from moto: the training job's
channels (DescribeTrainingJob), the Model Registry, the models and the endpoint.

The promotion decisions (infra/stacks/pipeline_gate.py): better than the serving model -> promoted; worse or below
the floor -> Rejected; too few rows to compare, nothing compared, or a serving package whose model cannot be found
-> PendingManualApproval; no Approved package at all -> the floor alone decides. The endpoint changes only on
promotion.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("aws_cdk")
pytest.importorskip("boto3")
import botocore.session  # noqa: E402
import regex  # noqa: E402
from moto.iam.access_control import IAMPolicy, PermissionResult  # noqa: E402

from infra.config import load_config  # noqa: E402
from infra.naming import Names  # noqa: E402
from tests.moto_shims import Emulator, JobRun  # noqa: E402
from tests.pipeline_run import Run, _arn, run_pipeline  # noqa: E402


@pytest.fixture(scope="module")
def templates(synthesized) -> dict[str, dict[str, dict]]:
    return {
        env: {name: t.to_json() for name, t in stacks.items() if not name.startswith("_")}
        for env, stacks in synthesized.items()
    }


# what the training job "logged" (prod's gate: promote_min_accuracy 0.88, promote_min_gain 0.005 by default,
# min_comparison_rows 200 by default)
LOSSES = {"train_loss": 0.21, "eval_loss": 0.3, "eval_accuracy": 0.92}
FIRST = JobRun(metrics=LOSSES | {"challenger_accuracy": 0.93, "comparison_rows": 48})  # no champion: no gain
BETTER = JobRun(
    metrics=LOSSES
    | {"challenger_accuracy": 0.93, "champion_accuracy": 0.9, "accuracy_gain": 0.03, "comparison_rows": 500}
)
WORSE = JobRun(
    metrics=LOSSES
    | {"challenger_accuracy": 0.91, "champion_accuracy": 0.92, "accuracy_gain": -0.01, "comparison_rows": 500}
)
TOO_FEW_ROWS = JobRun(
    metrics=LOSSES
    | {"challenger_accuracy": 0.95, "champion_accuracy": 0.9, "accuracy_gain": 0.05, "comparison_rows": 120}
)
BELOW_FLOOR = JobRun(  # better than a poor champion, still below the floor
    metrics=LOSSES
    | {"challenger_accuracy": 0.8, "champion_accuracy": 0.7, "accuracy_gain": 0.1, "comparison_rows": 500}
)
NOT_COMPARED = JobRun(metrics=LOSSES | {"challenger_accuracy": 0.93, "comparison_rows": 500})  # labels differed

CHAMPION = "s3://golive-prod-models/training-output/earlier-run/output/model.tar.gz"
EVAL_SET = ("eval/", "eval/set.tsv")  # the console's folder marker, and a file


def with_feedback(bucket: str) -> dict:
    """The retraining trigger's input (golive.contracts.feedback_exports.PipelineInput)."""
    return {"trigger": "alarm:golive-prod-online-accuracy", "feedback_uri": f"s3://{bucket}/feedback-exports/"}


@pytest.fixture(scope="module")
def promoted(templates) -> Run:
    """A better model than the serving one, trained on feedback and scored on the evaluation set too."""
    return run_pipeline(
        templates["prod"],
        "prod",
        Emulator(job=BETTER),
        execution_input=with_feedback,
        champion=CHAMPION,
        eval_keys=EVAL_SET,
    )


@pytest.fixture(scope="module")
def rolled_back(templates) -> Run:
    return run_pipeline(templates["prod"], "prod", Emulator(job=BETTER, rollback_alarm_fires=True), champion=CHAMPION)


def _params(run: Run, resource: str) -> dict:
    [params] = [params for called, params, _ in run.calls if called == resource]
    return params


def _package_of(model: dict) -> str:
    return model["PrimaryContainer"]["ModelPackageName"]


def _metadata(run: Run) -> dict[str, str]:
    """The registered package's CustomerMetadataProperties, each value and the description checked against
    SageMaker's own patterns (botocore's service model): moto does not check them, SageMaker refuses the package."""
    values = run.registered["CustomerMetadataProperties"]
    model = botocore.session.get_session().get_service_model("sagemaker")
    pattern = model.shape_for("CustomerMetadataValue").metadata["pattern"]
    bad = {key: value for key, value in values.items() if not regex.fullmatch(pattern, value)}
    assert not bad, f"SageMaker would refuse these metadata values: {bad}"
    description = model.operation_model("CreateModelPackage").input_shape.members["ModelPackageDescription"]
    assert regex.fullmatch(description.metadata["pattern"], run.registered["ModelPackageDescription"])
    assert len(run.registered["ModelPackageDescription"]) <= description.metadata["max"]
    return values


def _endpoint_kept_its_model(run: Run) -> bool:
    return run.endpoint["EndpointConfigName"].startswith("inference-") and not run.emulator.updates


def test_better_model_is_registered_approved_and_promoted_blue_green(promoted):
    run, names = promoted, Names(load_config("prod"))
    assert (run.status, run.final_state) == ("SUCCEEDED", "Promoted")
    champion, package = run.packages
    assert [p["ModelApprovalStatus"] for p in run.packages] == ["Approved", "Approved"]
    data = f"s3://{run.data_bucket}"
    assert run.channels == {  # every input the run had: train/, the exports, eval/ and the serving model
        "train": f"{data}/train/",
        "feedback": f"{data}/feedback-exports/",
        "eval": f"{data}/eval/",
        "champion": CHAMPION,
    }
    job = run.output["training"]["TrainingJobName"]
    assert _metadata(run) == {
        "TrainingJobName": job,
        "ModelDataUrl": run.output["training"]["ModelArtifacts"],
        "Decision": "better",
        "PromoteMinAccuracy": "0.88",
        "PromoteMinGain": "0.005",
        "MinComparisonRows": "200",
        "ChallengerAccuracy": "0.93",
        "ChampionAccuracy": "0.9",
        "AccuracyGain": "0.03",
        "ComparisonRows": _metadata(run)["ComparisonRows"],
        "ChampionPackage": champion["ModelPackageArn"],
        "ChampionData": CHAMPION,
        "TrainData": f"{data}/train/",
        "FeedbackData": f"{data}/feedback-exports/",
        "EvalData": f"{data}/eval/",
    }
    assert float(_metadata(run)["ComparisonRows"]) == 500
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["ModelPackageDescription"].startswith("better: accuracy_gain >= 0.005")
    assert "challenger_accuracy 0.93, champion_accuracy 0.9, accuracy_gain 0.03" in package["ModelPackageDescription"]
    spec = package["InferenceSpecification"]
    assert spec["Containers"][0]["ModelDataUrl"].endswith(f"/training-output/{job}/output/model.tar.gz")
    assert "container-assets" in spec["Containers"][0]["Image"]  # the serving image the inference stack builds
    new = run.output["model"]["name"]
    [model] = [m for m in run.models if m["ModelName"] == new]
    assert _package_of(model) == package["ModelPackageArn"]
    assert _params(run, "createModel")["EnableNetworkIsolation"] is True  # moto's DescribeModel does not echo it
    assert run.endpoint["EndpointConfigName"] == new and run.endpoint["EndpointStatus"] == "InService"
    [update] = run.emulator.updates
    assert update["RetainAllVariantProperties"] is True
    assert [
        a["AlarmName"] for a in update["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    ] == names.rollback_alarms
    assert run.emulator.waits == [60]  # polled once a minute until the endpoint settled


def test_first_model_without_a_serving_one_is_gated_by_the_floor_alone(templates):
    """No Approved package yet, no feedback and only the folder marker under eval/: train/ is the only channel."""
    run = run_pipeline(templates["prod"], "prod", Emulator(job=FIRST), eval_keys=("eval/",))
    assert (run.status, run.final_state) == ("SUCCEEDED", "Promoted")
    assert run.channels == {"train": f"s3://{run.data_bucket}/train/"}
    metadata = _metadata(run)
    assert (metadata["Decision"], metadata["ChallengerAccuracy"]) == ("first_model", "0.93")  # 48 rows: no minimum
    assert {
        metadata[k] for k in ("ChampionAccuracy", "AccuracyGain", "ChampionPackage", "FeedbackData", "EvalData")
    } == {"none"}
    assert [p["ModelApprovalStatus"] for p in run.packages] == ["Approved"]
    assert run.endpoint["EndpointConfigName"] == run.output["model"]["name"]


@pytest.mark.parametrize(
    "job,decision,status,final_state",
    [
        (WORSE, "not_better", "Rejected", "KeptCurrentModel"),
        (BELOW_FLOOR, "below_floor", "Rejected", "KeptCurrentModel"),
        (TOO_FEW_ROWS, "not_enough_data", "PendingManualApproval", "AwaitingApproval"),
        (NOT_COMPARED, "cannot_compare", "PendingManualApproval", "AwaitingApproval"),
    ],
    ids=["worse", "below-the-floor", "not-enough-data", "not-compared"],
)
def test_a_model_that_is_not_promoted_is_registered_and_the_endpoint_keeps_its_model(
    templates, job, decision, status, final_state
):
    run = run_pipeline(templates["prod"], "prod", Emulator(job=job), champion=CHAMPION)
    assert (run.status, run.final_state) == ("SUCCEEDED", final_state)
    assert [p["ModelApprovalStatus"] for p in run.packages] == ["Approved", status]  # the champion stays Approved
    metadata = _metadata(run)
    assert metadata["Decision"] == decision and metadata["ChampionData"] == CHAMPION
    assert run.channels["champion"] == CHAMPION  # it was scored against the serving model
    assert metadata["ChallengerAccuracy"] == str(job.metrics["challenger_accuracy"])
    assert metadata["AccuracyGain"] == str(job.metrics.get("accuracy_gain", "none"))
    assert run.registered["ModelPackageDescription"].startswith(f"{decision}: ")
    assert len(run.models) == 1 and _endpoint_kept_its_model(run)  # the deployed model, untouched


# an Approved package that older golive registered (no ModelDataUrl in its metadata, the model in its
# InferenceSpecification) or that someone registered by hand (no model data at all)
OLDER_GOLIVE = {
    "InferenceSpecification": {
        "Containers": [{"Image": f"{_arn('ecr', 'golive-endpoint')}:older", "ModelDataUrl": CHAMPION}],
        "SupportedContentTypes": ["application/json"],
        "SupportedResponseMIMETypes": ["application/json"],
    }
}
BY_HAND = {"CustomerMetadataProperties": {"RegisteredBy": "someone"}}


@pytest.mark.parametrize(
    "champion,job,decision,status,final_state,channel",
    [
        (OLDER_GOLIVE, WORSE, "not_better", "Rejected", "KeptCurrentModel", CHAMPION),
        (OLDER_GOLIVE, BETTER, "better", "Approved", "Promoted", CHAMPION),
        (BY_HAND, FIRST, "champion_model_missing", "PendingManualApproval", "AwaitingApproval", None),
        ({}, FIRST, "champion_model_missing", "PendingManualApproval", "AwaitingApproval", None),
    ],
    ids=["older-golive-worse", "older-golive-better", "by-hand", "no-metadata"],
)
def test_an_approved_package_without_model_data_in_its_metadata_is_a_champion_not_a_first_model(
    templates, champion, job, decision, status, final_state, channel
):
    """The model is taken from its InferenceSpecification; with none anywhere the gate cannot compare, and the
    floor alone (a first model's gate) must not replace the model serving."""
    run = run_pipeline(templates["prod"], "prod", Emulator(job=job), champion=champion)
    assert (run.status, run.final_state) == ("SUCCEEDED", final_state)
    assert [p["ModelApprovalStatus"] for p in run.packages] == ["Approved", status]
    metadata = _metadata(run)
    assert (metadata["Decision"], metadata["ChampionData"]) == (decision, channel or "none")
    assert metadata["ChampionPackage"] == run.packages[0]["ModelPackageArn"]
    assert run.channels.get("champion") == channel
    if status != "Approved":
        assert run.registered["ModelPackageDescription"].startswith(f"{decision}: ")
        assert len(run.models) == 1 and _endpoint_kept_its_model(run)
    else:
        assert run.endpoint["EndpointConfigName"] == run.output["model"]["name"]


def test_a_run_started_with_feedback_trains_on_it_and_one_without_does_not(promoted, templates):
    run = run_pipeline(templates["dev"], "dev", Emulator(job=FIRST), execution_input={"trigger": "schedule"})
    assert "feedback" not in run.channels and _metadata(run)["FeedbackData"] == "none"
    assert promoted.channels["feedback"] == f"s3://{promoted.data_bucket}/feedback-exports/"
    [feedback] = [c for c in promoted.job["InputDataConfig"] if c["ChannelName"] == "feedback"]
    assert feedback["DataSource"]["S3DataSource"]["S3DataType"] == "S3Prefix"


@pytest.mark.parametrize("uri", ["s3://someone-elses-bucket/feedback-exports/", 42])
def test_feedback_from_outside_the_exports_is_refused_before_training(templates, uri):
    run = run_pipeline(templates["dev"], "dev", Emulator(job=FIRST), execution_input={"feedback_uri": uri})
    assert (run.status, run.final_state, run.error) == ("FAILED", "InvalidInput", "InvalidInput")
    assert run.job is None and not run.packages


@pytest.mark.parametrize("metrics", [None, LOSSES], ids=["no-metric", "no-challenger-accuracy"])
def test_job_that_reports_no_challenger_accuracy_ends_in_no_accuracy_metric_and_registers_nothing(templates, metrics):
    run = run_pipeline(templates["prod"], "prod", Emulator(job=JobRun(metrics=metrics)))
    assert (run.status, run.final_state, run.error) == ("FAILED", "NoAccuracyMetric", "NoAccuracyMetric")
    assert not run.packages and len(run.models) == 1 and not run.emulator.updates


def test_failed_training_job_ends_in_training_failed_and_registers_nothing(templates):
    run = run_pipeline(templates["prod"], "prod", Emulator(job=JobRun(status="Failed")))
    assert (run.status, run.final_state, run.error) == ("FAILED", "TrainingFailed", "TrainingFailed")
    assert not run.packages and len(run.models) == 1 and not run.emulator.updates


def test_rolled_back_deployment_fails_with_the_endpoint_serving_its_previous_model(rolled_back):
    run = rolled_back
    assert (run.status, run.final_state, run.error) == ("FAILED", "RolledBack", "DeploymentRolledBack")
    # registered Approved, refused by the alarms, then marked Rejected: the champion is again the newest Approved
    champion, package = run.packages
    assert (champion["ModelApprovalStatus"], package["ModelApprovalStatus"]) == ("Approved", "Rejected")
    assert package["ApprovalDescription"].startswith("deployment rolled back")
    assert len(run.models) == 2  # the new model was created ...
    assert run.endpoint["EndpointConfigName"].startswith("inference-")  # ... but the endpoint kept the deployed one
    assert run.endpoint["EndpointStatus"] == "InService"
    assert run.emulator.waits == [60, 60]  # Updating -> RollingBack -> InService


@pytest.fixture(scope="module")
def dev_run(templates) -> Run:
    return run_pipeline(templates["dev"], "dev", Emulator(job=BETTER), champion=CHAMPION)


def test_dev_registers_the_approved_model_without_an_endpoint_or_an_image(dev_run):
    run = dev_run
    assert (run.status, run.final_state) == ("SUCCEEDED", "RegisteredNoEndpoint")
    package = run.registered
    assert package["ModelApprovalStatus"] == "Approved" and "InferenceSpecification" not in package
    job = run.output["training"]["TrainingJobName"]  # nothing is lost: the artefact is on the package
    assert _metadata(run)["TrainingJobName"] == job
    assert _metadata(run)["ModelDataUrl"] == run.output["training"]["ModelArtifacts"]
    assert _metadata(run)["Decision"] == "better" and run.channels["champion"] == CHAMPION
    assert run.endpoint is None and not run.models


# --- IAM: what each call needs, by AWS's documentation, against what the pipeline role grants ------------------

EVENTS_RULE = _arn("events", "rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule")
PASSED_TO_SAGEMAKER = {"iam:PassedToService": "sagemaker.amazonaws.com"}


def required_permissions(resource: str, params: dict, result: dict | None) -> list[tuple]:
    """(IAM action, resource ARN) that a pipeline task needs: Step Functions' policy for createTrainingJob.sync
    (docs.aws.amazon.com/step-functions/latest/dg/sagemaker-iam.html), the Service Authorization Reference for the
    SageMaker actions (ListModelPackages takes no resource: any ARN stands for "*"), `sagemaker:AddTags` for tags
    given at creation, `s3:ListBucket` for ListObjectsV2 (with its prefix, a condition key), and
    `cloudwatch:DescribeAlarms` on the rollback alarms of a blue/green update (SageMaker deployment guardrails)."""
    tagged = lambda arn: [("sagemaker:AddTags", arn)] if params.get("Tags") else []  # noqa: E731
    if resource == "createTrainingJob.sync":
        job = _arn("sagemaker", f"training-job/{params['TrainingJobName']}")
        return (
            [
                (f"sagemaker:{a}", job)
                for a in ("CreateTrainingJob", "DescribeTrainingJob", "StopTrainingJob", "ListTags")
            ]
            + tagged(job)
            + [("iam:PassRole", params["RoleArn"])]
            + [(f"events:{a}", EVENTS_RULE) for a in ("PutTargets", "PutRule", "DescribeRule")]
        )
    if resource == "createModelPackage":
        return [("sagemaker:CreateModelPackage", result["ModelPackageArn"])] + tagged(result["ModelPackageArn"])
    if resource == "createModel":
        model = _arn("sagemaker", f"model/{params['ModelName']}")
        return [
            ("sagemaker:CreateModel", model),
            ("iam:PassRole", params["ExecutionRoleArn"]),
            ("sagemaker:DescribeModelPackage", params["PrimaryContainer"]["ModelPackageName"]),
        ] + tagged(model)
    if resource == "createEndpointConfig":
        config = _arn("sagemaker", f"endpoint-config/{params['EndpointConfigName']}")
        return [("sagemaker:CreateEndpointConfig", config)] + tagged(config)
    if resource == "updateEndpoint":
        alarms = params["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
        return [
            ("sagemaker:UpdateEndpoint", _arn("sagemaker", f"endpoint/{params['EndpointName']}")),
            ("sagemaker:UpdateEndpoint", _arn("sagemaker", f"endpoint-config/{params['EndpointConfigName']}")),
        ] + [("cloudwatch:DescribeAlarms", _arn("cloudwatch", f"alarm:{a['AlarmName']}")) for a in alarms]
    if resource == "listObjectsV2":
        return [("s3:ListBucket", f"arn:aws:s3:::{params['Bucket']}", {"s3:prefix": params["Prefix"]})]
    if resource == "listModelPackages":
        return [
            ("sagemaker:ListModelPackages", _arn("sagemaker", f"model-package-group/{params['ModelPackageGroupName']}"))
        ]
    if resource == "describeModelPackage":
        return [("sagemaker:DescribeModelPackage", params["ModelPackageName"])]
    if resource == "updateModelPackage":
        return [("sagemaker:UpdateModelPackage", params["ModelPackageArn"])]
    if resource == "describeEndpoint":
        return [("sagemaker:DescribeEndpoint", _arn("sagemaker", f"endpoint/{params['EndpointName']}"))]
    raise AssertionError(f"no documented permissions listed for {resource}")


@pytest.mark.parametrize("env", ["prod", "dev"])
def test_the_pipeline_role_grants_every_call_the_pipeline_makes_and_nothing_else(promoted, rolled_back, dev_run, env):
    """Judged by moto's IAM policy evaluator on the calls executed runs made: with a serving model, approved, and
    (prod) rolled back."""
    runs = [promoted, rolled_back] if env == "prod" else [dev_run]
    needed = [
        (needed[0].lower(), needed[1], needed[2] if len(needed) > 2 else None)
        for run in runs
        for call in run.calls
        for needed in required_permissions(*call)
    ]
    run = runs[0]
    statements = [{**s, "Action": [a.lower() for a in _actions(s)]} for s in run.policy["Statement"]]
    policy = IAMPolicy(json.dumps({**run.policy, "Statement": statements}))  # IAM matches actions case-blind
    denied = [
        (action, arn)
        for action, arn, conditions in needed
        if policy.is_action_permitted(
            action, arn, incoming_condition_values=PASSED_TO_SAGEMAKER if action == "iam:passrole" else conditions
        )
        != PermissionResult.PERMITTED
    ]
    assert not denied, f"the pipeline role lacks: {denied}"
    unused = [
        (action, resource)
        for s in statements
        if s["Resource"] != "*"  # X-Ray and log delivery (CDK's)
        for action in s["Action"]
        for resource in _listed(s["Resource"])
        if not any(
            IAMPolicy(
                json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}],
                    }
                )
            ).is_action_permitted(action, arn)
            == PermissionResult.PERMITTED
            for needed_action, arn, _ in needed
            if needed_action == action
        )
    ]
    assert not unused, f"the pipeline role grants what no call needs: {unused}"


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _actions(statement: dict) -> list[str]:
    return _listed(statement["Action"])
