"""The promotion gate: what the training job logged, the decision, and the model package that records both.

    HasMetrics: no FinalMetricDataList at all -> NoAccuracyMetric
    -> ReadTraining -> CountMetrics -> Scores:
         no challenger_accuracy or comparison_rows -> NoAccuracyMetric
         a champion was found and the job logged its accuracy and the gain -> ReadComparison -> ComparedGate
         otherwise -> ReadAccuracy -> FloorGate
    ComparedGate: accuracy < promote_min_accuracy -> BelowFloor; rows < min_comparison_rows -> NotEnoughData;
                  accuracy_gain >= promote_min_gain -> Better; else NotBetter
    FloorGate:    accuracy < promote_min_accuracy -> BelowFloor; a champion but no gain -> CannotCompare;
                  an Approved package whose model data was not found -> ChampionModelMissing;
                  no Approved package at all (the first model) -> FirstModel
    Better, FirstModel -> RegisterApproved (then promote); BelowFloor, NotBetter -> RegisterRejected ->
    KeptCurrentModel; NotEnoughData, CannotCompare, ChampionModelMissing -> RegisterPending (PendingManualApproval)
    -> AwaitingApproval

Why the metrics are read in steps: DescribeTrainingJob has no FinalMetricDataList when the job logged no metric,
and in Step Functions a JSONPath through a missing field is a `States.Runtime` error, which no Catch sees.
`IsPresent` is tested first; each filter then runs on a list that exists (no match gives []), and an item is taken
only from a list whose length a Choice has checked. Every package records the decision, both scores, the rows and
the data URIs (`$.inputs`, pipeline_inputs.py) as strings, "none" where there is none.
"""

from __future__ import annotations

from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from infra.naming import api_tags
from infra.stacks.pipeline_inputs import NONE
from infra.stacks.pipeline_scope import PipelineScope

# what training logs (golive.contracts.training_metrics), by the name the gate gives it in $.gate
METRICS = {
    "accuracy": "challenger_accuracy",
    "rows": "comparison_rows",
    "champion_accuracy": "champion_accuracy",
    "gain": "accuracy_gain",
}
GATE_METRIC = METRICS["accuracy"]
HAS_CHAMPION = sfn.Condition.is_present("$.inputs.champion.channel")
HAS_APPROVED = sfn.Condition.not_(sfn.Condition.string_equals("$.inputs.champion.package", NONE))  # model found or not


def read_and_gate(states: PipelineScope, no_metric: sfn.Fail, promote: sfn.IChainable) -> sfn.Choice:
    """HasMetrics and everything after it up to the registered package; `promote` follows RegisterApproved."""
    read_training = sfn.Pass(
        states,
        "ReadTraining",
        parameters={  # keep only what later states use (the job's description is large); each metric is [v] or []
            "run": sfn.JsonPath.object_at("$.run"),
            "inputs": sfn.JsonPath.object_at("$.inputs"),
            "training": {
                "TrainingJobName": sfn.JsonPath.string_at("$.job.TrainingJobName"),
                "ModelArtifacts": sfn.JsonPath.string_at("$.job.ModelArtifacts.S3ModelArtifacts"),
                "BillableTimeInSeconds": sfn.JsonPath.number_at("$.job.BillableTimeInSeconds"),
                "Metrics": {
                    key: sfn.JsonPath.list_at(f"$.job.FinalMetricDataList[?(@.MetricName == '{name}')].Value")
                    for key, name in METRICS.items()
                },
            },
        },
    )
    count = sfn.Pass(
        states,
        "CountMetrics",
        result_path="$.counts",
        parameters={
            key: sfn.JsonPath.array_length(sfn.JsonPath.list_at(f"$.training.Metrics.{key}")) for key in METRICS
        },
    )
    read_training.next(count).next(_scores(states, no_metric, _decisions(states, promote)))
    return (
        sfn.Choice(states, "HasMetrics")
        .when(sfn.Condition.is_present("$.job.FinalMetricDataList"), read_training)
        .otherwise(no_metric)
    )


def _scores(states: PipelineScope, no_metric: sfn.Fail, decide: dict[str, sfn.Pass]) -> sfn.Choice:
    """`$.gate`: the metrics there are, "none" for those there are not; then the gate that applies."""
    first = {key: sfn.JsonPath.array_get_item(sfn.JsonPath.list_at(f"$.training.Metrics.{key}"), 0) for key in METRICS}
    read_comparison = sfn.Pass(states, "ReadComparison", result_path="$.gate", parameters=first)
    read_accuracy = sfn.Pass(
        states,
        "ReadAccuracy",
        result_path="$.gate",
        parameters={"accuracy": first["accuracy"], "rows": first["rows"], "champion_accuracy": "none", "gain": "none"},
    )
    config = states.config.training
    below_floor = sfn.Condition.number_less_than("$.gate.accuracy", config.promote_min_accuracy)
    read_comparison.next(
        sfn.Choice(states, "ComparedGate")
        .when(below_floor, decide["below_floor"])
        .when(sfn.Condition.number_less_than("$.gate.rows", config.min_comparison_rows), decide["not_enough_data"])
        .when(sfn.Condition.number_greater_than_equals("$.gate.gain", config.promote_min_gain), decide["better"])
        .otherwise(decide["not_better"])
    )
    read_accuracy.next(
        sfn.Choice(states, "FloorGate")
        .when(below_floor, decide["below_floor"])
        .when(HAS_CHAMPION, decide["cannot_compare"])
        .when(HAS_APPROVED, decide["champion_model_missing"])
        .otherwise(decide["first_model"])
    )
    logged = lambda key: sfn.Condition.number_greater_than(f"$.counts.{key}", 0)  # noqa: E731
    return (
        sfn.Choice(states, "Scores")
        .when(sfn.Condition.not_(sfn.Condition.and_(logged("accuracy"), logged("rows"))), no_metric)
        .when(sfn.Condition.and_(HAS_CHAMPION, logged("champion_accuracy"), logged("gain")), read_comparison)
        .otherwise(read_accuracy)
    )


def _decisions(states: PipelineScope, promote: sfn.IChainable) -> dict[str, sfn.Pass]:
    """One Pass per outcome, setting `$.decision` (what the package records), each on to its registration."""
    config = states.config.training
    floor, gain, rows = config.promote_min_accuracy, config.promote_min_gain, config.min_comparison_rows
    outcomes = {  # outcome: (state id, approval status, reason)
        "better": ("Better", "Approved", f"{METRICS['gain']} >= {gain} over the serving model on the same rows"),
        "first_model": ("FirstModel", "Approved", "no Approved model to compare with: the floor alone decides"),
        "below_floor": ("BelowFloor", "Rejected", f"{GATE_METRIC} below promote_min_accuracy {floor}"),
        "not_better": ("NotBetter", "Rejected", f"{METRICS['gain']} below promote_min_gain {gain}"),
        "not_enough_data": (
            "NotEnoughData",
            "PendingManualApproval",
            f"fewer than min_comparison_rows {rows} held-out rows: not enough data to compare",
        ),
        "cannot_compare": (
            "CannotCompare",
            "PendingManualApproval",
            f"the job logged no {METRICS['gain']} (see its log: the serving model's labels may differ)",
        ),
        "champion_model_missing": (
            "ChampionModelMissing",
            "PendingManualApproval",
            "the newest Approved package (ChampionPackage) records no ModelDataUrl, in its metadata or its "
            "InferenceSpecification: nothing to compare with",
        ),
    }
    registered = {
        "Approved": _register(states, "RegisterApproved", "Approved"),
        "Rejected": _register(states, "RegisterRejected", "Rejected"),
        "PendingManualApproval": _register(states, "RegisterPending", "PendingManualApproval"),
    }
    registered["Approved"].next(promote)
    registered["Rejected"].next(
        sfn.Succeed(states, "KeptCurrentModel", comment="registered Rejected; the endpoint keeps its model")
    )
    registered["PendingManualApproval"].next(
        sfn.Succeed(
            states, "AwaitingApproval", comment="registered PendingManualApproval; the endpoint keeps its model"
        )
    )
    decide = {}
    for outcome, (state_id, status, reason) in outcomes.items():
        decide[outcome] = sfn.Pass(
            states,
            state_id,
            result_path="$.decision",
            result=sfn.Result.from_object({"outcome": outcome, "reason": reason}),
        )
        decide[outcome].next(registered[status])
    return decide


def _text(path: str) -> str:
    """A number or string in the state, as the string CustomerMetadataProperties takes."""
    return sfn.JsonPath.format("{}", sfn.JsonPath.string_at(path))


def _register(states: PipelineScope, state_id: str, status: str) -> tasks.CallAwsService:
    config = states.config.training
    parameters = {
        "ModelPackageGroupName": states.names.model_package_group,
        "ModelApprovalStatus": status,
        "ModelPackageDescription": sfn.JsonPath.format(
            f"{{}}: {{}}. {GATE_METRIC} {{}}, champion_accuracy {{}}, accuracy_gain {{}} on {{}} held-out rows; "
            "training job {}",
            *(sfn.JsonPath.string_at(f"$.decision.{key}") for key in ("outcome", "reason")),
            *(sfn.JsonPath.string_at(f"$.gate.{key}") for key in ("accuracy", "champion_accuracy", "gain", "rows")),
            sfn.JsonPath.string_at("$.training.TrainingJobName"),
        ),
        # where the model is, whether or not an InferenceSpecification names it too; what decided, on what data
        "CustomerMetadataProperties": {
            "TrainingJobName": sfn.JsonPath.string_at("$.training.TrainingJobName"),
            "ModelDataUrl": sfn.JsonPath.string_at("$.training.ModelArtifacts"),
            "Decision": sfn.JsonPath.string_at("$.decision.outcome"),
            # the gate's settings; values take letters, digits, spaces and _.:/=+-@ only
            "PromoteMinAccuracy": str(config.promote_min_accuracy),
            "PromoteMinGain": str(config.promote_min_gain),
            "MinComparisonRows": str(config.min_comparison_rows),
            "ChallengerAccuracy": _text("$.gate.accuracy"),
            "ChampionAccuracy": _text("$.gate.champion_accuracy"),
            "AccuracyGain": _text("$.gate.gain"),
            "ComparisonRows": _text("$.gate.rows"),
            "ChampionPackage": sfn.JsonPath.string_at("$.inputs.champion.package"),
            "ChampionData": sfn.JsonPath.string_at("$.inputs.champion.uri"),
            "TrainData": sfn.JsonPath.string_at("$.inputs.train.uri"),
            "FeedbackData": sfn.JsonPath.string_at("$.inputs.feedback.uri"),
            "EvalData": sfn.JsonPath.string_at("$.inputs.eval.uri"),
        },
        "Tags": api_tags(states.config, "training"),
    }
    if states.serving_image:  # no endpoint, no serving image: UpdateModelPackage can add one later
        parameters["InferenceSpecification"] = {
            "Containers": [
                {"Image": states.serving_image, "ModelDataUrl": sfn.JsonPath.string_at("$.training.ModelArtifacts")}
            ],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
            "SupportedRealtimeInferenceInstanceTypes": [states.config.endpoint.instance_type],
        }
    return tasks.CallAwsService(
        states,
        state_id,
        service="sagemaker",
        action="createModelPackage",
        result_path="$.registered",
        iam_resources=[states.arn("model-package", f"{states.names.model_package_group}/*")],
        result_selector={"ModelPackageArn": sfn.JsonPath.string_at("$.ModelPackageArn")},
        parameters=parameters,
    )
