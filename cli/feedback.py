"""`golive feedback export`: feedback joined with captured texts, as training data, from `golive serve`'s local
store or a deployed environment's DynamoDB table (functions/common: one join, two readers), to a file or S3."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from golive.errors import UserError

if TYPE_CHECKING:
    from functions.common.feedback_export import Feedback
    from infra.config import EnvironmentConfig

TABLE_OUTPUT = "FeedbackTable"  # the API stack's output naming its feedback table (infra/stacks/api_stack.py)
READ_TABLE = "dynamodb:Scan and dynamodb:BatchGetItem on the feedback table, and kms:Decrypt on its key"


def utc_date(value: str) -> datetime:
    """YYYY-MM-DD (midnight UTC) or an ISO 8601 time; one without a zone is UTC."""
    example = "a date such as 2026-01-31 (or 2026-01-31T12:00)"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not {example}") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    try:
        moment.astimezone(UTC)  # how the DynamoDB scan sends it
    except OverflowError:
        raise argparse.ArgumentTypeError(f"{value!r} is not {example}: in UTC it is outside years 1 to 9999") from None
    return moment


def add_feedback(sub) -> None:
    feedback = sub.add_parser("feedback", help="turn client feedback into training data")
    feedback_sub = feedback.add_subparsers(dest="feedback_command", required=True, metavar="ACTION")
    export = feedback_sub.add_parser(
        "export",
        help="feedback joined with its captured, redacted texts, as JSONL that `golive train --data` reads",
    )
    source = export.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--local",
        type=Path,
        metavar="DB",
        help="the local feedback database (golive serve's .golive/feedback.sqlite3)",
    )
    source.add_argument(
        "--env",
        metavar="ENV",
        help="a deployed environment (infra/environments/<env>.json): its feedback table, found from the "
        "golive-<env>-api stack's outputs with your AWS credentials",
    )
    export.add_argument(
        "--since", required=True, type=utc_date, help="feedback received on or after this date, UTC (required)"
    )
    export.add_argument(
        "--out", required=True, help="the JSONL file to write: a local path or s3://bucket/key.jsonl (required)"
    )
    export.set_defaults(func=_export)


def _export(ns: argparse.Namespace) -> int:
    from functions.common.feedback_export import jsonl, training_rows, write_jsonl
    from functions.common.feedback_sources import read_local

    bucket_key = _s3_destination(ns.out) if ns.out.startswith("s3:") else None  # checked before anything is read
    feedback = read_local(ns.local, ns.since) if ns.local else _read_deployed(ns.env, ns.since)
    result = training_rows(feedback)
    replaced = False  # a previous export overwritten (write_jsonl refuses any other existing file)
    if bucket_key:
        _put(*bucket_key, jsonl(result.rows), ns.out)
    else:
        replaced = write_jsonl(result.rows, Path(ns.out), source=ns.local)
    print(result.summary(ns.out, replaced))
    return 0


def _s3_destination(uri: str) -> tuple[str, str]:
    from golive.s3_uris import split_s3_uri

    bucket, key = split_s3_uri(uri)
    if not key or key.endswith("/"):
        raise UserError(f"--out {uri} names no object; give the file's key, such as s3://{bucket}/feedback.jsonl")
    return bucket, key


def _read_deployed(env: str, since: datetime) -> list[Feedback]:
    """The environment's feedback table, named by its API stack's outputs, read in the environment's region."""
    import boto3

    from functions.common.feedback_sources import read_table
    from golive.aws_errors import aws_errors
    from infra.config import load_config
    from infra.deployed import deploy_command, describe_stack, stack_outputs
    from infra.naming import Names

    config = load_config(env)  # an unknown environment is a clear error before any AWS call
    stack = Names(config).api_stack
    if not config.api.capture_texts:
        print(capture_off_warning(config, stack), file=sys.stderr, flush=True)
    with aws_errors(f"cannot find the feedback table of {env}", "cloudformation:DescribeStacks on " + stack):
        found = describe_stack(boto3.client("cloudformation", region_name=config.region), stack)
    if found is None:
        raise UserError(
            f"no stack {stack} in {config.region} for these credentials: deploy {env} first with "
            f"{deploy_command(config, stack)}, or check AWS_PROFILE"
        )
    outputs = stack_outputs(found)
    if TABLE_OUTPUT not in outputs:
        raise UserError(
            f"stack {stack} has no {TABLE_OUTPUT} output: an older golive deployed it; deploy this one with "
            f"{deploy_command(config, stack)}"
        )
    table = outputs[TABLE_OUTPUT]
    with aws_errors(f"cannot read the feedback table {table}", READ_TABLE):
        client = boto3.client("dynamodb", region_name=config.region)
        try:
            return read_table(client, table, since)
        except client.exceptions.ResourceNotFoundException:
            raise UserError(
                f"the feedback table {table} (stack {stack}'s output) does not exist in {config.region}; "
                f"was it deleted? Deploy {env} again"
            ) from None


def capture_off_warning(config: EnvironmentConfig, stack: str) -> str:
    """Said before a scan of a table whose environment captures no texts. A warning, not a refusal: texts captured
    while capture was on stay for api.capture_ttl_days, and the deployed stack may predate the file's setting."""
    from infra.deployed import deploy_command

    return (
        f"warning: api.capture_texts is false in infra/environments/{config.name}.json: the API deployed from it keeps "
        "no texts, so only texts captured while capture was on (and not yet past api.capture_ttl_days) can be "
        "exported; the other feedback is left out as 'no captured text'. To capture from now on, set "
        f"api.capture_texts to true and deploy with {deploy_command(config, stack)}"
    )


def _put(bucket: str, key: str, body: bytes, uri: str) -> None:
    import boto3

    from golive.aws_errors import aws_errors

    with aws_errors(f"cannot write {uri}", "s3:PutObject on the object (and kms:GenerateDataKey on its bucket's key)"):
        boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/jsonl")
