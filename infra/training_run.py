"""One SageMaker training job, run from a terminal with the sagemaker SDK (sagemaker-core's TrainingJob): started,
followed (status changes and the job's CloudWatch log as they come), stopped on Ctrl-C, and judged at its end.

Ctrl-C once sends StopTrainingJob and keeps following the job until it has stopped; Ctrl-C again leaves at once
(the job stops on its own). What went wrong (quota, spot capacity, time limits, the job's own failure) is a
UserError that says what to do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from golive.aws_errors import aws_errors
from golive.errors import UserError
from infra.config import TrainingSettings

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
ENDED = ("Completed", "Failed", "Stopped")
Say = Callable[[str], None]


def pause(seconds: float) -> None:
    """Between two looks at the job (tests replace it: moto's jobs end at once, and Ctrl-C arrives here)."""
    time.sleep(seconds)


def start(session, request: dict, training: TrainingSettings) -> Any:
    """CreateTrainingJob with `request` (the API's own shape), through the SDK; the job as a sagemaker-core
    TrainingJob. A quota too small for the instances is a UserError naming the quota to raise."""
    from botocore.exceptions import ClientError
    from sagemaker.core.resources import TrainingJob
    from sagemaker.core.utils.code_injection.codec import transform

    name, role = request["TrainingJobName"], request["RoleArn"]
    needs = f"sagemaker:CreateTrainingJob, sagemaker:AddTags and iam:PassRole on {role}"
    with aws_errors(f"cannot start training job {name}", needs):
        try:
            return TrainingJob.create(
                **transform(request, "CreateTrainingJobRequest"), session=session, region=session.region_name
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceLimitExceeded":
                raise
            raise UserError(_quota_message(exc.response["Error"].get("Message", ""), training)) from None


def _quota_message(aws_message: str, training: TrainingSettings) -> str:
    kind = "spot training job usage" if training.use_spot else "training job usage"
    other = "--spot false (on-demand has a quota of its own)" if training.use_spot else "--spot true"
    return (
        f"SageMaker refused the job: {aws_message} Ask for more in Service Quotas (Amazon SageMaker, "
        f"'{training.instance_type} for {kind}': new accounts start at 0), or try another --instance-type or {other}"
    )


class LogFollower:
    """The job's log streams in CloudWatch (`<job>/algo-N-...`, one per instance), read forward from where the
    last look ended."""

    def __init__(self, logs, job_name: str) -> None:
        self.logs, self.prefix = logs, f"{job_name}/"
        self.tokens: dict[str, str | None] = {}

    def new_lines(self) -> Iterator[tuple[str, str]]:
        """(host, message) for each event written since the last call, stream by stream."""
        from botocore.exceptions import ClientError

        try:
            pages = self.logs.get_paginator("describe_log_streams").paginate(
                logGroupName=LOG_GROUP, logStreamNamePrefix=self.prefix
            )
            streams = [s["logStreamName"] for page in pages for s in page["logStreams"]]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":  # no log written yet
                return
            raise
        for stream in streams:
            host = stream[len(self.prefix) :].rsplit("-", 1)[0]
            while True:
                token = self.tokens.get(stream)
                page = self.logs.get_log_events(
                    logGroupName=LOG_GROUP,
                    logStreamName=stream,
                    startFromHead=True,
                    **({"nextToken": token} if token else {}),
                )
                self.tokens[stream] = page["nextForwardToken"]
                for event in page["events"]:
                    yield host, event["message"]
                if not page["events"] or page["nextForwardToken"] == token:
                    break


@dataclass
class Watch:
    """Follows one job: a line per status change, the log as it comes, until the job has ended."""

    job: Any  # sagemaker.core.resources.TrainingJob
    logs: LogFollower
    say: Say
    poll_seconds: float
    several_hosts: bool = False
    _shown: tuple = ()
    _started: float = 0.0

    def until_ended(self) -> None:
        name = self.job.training_job_name
        self._started = self._started or time.monotonic()
        with aws_errors(
            f"lost touch with training job {name} (it goes on in SageMaker: `aws sagemaker describe-training-job "
            f"--training-job-name {name}`)",
            "sagemaker:DescribeTrainingJob, logs:DescribeLogStreams and logs:GetLogEvents",
        ):
            while True:
                self.job.refresh()
                self._status()
                self._log()
                if self.job.training_job_status in ENDED:
                    return
                pause(self.poll_seconds)

    def _status(self) -> None:
        job = self.job
        transitions = list(job.secondary_status_transitions or [])
        message = (transitions[-1].status_message or "") if transitions else ""
        shown = (job.training_job_status, job.secondary_status, message)
        if shown != self._shown:
            self._shown = shown
            minutes, seconds = divmod(int(time.monotonic() - self._started), 60)
            self.say(f"[{minutes:3d}:{seconds:02d}] {job.secondary_status}" + (f": {message}" if message else ""))

    def _log(self) -> None:
        for host, message in self.logs.new_lines():
            self.say(f"[{host}] {message}" if self.several_hosts else message)


def follow(job, session, say: Say, poll_seconds: float) -> bool:
    """Follow `job` to its end; Ctrl-C stops it (True: stopped from here). A second Ctrl-C leaves at once."""
    name = job.training_job_name
    hosts = job.resource_config.instance_count if job.resource_config else 1
    logs = LogFollower(session.client("logs", region_name=session.region_name), name)
    watch = Watch(job, logs, say, poll_seconds, several_hosts=hosts > 1)
    try:
        watch.until_ended()
        return False
    except KeyboardInterrupt:
        pass
    say(f"\nCtrl-C: stopping training job {name} (StopTrainingJob); Ctrl-C again leaves it to stop on its own")
    _stop(job, say)
    try:
        watch.until_ended()
    except KeyboardInterrupt:
        say(
            f"left training job {name} stopping on its own; `aws sagemaker describe-training-job "
            f"--training-job-name {name}` follows it"
        )
    return True


def _stop(job, say: Say) -> None:
    """StopTrainingJob; a job that ended meanwhile is told apart (SageMaker answers ValidationException)."""
    from botocore.exceptions import ClientError

    name = job.training_job_name
    with aws_errors(f"cannot stop training job {name}; stop it in the SageMaker console", "sagemaker:StopTrainingJob"):
        try:
            job.stop()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ValidationException":
                raise
            say(f"training job {name} had ended already: {exc.response['Error'].get('Message')}")


def ending_problem(job, training: TrainingSettings) -> str | None:
    """Why a job that ended did not complete, and what to do about it; None when it completed."""
    status, secondary, reason = job.training_job_status, job.secondary_status, job.failure_reason or ""
    if status == "Completed":
        return None
    name = job.training_job_name
    if secondary == "MaxWaitTimeExceeded":
        return (
            f"training job {name} got no spot capacity for {training.instance_type} (or ran out of time) within "
            f"max_wait_hours ({training.max_wait_hours:g}); try again later, raise --max-wait-hours, try another "
            "--instance-type or region, or run on demand with --spot false"
        )
    if secondary == "MaxRuntimeExceeded":
        return f"training job {name} ran past max_run_hours ({training.max_run_hours:g}); raise --max-run-hours"
    if "CapacityError" in reason or "capacity" in reason.lower():
        return (
            f"training job {name} failed: {reason}. SageMaker has no {training.instance_type} capacity now; try "
            "again later, another --instance-type or region" + (", or --spot false" if training.use_spot else "")
        )
    if status == "Stopped":
        return f"training job {name} was stopped before it finished (StopTrainingJob); nothing to download"
    return f"training job {name} failed: {reason or 'no reason given'}. Its log is above (CloudWatch: {LOG_GROUP})"


def summary(job) -> str:
    """Billable time (what spot saved) and the final metrics SageMaker read from the log."""
    trained, billable = job.training_time_in_seconds, job.billable_time_in_seconds
    parts = []
    if billable:
        saved = f" (managed spot saved {1 - billable / trained:.0%})" if trained and billable < trained else ""
        parts.append(f"billable {billable} s{saved}")
    metrics = [f"{m.metric_name}={m.value:g}" for m in job.final_metric_data_list or []]
    if metrics:
        parts.append("final metrics: " + ", ".join(metrics))
    return f"training job {job.training_job_name} completed" + (f"; {'; '.join(parts)}" if parts else "")
