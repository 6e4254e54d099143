"""What a pipeline run trains and compares on: the training job's channels, found per run, before Train.

    TrainingData ($.inputs.train: s3://<data>/train/, always)
      -> HasFeedback: the execution input's feedback_uri (golive.contracts.feedback_exports.PipelineInput)
           absent -> NoFeedback; under s3://<data>/feedback-exports/ -> WithFeedback; anything else -> InvalidInput
      -> FindEvalSet (ListObjectsV2 under eval/, the folder marker skipped) -> HasEvalSet -> WithEvalSet | NoEvalSet
      -> FindChampion (the newest Approved package in the group) -> HasChampion -> DescribeChampion | NoChampion
           -> ChampionHasModel: its CustomerMetadataProperties.ModelDataUrl -> WithChampion, else its
              InferenceSpecification.Containers[0].ModelDataUrl -> ReadChampionSpec -> WithChampionSpec, else
              ChampionWithoutModel
      -> ListChannels ($.channels.all: the four entries; Train takes those whose uri is not "none")

Each entry is `{"uri": ..., "channel": <InputDataConfig channel>}`, or `{"uri": "none"}` when the run has no such
data, so the model package records every URI the run used (pipeline_gate.py) and Train's InputDataConfig is one
JSONPath filter: Step Functions has no intrinsic that appends to an array.

The evaluation set is looked for at each run rather than switched on in the config: SageMaker fails a job whose
channel prefix holds no object, so the channel is added only when something is under eval/ (upload a file there
and the next run uses it). Feedback comes only from the execution input, which the retraining trigger fills in.
"""

from __future__ import annotations

from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from golive.contracts.feedback_exports import (
    CHAMPION_CHANNEL,
    EVAL_CHANNEL,
    EVAL_PREFIX,
    EXPORT_PREFIX,
    FEEDBACK_CHANNEL,
)
from infra.stacks.pipeline_scope import PipelineScope
from infra.training_job import s3_channel

TRAIN_CHANNEL, TRAIN_PREFIX = "train", "train/"
NONE = "none"  # an entry's uri when the run has no such data; what the model package records for it
CHANNELS = "$.channels.all[?(@.uri != 'none')].channel"  # Train's InputDataConfig


def _entry(uri: str, channel: str) -> dict:
    """A channel of every object under `uri` (a URI, or `sfn.JsonPath.string_at` for one read per run)."""
    return {"uri": uri, "channel": s3_channel(channel, uri)}


def find_inputs(states: PipelineScope, train: sfn.IChainable) -> sfn.IChainable:
    """The states from TrainingData to ListChannels, which goes on to `train`."""
    bucket = states.data.data.bucket_name
    training_data = sfn.Pass(
        states,
        "TrainingData",
        result_path="$.inputs",
        parameters={"train": _entry(f"s3://{bucket}/{TRAIN_PREFIX}", TRAIN_CHANNEL)},
    )
    list_channels = sfn.Pass(
        states,
        "ListChannels",
        result_path="$.channels",
        parameters={
            "all": sfn.JsonPath.array(
                *(sfn.JsonPath.string_at(f"$.inputs.{n}") for n in ("train", "feedback", "eval", "champion"))
            )
        },
    )
    list_channels.next(train)
    find_champion = _champion(states, list_channels)
    find_eval = _eval_set(states, find_champion)
    return training_data.next(_feedback(states, find_eval))


def _feedback(states: PipelineScope, then: sfn.IChainable) -> sfn.Choice:
    exports = f"s3://{states.data.data.bucket_name}/{EXPORT_PREFIX}"
    with_feedback = sfn.Pass(
        states,
        "WithFeedback",
        result_path="$.inputs.feedback",
        parameters=_entry(sfn.JsonPath.string_at("$.feedback_uri"), FEEDBACK_CHANNEL),
    )
    no_feedback = sfn.Pass(states, "NoFeedback", result_path="$.inputs.feedback", parameters={"uri": NONE})
    invalid = sfn.Fail(
        states,
        "InvalidInput",
        error="InvalidInput",
        cause=f"feedback_uri must be an s3:// URI under {exports} (golive.contracts.feedback_exports.PipelineInput); "
        "start the pipeline with {} to train without feedback",
    )
    with_feedback.next(then)
    no_feedback.next(then)
    return (
        sfn.Choice(states, "HasFeedback")
        .when(sfn.Condition.not_(sfn.Condition.is_present("$.feedback_uri")), no_feedback)
        .when(
            sfn.Condition.and_(
                sfn.Condition.is_string("$.feedback_uri"),
                sfn.Condition.string_matches("$.feedback_uri", f"{exports}*"),
            ),
            with_feedback,
        )
        .otherwise(invalid)
    )


def _eval_set(states: PipelineScope, then: sfn.IChainable) -> sfn.IChainable:
    """Whether anything is under eval/ (one key is enough; the console's folder marker `eval/` is skipped)."""
    bucket = states.data.data.bucket_name
    find = (
        sfn.CustomState(  # CallAwsService would grant ListBucket on the whole bucket; pipeline_grants holds it to eval/
            states,
            "FindEvalSet",
            state_json={
                "Type": "Task",
                "Resource": f"arn:{states.stack.partition}:states:::aws-sdk:s3:listObjectsV2",
                "Parameters": {"Bucket": bucket, "Prefix": EVAL_PREFIX, "StartAfter": EVAL_PREFIX, "MaxKeys": 1},
                "ResultSelector": {"KeyCount.$": "$.KeyCount"},
                "ResultPath": "$.found",
            },
        )
    )
    with_eval = sfn.Pass(
        states,
        "WithEvalSet",
        result_path="$.inputs.eval",
        parameters=_entry(f"s3://{bucket}/{EVAL_PREFIX}", EVAL_CHANNEL),
    )
    no_eval = sfn.Pass(states, "NoEvalSet", result_path="$.inputs.eval", parameters={"uri": NONE})
    with_eval.next(then)
    no_eval.next(then)
    has_eval = (
        sfn.Choice(states, "HasEvalSet")
        .when(sfn.Condition.number_greater_than("$.found.KeyCount", 0), with_eval)
        .otherwise(no_eval)
    )
    return find.next(has_eval)


def _champion(states: PipelineScope, then: sfn.IChainable) -> sfn.IChainable:
    """The model serving now: the newest Approved package (a rolled-back one is marked Rejected, pipeline_promote)
    and its model.tar.gz (_champion_model)."""
    find = tasks.CallAwsService(
        states,
        "FindChampion",
        service="sagemaker",
        action="listModelPackages",
        iam_resources=["*"],  # ListModelPackages takes no resource ARN
        result_path="$.found",
        result_selector={"Arns": sfn.JsonPath.list_at("$.ModelPackageSummaryList[*].ModelPackageArn")},  # [arn] or []
        parameters={
            "ModelPackageGroupName": states.names.model_package_group,
            "ModelApprovalStatus": "Approved",
            "SortBy": "CreationTime",
            "SortOrder": "Descending",
            "MaxResults": 1,
        },
    )
    describe = tasks.CallAwsService(
        states,
        "DescribeChampion",
        service="sagemaker",
        action="describeModelPackage",
        iam_resources=[states.arn("model-package", f"{states.names.model_package_group}/*")],
        result_path="$.found.Champion",  # whole: a selector through a missing field would be a States.Runtime error
        parameters={"ModelPackageName": sfn.JsonPath.array_get_item(sfn.JsonPath.list_at("$.found.Arns"), 0)},
    )
    no_champion = sfn.Pass(
        states, "NoChampion", result_path="$.inputs.champion", parameters={"uri": NONE, "package": NONE}
    )
    no_champion.next(then)
    has_champion = (
        sfn.Choice(states, "HasChampion")
        .when(sfn.Condition.is_present("$.found.Arns[0]"), describe.next(_champion_model(states, then)))
        .otherwise(no_champion)
    )
    return find.next(has_champion)


def _champion_model(states: PipelineScope, then: sfn.IChainable) -> sfn.Choice:
    """The champion's model.tar.gz: the ModelDataUrl every package the pipeline registers records in its metadata,
    else its InferenceSpecification's (what the endpoint deploys; packages from older golive or registered by hand).
    With neither, `package` names it and `uri` is "none": the gate cannot compare (pipeline_gate.py), since only a
    group with no Approved package is a first model."""
    package = {"package": sfn.JsonPath.string_at("$.found.Champion.ModelPackageArn")}
    metadata = "$.found.Champion.CustomerMetadataProperties.ModelDataUrl"
    containers = "$.found.Champion.InferenceSpecification.Containers"

    def champion(state_id: str, uri: str) -> sfn.Pass:
        return sfn.Pass(
            states,
            state_id,
            result_path="$.inputs.champion",
            parameters=_entry(uri, CHAMPION_CHANNEL) | package,
        )

    # [*], then the first item: the container IsPresent checked (a path through [0] is one value in Step Functions
    # but a list in moto's interpreter; a list and ArrayGetItem are the same in both, as FindChampion's Arns)
    read_spec = sfn.Pass(
        states,
        "ReadChampionSpec",
        result_path="$.found.Spec",
        parameters={"ModelDataUrls": sfn.JsonPath.list_at(f"{containers}[*].ModelDataUrl")},
    )
    from_spec = champion(
        "WithChampionSpec",
        sfn.JsonPath.array_get_item(sfn.JsonPath.list_at("$.found.Spec.ModelDataUrls"), 0),
    )
    without_model = sfn.Pass(
        states, "ChampionWithoutModel", result_path="$.inputs.champion", parameters={"uri": NONE} | package
    )
    return (  # IsPresent first: no JSONPath reaches through a missing field
        sfn.Choice(states, "ChampionHasModel")
        .when(sfn.Condition.is_present(metadata), champion("WithChampion", sfn.JsonPath.string_at(metadata)).next(then))
        .when(sfn.Condition.is_present(f"{containers}[0].ModelDataUrl"), read_spec.next(from_spec).next(then))
        .otherwise(without_model.next(then))
    )
