"""A stale AWS_PROFILE (a profile that is in no AWS config file): every command that calls AWS says which profile
and how to fix it, in one line; synth, which needs no AWS configuration, does not read it at all."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cli.main import main
from infra.config import load_config
from infra.training_job import training_image_uri
from tests.conftest import REPO

PROFILE = "golive-stale-profile"
FIX = f"create it with `aws configure --profile {PROFILE}`"


@pytest.fixture()
def stale_profile(no_aws_credentials, monkeypatch):
    """No credentials anywhere, and AWS_PROFILE naming a profile that no config file holds."""
    import boto3

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # an earlier test's session has read its profile already
    monkeypatch.setenv("AWS_PROFILE", PROFILE)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.mark.parametrize(
    "argv,failure",
    [
        (["train", "--sagemaker", "--env", "dev", "--out", "{tmp}/out"], "cannot open an AWS session in us-east-1"),
        (["costs", "report", "--start", "{start}", "--end", "{end}"], "cannot read spend from Cost Explorer"),
        (["costs", "estimate", "--refresh-prices"], "--refresh-prices cannot ask the AWS Pricing API"),
        (["evaluate", "--model", "{bundle}", "--data", "s3://golive-nowhere/rows.csv"], "cannot read s3://"),
    ],
)
def test_a_stale_profile_is_named_with_the_fix(argv, failure, stale_profile, handmade_bundle, tmp_path, capsys):
    from datetime import date, timedelta

    today = date.today()
    values = {"tmp": str(tmp_path), "bundle": str(handmade_bundle), "start": str(today - timedelta(days=30))}
    values["end"] = str(today)
    assert main([part.format(**values) for part in argv]) == 2
    out, err = capsys.readouterr()
    assert err.startswith(f"error: {failure}") and err.count("\n") == 1, err
    assert f"the AWS profile '{PROFILE}' (set by AWS_PROFILE) is not in your AWS config files" in err
    assert FIX in err and "unset AWS_PROFILE" in err and "Traceback" not in out + err


def test_synth_resolves_the_training_image_without_reading_the_profile(tmp_path):
    """In a fresh interpreter: the sagemaker SDK opens a boto3 session while it is imported; a stale profile or a
    broken ~/.aws/config must not stop synth, which needs no AWS configuration, and the environment is left as it was."""
    broken = tmp_path / "config"
    broken.write_text("[default\nregion = ")  # not even parseable
    code = (
        "import os\n"
        "from infra.config import load_config\n"
        "from infra.training_job import training_image_uri\n"
        "print(training_image_uri(load_config('dev')))\n"
        "print(os.environ['AWS_PROFILE'], os.environ['AWS_CONFIG_FILE'], 'AWS_SHARED_CREDENTIALS_FILE' in os.environ)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_PROFILE=PROFILE, AWS_CONFIG_FILE=str(broken), AWS_EC2_METADATA_DISABLED="true", PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    image, restored = result.stdout.splitlines()[-2:]
    assert image == training_image_uri(load_config("dev"))  # what it is with a sound configuration
    assert restored == f"{PROFILE} {broken} False"
