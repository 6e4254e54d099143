"""`golive train --sagemaker`: the same training flags, run as one SageMaker GPU training job of a deployed
environment. Local data, --base-model and --champion are uploaded as the job's channels (cli/sagemaker_upload.py),
the source goes as the pipeline ships it, the environment's training.hyperparameters with the training flags typed
here over them are the job's hyperparameters (checked by golive.contracts.hyperparameters); the job's log is
streamed here, Ctrl-C stops it, and its bundle is unpacked into --out as a local run would write it.

The job itself is infra/training_job.py (what it is made of) and infra/training_run.py (following it)."""

from __future__ import annotations

import argparse
import re
import tempfile
from collections.abc import Collection
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

from cli.arguments import positive_float, utf8_text
from golive.errors import UserError
from training.args import TrainArguments, arguments_from, str2bool

POLL_SECONDS = 15.0
# flags of a local run that SageMaker decides on a job, and why
LOCAL_ONLY = {
    "checkpoint_dir": "the job checkpoints to S3 by itself (s3://<models bucket>/checkpoints/<job>/)",
    "output_data_dir": "SageMaker sets it (the job's output.tar.gz)",
    "num_gpus": "SageMaker sets it from the instance type",
    "export": "the job must write the bundle that is downloaded into --out",
}
# SageMaker flags: the TrainingSettings field each overrides
OVERRIDES = {
    "instance_type": "instance_type",
    "instance_count": "instance_count",
    "spot": "use_spot",
    "max_run_hours": "max_run_hours",
    "max_wait_hours": "max_wait_hours",
}


def job_name(value: str) -> str:
    """argparse type for a training job name, as SageMaker takes it."""
    if not re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a job name: up to 63 letters, digits and hyphens")
    return value


def add_sagemaker_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "SageMaker", "run as one SageMaker training job of a deployed environment (README: golive train --sagemaker)"
    )
    group.add_argument(
        "--sagemaker",
        action="store_true",
        help="train on a SageMaker GPU instance: upload, run, stream the log, download the bundle into --out",
    )
    group.add_argument(
        "--env",
        help="the deployed environment whose buckets, role, training settings and hyperparameters the job uses "
        "(default: dev)",
    )
    group.add_argument(
        "--instance-type",
        type=utf8_text,
        help="a GPU instance type (default: the environment's training.instance_type)",
    )
    group.add_argument(
        "--instance-count", type=int, help="instances (default: the environment's training.instance_count)"
    )
    group.add_argument(
        "--spot",
        type=str2bool,
        nargs="?",
        const=True,
        metavar="BOOL",
        help="managed spot, resumed from S3 checkpoints (default: the environment's training.use_spot)",
    )
    group.add_argument(
        "--max-run-hours",
        type=positive_float,
        help="stop the job after this long (default: the environment's training.max_run_hours)",
    )
    group.add_argument(
        "--max-wait-hours",
        type=positive_float,
        help="spot: how long to wait for capacity, run time included (default: the environment's training.max_wait_hours)",
    )
    group.add_argument(
        "--role", type=utf8_text, help="IAM role ARN the job runs as (default: the data stack's TrainingRoleArn output)"
    )
    group.add_argument(
        "--job-name",
        type=job_name,
        help="the job's name, unique in the account and region (default: golive-<env>-cli-<UTC time>)",
    )


def refuse_without_sagemaker(ns: argparse.Namespace) -> None:
    given = [name for name in ("env", "role", "job_name", *OVERRIDES) if getattr(ns, name) is not None]
    if given and not ns.sagemaker:
        flags = ", ".join(f"--{name.replace('_', '-')}" for name in given)
        raise UserError(f"{flags} apply only to a SageMaker run: add --sagemaker (or leave them out to train here)")


def launch(ns: argparse.Namespace) -> int:
    """Upload, start, follow, download: 0 with the bundle in --out, 130 when Ctrl-C stopped the job."""
    from cli.sagemaker_upload import job_channels, upload
    from infra.config import load_config
    from infra.deployed import deployed_data
    from infra.naming import Names
    from infra.training_job import cli_job_request
    from infra.training_run import ending_problem, follow, start, summary

    args = arguments_from(ns)
    _refuse_local_only(args)
    _require_sdk()
    out = Path(args.out)
    if out.is_file():
        raise UserError(f"--out {out} is a file; the bundle is a folder")
    config = load_config(ns.env or "dev")
    config = config.model_copy(update={"training": _training_settings(config, ns)})
    hyperparameters, origins = _hyperparameters(args, ns.typed_options, config)
    local = job_channels(args)  # every local channel checked (a champion verified) before any AWS call
    session = aws_session(config.region)
    deployed = deployed_data(session, config)
    name = ns.job_name or f"{Names(config).prefix}-cli-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    source_url, channels = upload(session, deployed.data_bucket, name, local)
    request = cli_job_request(config, deployed, name, source_url, channels, hyperparameters, ns.role)
    job = start(session, request, config.training)
    _say(origins)
    _say(_started(job, config))
    if follow(job, session, _say, POLL_SECONDS) and job.training_job_status != "Completed":
        checkpoints = request["CheckpointConfig"]["S3Uri"]
        _say(
            f"training job {name} {str(job.training_job_status).lower()}; nothing downloaded (checkpoints: {checkpoints})"
        )
        return 130
    problem = ending_problem(job, config.training)
    if problem:
        raise UserError(problem)
    _say(summary(job))
    manifest = _install_bundle(session, str(job.model_artifacts.s3_model_artifacts), out)
    _say(
        f"bundle {manifest.version_id} in {out}/ (labels: {', '.join(manifest.labels)}); serve it with `golive serve --model {out}`"
    )
    return 0


def aws_session(region: str):
    """The boto3 session every call of a run goes through (a test hands in its own, to watch or stub its clients)."""
    import boto3

    from golive.aws_errors import aws_errors

    with aws_errors(f"cannot open an AWS session in {region}"):  # botocore reads the profile here
        return boto3.Session(region_name=region)


def _require_sdk() -> None:
    try:
        from sagemaker.core import resources  # noqa: F401
    except ImportError:
        raise UserError(
            "--sagemaker needs the sagemaker SDK's core: pip install -e '.[sagemaker]' (or '.[all]')"
        ) from None


def _say(line: str) -> None:
    print(line, flush=True)


def _refuse_local_only(args: TrainArguments) -> None:
    defaults = {f.name: f.default for f in fields(TrainArguments)}
    for name, why in LOCAL_ONLY.items():
        if getattr(args, name) != defaults[name]:
            raise UserError(f"--{name.replace('_', '-')} does not apply with --sagemaker: {why}; leave it out")


def _training_settings(config, ns: argparse.Namespace):
    """The environment's training settings with the flags' overrides, checked as the environment's file is."""
    from pydantic import ValidationError

    from infra.config import TrainingSettings

    changes = {field: getattr(ns, name) for name, field in OVERRIDES.items() if getattr(ns, name) is not None}
    try:
        return TrainingSettings.model_validate({**config.training.model_dump(), **changes})
    except ValidationError as exc:
        flags = {field: f"--{name.replace('_', '-')}" for name, field in OVERRIDES.items()}
        problems = [
            f"{flags.get(str(err['loc'][0]), err['loc'][0]) if err['loc'] else 'training'}: "
            + err["msg"].removeprefix("Value error, ")
            for err in exc.errors()
        ]
        raise UserError(f"with the {config.name} environment's training settings, " + "; ".join(problems)) from None


def _hyperparameters(args: TrainArguments, typed: Collection[str], config) -> tuple[dict[str, str], str]:
    """The environment's training.hyperparameters (what its pipeline trains with), the training flags typed here
    over them (a flag left out keeps the environment's value, else training's default); and a line saying where
    each came from. The environment's were checked when its file loaded; the flags' strings are checked here by
    the contract the pipeline's are checked with."""
    from golive.contracts.hyperparameters import HYPERPARAMETERS, flag, hyperparameter_problems

    flags = {flag(name): _flag_value(getattr(args, name)) for name in HYPERPARAMETERS if name in typed}
    kept = {key: value for key, value in config.training.hyperparameters.items() if key not in flags}
    problems = hyperparameter_problems(flags)
    if problems:
        raise UserError("; ".join(problems))
    origins = [f"{_listed(kept)} ({config.name} environment)"] if kept else []
    origins += [f"{_listed(flags)} (flags)"] if flags else []
    return {**kept, **flags}, "hyperparameters: " + (", ".join(origins) or "none: training's defaults")


def _listed(values: dict[str, str]) -> str:
    return " ".join(f"{key}={value}" for key, value in values.items())


def _flag_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(value)
    return repr(value) if isinstance(value, float) else str(value)


def _started(job, config) -> str:
    training, region = config.training, config.region
    console = f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}#/jobs/{job.training_job_name}"
    return (
        f"started training job {job.training_job_name}: {training.instance_count} x {training.instance_type}"
        f"{', managed spot' if training.use_spot else ''} in {region} ({console}); Ctrl-C stops it"
    )


def _install_bundle(session, uri: str, out: Path):
    """The job's model.tar.gz, downloaded, checked as a bundle and written into `out` (the manifest last)."""
    import tarfile

    from golive.aws_errors import aws_errors
    from golive.bundle import unpack_tarball, write_bundle

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    with tempfile.TemporaryDirectory() as tmp:
        tarball, staged = Path(tmp) / "model.tar.gz", Path(tmp) / "bundle"
        with aws_errors(f"cannot download the job's bundle {uri}", "s3:GetObject and kms:Decrypt"):
            session.client("s3").download_file(bucket, key, str(tarball))
        try:
            manifest = unpack_tarball(tarball, staged)
        except (UserError, tarfile.TarError, EOFError) as exc:
            raise UserError(f"the job's {uri} is not a golive bundle: {exc}") from None
        return write_bundle(out, {name: staged / name for name in manifest.files}, manifest)
