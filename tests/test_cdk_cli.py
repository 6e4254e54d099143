"""The CDK CLI pinned in package.json, run as the README says (`npx cdk ...`, cdk.json's app), on this repo."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from infra.assets.lambda_package import build_lambda_package
from tests.conftest import ALARM_EMAIL, REPO

PACKAGE = json.loads((REPO / "package.json").read_text())
LOCK = json.loads((REPO / "package-lock.json").read_text())


def test_cli_is_pinned_exactly_to_a_2x_release_in_package_json_and_the_lockfile():
    pinned = PACKAGE["devDependencies"]["aws-cdk"]
    assert re.fullmatch(r"2\.\d+\.\d+", pinned), f"pin aws-cdk exactly (3.x cannot read this app's assembly): {pinned}"
    assert LOCK["packages"]["node_modules/aws-cdk"]["version"] == pinned
    assert json.loads((REPO / "cdk.json").read_text())["app"] == "bash scripts/cdk-app.sh"


def test_cdk_app_without_a_python_environment_says_what_to_do(tmp_path):
    result = subprocess.run(
        ["bash", "scripts/cdk-app.sh"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "VIRTUAL_ENV": str(tmp_path / "no-venv")},
    )
    assert result.returncode == 2
    assert "run 'bash scripts/quickstart.sh' first" in result.stderr and "Traceback" not in result.stderr


def npx_cdk(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """`npx cdk ...` from the repo, with the Python this suite runs under as the active virtualenv."""
    if shutil.which("npx") is None:
        pytest.fail("Node.js (npx) is needed for the CDK CLI: install Node.js 22+, then `npm ci`")
    if not (REPO / "node_modules" / ".bin" / "cdk").exists():
        pytest.fail("the pinned CDK CLI is not installed: run `npm ci` (scripts/env.sh does)")
    env = {**os.environ, "VIRTUAL_ENV": sys.prefix, "CDK_DISABLE_CLI_TELEMETRY": "true"}
    # --no-install: never fetch a CLI from the registry (that would be the latest, 3.x, not the pinned one)
    return subprocess.run(
        ["npx", "--no-install", "cdk", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.slow
def test_pinned_cli_synthesises_prod_through_cdk_json(tiny_bundle, tmp_path):
    version = npx_cdk("--version", timeout=120)
    assert version.returncode == 0 and version.stdout.startswith(PACKAGE["devDependencies"]["aws-cdk"] + " "), version
    package = tmp_path / "lambda"
    build_lambda_package(tiny_bundle, package, install=False)  # code + bundle: wheels do not change templates
    out = tmp_path / "cdk.out"
    result = npx_cdk(
        "synth",
        "--quiet",
        "--no-notices",
        "-c",
        "env=prod",
        "-c",
        f"lambda_package={package}",
        "-c",
        f"model={tiny_bundle}",
        "-c",
        f"build_dir={tmp_path / 'build'}",
        "-c",
        f"alarm_email={ALARM_EMAIL}",
        "--output",
        str(out),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    manifest = json.loads((out / "manifest.json").read_text())
    stacks = sorted(
        name for name, artifact in manifest["artifacts"].items() if artifact["type"] == "aws:cloudformation:stack"
    )
    assert stacks == ["golive-account"] + [
        f"golive-prod-{s}" for s in ("alerts", "api", "costs", "data", "inference", "monitoring", "training")
    ]
    for stack in stacks:
        template = json.loads((out / f"{stack}.template.json").read_text())
        assert template["Resources"], stack
    functions = json.loads((out / "golive-prod-api.template.json").read_text())["Resources"]
    assert any(r["Type"] == "AWS::Lambda::Function" for r in functions.values())


@pytest.mark.slow
def test_cli_synth_before_any_training_is_one_clear_error(tmp_path):
    fresh = tmp_path / "model_artifacts"  # as in a fresh clone: the folder and its README, no bundle
    fresh.mkdir()
    (fresh / "README.md").write_text("the bundle goes here")
    result = npx_cdk(
        "synth",
        "--quiet",
        "--no-notices",
        "-c",
        "env=dev",
        "-c",
        f"model={fresh}",
        "-c",
        f"build_dir={tmp_path / 'build'}",
        "--output",
        str(tmp_path / "cdk.out"),
    )
    assert result.returncode != 0
    assert f"error: {fresh} holds no model bundle yet (no manifest.json): train one with" in result.stderr
    assert "golive quickstart --serve false" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
