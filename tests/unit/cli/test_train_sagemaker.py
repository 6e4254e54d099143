"""`golive train --sagemaker` against moto (S3, CloudFormation, IAM, KMS, CloudWatch Logs, SageMaker) through the
sagemaker SDK, on a hand-written bundle. What moto cannot do is bridged by botocore's Stubber on the SDK's own
SageMaker client, and nowhere else: a job still running (moto's are Completed at once), StopTrainingJob (not
implemented by moto), and SageMaker's refusals (quota, access denied) and endings (spot capacity, time limits).
The tiny trained bundle's end-to-end run is tests/test_train_sagemaker.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.stub import Stubber

import infra.training_run as training_run
from cli.main import main
from golive.bundle import read_manifest, verify_bundle
from infra.config import load_config
from tests.moto_data_stack import (
    deploy_data_stack,
    described,
    launcher_session,
    put_bundle,
    sdk_sagemaker_client,
)

JOB = "golive-dev-cli-test"
DEV = load_config("dev").training
RUN = ["train", "--sagemaker", "--job-name", JOB]


@pytest.fixture()
def aws(monkeypatch):
    yield from launcher_session(monkeypatch)


@pytest.fixture()
def deployed(aws):
    return deploy_data_stack(aws)


@pytest.fixture()
def ctrl_c(monkeypatch):
    """Ctrl-C during the waits between looks at the job: the n-th pauses (1-based) raise KeyboardInterrupt."""
    pauses: list[float] = []

    def press_at(*at: int) -> list[float]:
        def pause(seconds: float) -> None:
            pauses.append(seconds)
            if len(pauses) in at:
                raise KeyboardInterrupt

        monkeypatch.setattr(training_run, "pause", pause)
        return pauses

    return press_at


def stubbed(session, *answers: dict, stop: bool = False) -> Stubber:
    """CreateTrainingJob accepted, then DescribeTrainingJob answers in turn; StopTrainingJob after the first
    `stop` answers when asked for."""
    stub = Stubber(sdk_sagemaker_client(session))
    stub.add_response("create_training_job", {"TrainingJobArn": answers[0]["TrainingJobArn"]})
    for i, answer in enumerate(answers):
        stub.add_response("describe_training_job", answer, {"TrainingJobName": JOB})
        if stop and i == 1:
            stub.add_response("stop_training_job", {}, {"TrainingJobName": JOB})
    stub.activate()
    return stub


def test_the_whole_run_on_moto_uploads_local_channels_and_installs_the_bundle(
    aws, deployed, handmade_bundle, tmp_path, capsys
):
    data, model = tmp_path / "data", tmp_path / "base"
    (data / "more").mkdir(parents=True)
    (data / "a.tsv").write_text("text\tlabel\nfine\tpos\n")
    (data / "b.jsonl").write_text('{"text": "bad", "label": "neg"}\n')
    (data / "notes.txt").write_text("not data")  # training reads no .txt: not uploaded
    (model / "sub").mkdir(parents=True)
    (model / "config.json").write_text("{}")
    (model / "sub" / "vocab.txt").write_text("[PAD]")
    put_bundle(aws, deployed, JOB, handmade_bundle, tmp_path)
    out = tmp_path / "out"

    args = [
        "--data",
        str(data),
        "--validation",
        "s3://elsewhere/val.tsv",
        "--base-model",
        str(model),
        "--out",
        str(out),
    ]
    assert main([*RUN, *args]) == 0, capsys.readouterr().err
    assert verify_bundle(out) == verify_bundle(handmade_bundle)
    printed = capsys.readouterr().out
    assert (
        "uploading --data" in printed
        and "(2 files" in printed
        and f"bundle {read_manifest(out).version_id} in" in printed
    )

    job = aws.client("sagemaker").describe_training_job(TrainingJobName=JOB)
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in job["InputDataConfig"]}
    base = f"s3://{deployed.data_bucket}/cli-jobs/{JOB}/"
    assert channels == {"train": f"{base}train/", "validation": "s3://elsewhere/val.tsv", "model": f"{base}model/"}
    keys = {o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=deployed.data_bucket)["Contents"]}
    prefix = f"cli-jobs/{JOB}/"
    assert {k for k in keys if k.startswith(prefix)} == {
        prefix + name
        for name in (
            "train/a.tsv",
            "train/b.jsonl",
            "model/config.json",
            "model/sub/vocab.txt",
            "source/sourcedir.tar.gz",
        )
    }


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--instance-type", "ml.g5.2xlarge"], "--instance-type apply only to a SageMaker run: add --sagemaker"),
        (["--env", "prod", "--spot", "false"], "--env, --spot apply only to a SageMaker run"),
        (
            [*RUN, "--checkpoint-dir", "ck"],
            "--checkpoint-dir does not apply with --sagemaker: the job checkpoints to S3",
        ),
        ([*RUN, "--export", "false"], "--export does not apply with --sagemaker"),
        ([*RUN, "--num-gpus", "2"], "--num-gpus does not apply with --sagemaker: SageMaker sets it"),
        ([*RUN, "--instance-type", "ml.c5.xlarge"], "--instance-type: 'ml.c5.xlarge' is not a SageMaker GPU instance"),
        ([*RUN, "--max-run-hours", "9"], "max_wait_hours must be at least max_run_hours when use_spot is true"),
        ([*RUN, "--env", "qa"], "unknown environment 'qa'"),
        ([*RUN, "--epochs", "0"], "--epochs must be positive, got 0"),
    ],
)
def test_mistakes_are_named_before_any_aws_call(flags, message, capsys):
    """No moto here: a call to AWS would fail on credentials, not with these messages."""
    if flags[0] != "train":
        flags = ["train", *flags]
    assert main(flags) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_without_credentials_it_says_how_to_get_them(no_aws_credentials, tmp_path, capsys):
    assert main([*RUN, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "no AWS credentials found; configure them with `aws configure`" in err and "Traceback" not in err


def test_an_environment_that_is_not_deployed_says_what_to_deploy(aws, tmp_path, capsys):
    assert main([*RUN, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "the dev environment is not deployed in us-east-1 (no stack golive-dev-data)" in err
    assert "npx cdk deploy golive-dev-data -c env=dev" in err


def test_a_quota_too_small_names_the_quota_to_raise(aws, deployed, tmp_path, capsys):
    stub = Stubber(sdk_sagemaker_client(aws))
    limit = "The account-level service limit 'ml.g5.xlarge for spot training job usage' is 0 Instances."
    stub.add_client_error("create_training_job", "ResourceLimitExceeded", limit, http_status_code=400)
    with stub:
        assert main([*RUN, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert limit in err and "Service Quotas (Amazon SageMaker, 'ml.g5.xlarge for spot training job usage'" in err
    assert "--spot false" in err and "Traceback" not in err


def test_access_denied_names_the_permissions(aws, deployed, tmp_path, capsys):
    stub = Stubber(sdk_sagemaker_client(aws))
    stub.add_client_error("create_training_job", "AccessDeniedException", "not authorized", http_status_code=400)
    with stub:
        assert main([*RUN, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "cannot start training job golive-dev-cli-test: AWS answered AccessDeniedException" in err
    assert (
        f"need sagemaker:CreateTrainingJob, sagemaker:AddTags and iam:PassRole on {deployed.training_role_arn}" in err
    )


def test_ctrl_c_stops_the_job_and_says_so(aws, deployed, ctrl_c, tmp_path, capsys):
    pauses = ctrl_c(1)
    running = described(JOB, "InProgress", "Training", message="Training image download completed.")
    stub = stubbed(
        aws, running, running, described(JOB, "Stopping", "Stopping"), described(JOB, "Stopped", "Stopped"), stop=True
    )
    assert main([*RUN, "--out", str(tmp_path / "out")]) == 130
    stub.assert_no_pending_responses()  # StopTrainingJob was sent, for this job, after the first Ctrl-C
    printed = capsys.readouterr().out
    assert f"Ctrl-C: stopping training job {JOB} (StopTrainingJob)" in printed
    assert (
        f"training job {JOB} stopped; nothing downloaded (checkpoints: s3://{deployed.models_bucket}/checkpoints/{JOB}/)"
        in printed
    )
    assert len(pauses) == 2 and not (tmp_path / "out").exists()


def test_a_second_ctrl_c_leaves_at_once(aws, deployed, ctrl_c, tmp_path, capsys):
    ctrl_c(1, 2)
    running = described(JOB, "InProgress", "Training")
    stub = stubbed(aws, running, running, described(JOB, "Stopping", "Stopping"), stop=True)
    assert main([*RUN, "--out", str(tmp_path / "out")]) == 130
    stub.assert_no_pending_responses()  # nothing more asked of SageMaker after the second Ctrl-C
    assert f"left training job {JOB} stopping on its own" in capsys.readouterr().out


def test_ctrl_c_as_the_job_completes_still_installs_the_bundle(
    aws, deployed, ctrl_c, handmade_bundle, tmp_path, capsys
):
    ctrl_c(1)
    running = described(JOB, "InProgress", "Uploading")
    stub = Stubber(sdk_sagemaker_client(aws))
    stub.add_response("create_training_job", {"TrainingJobArn": running["TrainingJobArn"]})
    stub.add_response("describe_training_job", running)
    stub.add_response("describe_training_job", running)
    stub.add_client_error("stop_training_job", "ValidationException", "The job status is Completed.", 400)
    done = described(
        JOB,
        "Completed",
        "Completed",
        models_bucket=deployed.models_bucket,
        TrainingTimeInSeconds=1000,
        BillableTimeInSeconds=400,
        FinalMetricDataList=[{"MetricName": "eval_accuracy", "Value": 0.91, "Timestamp": datetime.now(UTC)}],
    )
    stub.add_response("describe_training_job", done)
    put_bundle(aws, deployed, JOB, handmade_bundle, tmp_path)
    with stub:
        assert main([*RUN, "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert f"training job {JOB} had ended already: The job status is Completed." in printed
    assert (
        f"training job {JOB} completed; billable 400 s (managed spot saved 60%); final metrics: eval_accuracy=0.91"
        in printed
    )
    assert verify_bundle(tmp_path / "out") == verify_bundle(handmade_bundle)


@pytest.mark.parametrize(
    "ending, message",
    [
        (("Stopped", "MaxWaitTimeExceeded", ""), "got no spot capacity for ml.g5.xlarge (or ran out of time)"),
        (
            ("Stopped", "MaxRuntimeExceeded", ""),
            f"ran past max_run_hours ({DEV.max_run_hours:g}); raise --max-run-hours",
        ),
        (
            ("Failed", "Failed", "CapacityError: Unable to provision requested ML compute capacity."),
            "SageMaker has no ml.g5.xlarge capacity now; try again later, another --instance-type or region, or --spot false",
        ),
        (
            ("Failed", "Failed", "AlgorithmError: training exited with code 2"),
            "failed: AlgorithmError: training exited",
        ),
        (("Stopped", "Stopped", ""), "was stopped before it finished (StopTrainingJob); nothing to download"),
    ],
)
def test_a_job_that_does_not_complete_says_why_and_what_to_do(aws, deployed, ctrl_c, ending, message, tmp_path, capsys):
    ctrl_c()  # no Ctrl-C: pauses return at once
    status, secondary, reason = ending
    waiting = described(
        JOB,
        "InProgress",
        "Starting",
        message="Insufficient capacity error from EC2 while launching instances, retrying!",
    )
    stub = stubbed(aws, waiting, waiting, described(JOB, status, secondary, failure_reason=reason))
    assert main([*RUN, "--out", str(tmp_path / "out")]) == 2
    stub.assert_no_pending_responses()
    captured = capsys.readouterr()
    assert "Starting: Insufficient capacity error from EC2 while launching instances, retrying!" in captured.out
    assert message in captured.err and "Traceback" not in captured.err
