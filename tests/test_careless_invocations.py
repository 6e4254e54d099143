"""Careless invocations of the real CLI, scripts and servers: each gets one clear message, exit code 2, no traceback.

Every case runs as a subprocess (`python -m cli ...`, `python -m infra.cdk_entry` as `cdk synth` runs it,
`python -m functions.endpoint.serve`, `bash scripts/quickstart.sh`), from an empty folder, with no AWS
credentials reachable.
"""

from __future__ import annotations

import argparse
import os
import pty
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import fields
from datetime import date, timedelta
from pathlib import Path

import pytest

from golive import bundle
from tests.conftest import REPO, SAMPLE, sample_rows, write_rows

PYTHON = sys.executable
SAMPLE_VALIDATION = str(SAMPLE / "validation.tsv")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without AWS credentials or GOLIVE_* settings, and no instance metadata lookups."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GOLIVE_", "SM_"))}
    env.update(
        PYTHONPATH=str(REPO),
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent/credentials",
        AWS_CONFIG_FILE="/nonexistent/config",
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def run(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd, cwd=cwd, env=env or clean_env(), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


@pytest.fixture(scope="module")
def busy_port():
    """A loopback port something is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def stand_in_bundle(tmp_path_factory) -> Path:
    """A folder that verifies as a bundle (manifest, matching hashes) without a usable model: enough for every
    check that runs before a model is loaded."""
    folder = tmp_path_factory.mktemp("stand-in") / "bundle"
    manifest = bundle.Manifest(
        version_id=bundle.new_version_id(),
        created_at="2026-11-23T00:00:00+00:00",
        base_model="none",
        data_sha256="0" * 64,
        labels=["negative", "positive"],
        max_length=32,
    )
    files = {
        bundle.MODEL_INT8: b"not a model",
        bundle.MODEL_FP32: b"not a model",
        bundle.TOKENIZER: "{}",
        bundle.METRICS: "{}",
    }
    bundle.write_bundle(folder, files, manifest)
    return folder


@pytest.fixture(scope="module")
def eight_rows(tmp_path_factory) -> Path:
    return write_rows(tmp_path_factory.mktemp("eight") / "eight.tsv", sample_rows("train")[:8])


def last_month() -> tuple[str, str]:
    first_of_month = date.today().replace(day=1)
    return (first_of_month - timedelta(days=1)).replace(day=1).isoformat(), first_of_month.isoformat()


# (id, argv after `python -m cli`, the message stderr must hold); {bundle}, {busy}, {closed}, {eight},
# {tmp} are filled in per test
CLI_CASES = [
    (
        "costs report without credentials",
        ["costs", "report", "--start", "{last_month_start}", "--end", "{last_month_end}"],
        "cannot read spend from Cost Explorer: no AWS credentials found; configure them with `aws configure`",
    ),
    ("costs estimate, empty env", ["costs", "estimate", "--env", ""], "unknown environment ''"),
    (
        "costs report, empty env",
        ["costs", "report", "--start", "{last_month_start}", "--end", "{last_month_end}", "--env", ""],
        "unknown environment ''",
    ),
    (
        "costs estimate, impossible discount",
        ["costs", "estimate", "--spot-discount", "2"],
        "--spot-discount must be between 0 and 0.9",
    ),
    ("serve, port too large", ["serve", "--port", "99999"], "99999 is not a port number; use 1 to 65535"),
    ("serve, port not a number", ["serve", "--port", "http"], "'http' is not a port number"),
    ("serve, negative port", ["serve", "--port", "-1"], "-1 is not a port number"),
    ("serve, no bundle", ["serve", "--model", "{tmp}/none"], "model bundle folder {tmp}/none does not exist"),
    ("serve in a fresh clone, before training", ["serve"], "`golive train --out model_artifacts`"),
    (
        "serve, port taken",
        ["serve", "--model", "{bundle}", "--port", "{busy}"],
        "port {busy} on 127.0.0.1 is already in use",
    ),
    (
        "serve, unknown host",
        ["serve", "--model", "{bundle}", "--host", "no-such-host.invalid"],
        "cannot listen on host 'no-such-host.invalid'",
    ),
    (
        "quickstart, port taken (before training)",
        ["quickstart", "--port", "{busy}", "--out", "{tmp}/qs"],
        "port {busy} on 127.0.0.1 is already in use",
    ),
    ("quickstart, zero epochs", ["quickstart", "--epochs", "0"], "argument --epochs: must be above 0"),
    (
        "evaluate, a file for the bundle",
        ["evaluate", "--model", "{bundle}/model.int8.onnx", "--data", SAMPLE_VALIDATION],
        "{bundle}/model.int8.onnx is a file; a model bundle is the folder that holds it: pass {bundle}",
    ),
    ("evaluate, no --data", ["evaluate"], "the following arguments are required: --data"),
    ("synth, empty env", ["synth", "--env", ""], "unknown environment ''"),
    ("synth, unknown env", ["synth", "--env", "production"], "unknown environment 'production'"),
    ("synth before any training", ["synth", "--model", "{tmp}/none"], "model bundle folder {tmp}/none does not exist"),
    (
        "train, impossible validation fraction on the sample",
        ["train", "--validation-fraction", "1.5"],
        "--validation-fraction must be between 0 and 1",
    ),
    (
        "train, 8 rows",
        ["train", "--data", "{eight}", "--export", "false"],
        "has 8 usable rows; holding out 10% leaves 7 to train on and 1 to validate with, and golive needs at least 10",
    ),
    ("train, negative GPUs", ["train", "--num-gpus", "-1"], "--num-gpus must be 0 or more"),
    ("train, no parity rows", ["train", "--parity-rows", "0"], "--parity-rows must be at least 1"),
    (
        "train, bundle folder is a file",
        ["train", "--out", "{bundle}/metrics.json"],
        "cannot write the bundle to --out {bundle}/metrics.json",
    ),
    (
        "train, data that is not there",
        ["train", "--data", "{tmp}/reviews.csv"],
        "data file {tmp}/reviews.csv does not exist",
    ),
    (
        "train, S3 without credentials",
        ["train", "--data", "s3://golive-no-such-bucket/train.tsv"],
        "cannot read s3://golive-no-such-bucket/train.tsv: no AWS credentials found",
    ),
    ("train, epochs not a number", ["train", "--epochs", "five"], "argument --epochs: invalid float value: 'five'"),
    ("unknown command", ["deploy"], "invalid choice: 'deploy'"),
    (
        "monitor, nothing listening",
        ["monitor", "--url", "http://127.0.0.1:{closed}"],
        "start the server with `golive serve`",
    ),
    (
        "endpoint-image, unwritable folder",
        ["endpoint-image", "--out", "/proc/golive-image"],
        "cannot use /proc/golive-image",
    ),
    ("package, no bundle", ["package", "--model", "{tmp}/none"], "model bundle folder {tmp}/none does not exist"),
    (
        "package-lambda, bad Python version",
        ["package-lambda", "--python-version", "three"],
        "'three' is not a Python version like 3.14",
    ),
]


def fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def assert_clear_failure(result: subprocess.CompletedProcess, message: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert message in result.stderr, result.stderr[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert "b'!!" not in output  # jsii's Node banner, printed as bytes literals


@pytest.mark.parametrize("argv,message", [pytest.param(argv, message, id=name) for name, argv, message in CLI_CASES])
def test_careless_cli_invocation_gets_one_clear_message(
    argv, message, tmp_path, stand_in_bundle, busy_port, eight_rows
):
    start, end = last_month()
    values = {
        "tmp": str(tmp_path),
        "bundle": str(stand_in_bundle),
        "busy": str(busy_port),
        "closed": str(closed_port()),
        "eight": str(eight_rows),
        "last_month_start": start,
        "last_month_end": end,
    }
    (tmp_path / "model_artifacts").mkdir()  # as a fresh clone has it: only its README
    (tmp_path / "model_artifacts" / "README.md").write_text("the bundle goes here\n")
    result = run([PYTHON, "-m", "cli", *[fill(a, values) for a in argv]], cwd=tmp_path)
    assert_clear_failure(result, fill(message, values))
    if argv[0] == "quickstart":
        assert "$ golive train" not in result.stdout  # the port was checked before any training


def test_bad_serving_settings_name_the_variable(tmp_path, stand_in_bundle):
    env = clean_env(GOLIVE_INTRA_OP_THREADS="two", GOLIVE_MAX_TEXTS="0")
    result = run(
        [PYTHON, "-m", "cli", "serve", "--model", str(stand_in_bundle), "--port", str(closed_port())],
        cwd=tmp_path,
        env=env,
    )
    assert_clear_failure(result, "the serving settings from the environment are not valid")
    assert "GOLIVE_INTRA_OP_THREADS" in result.stderr and "GOLIVE_MAX_TEXTS" in result.stderr


@pytest.mark.parametrize(
    "env,message",
    [
        ({"GOLIVE_ENDPOINT_PORT": "99999"}, "bad endpoint configuration"),
        (
            {"SAGEMAKER_BIND_TO_PORT": "{busy}", "GOLIVE_ENDPOINT_HOST": "127.0.0.1"},
            "port {busy} on 127.0.0.1 is already in use",
        ),
    ],
)
def test_endpoint_container_entry_point(env, message, tmp_path, busy_port):
    values = {"busy": str(busy_port)}
    result = run(
        [PYTHON, "-m", "functions.endpoint.serve"],
        cwd=tmp_path,
        env=clean_env(**{k: fill(v, values) for k, v in env.items()}),
    )
    assert_clear_failure(result, fill(message, values))


@pytest.mark.parametrize(
    "context,message",
    [
        ('{"env": ""}', "unknown environment ''"),
        ('{"env": "dev", "model": "/nonexistent/bundle"}', "model bundle folder /nonexistent/bundle does not exist"),
    ],
)
def test_cdk_synth_through_cdk_json_reports_user_mistakes(context, message, tmp_path):
    """What `cdk synth -c env=` runs: cdk.json's app command with the context in CDK_CONTEXT_JSON."""
    import json

    command = json.loads((REPO / "cdk.json").read_text())["app"].split()
    assert command == ["bash", "scripts/cdk-app.sh"]  # which runs `python -m infra.cdk_entry` in the active virtualenv
    result = run(
        command,
        cwd=REPO,
        env=clean_env(CDK_CONTEXT_JSON=context, CDK_OUTDIR=str(tmp_path / "cdk.out"), VIRTUAL_ENV=sys.prefix),
    )
    assert_clear_failure(result, message)


@pytest.mark.parametrize(
    "args,message",
    [
        (["--port", "99999"], "99999 is not a port number"),
        (["--port", "{busy}"], "port {busy} on 127.0.0.1 is already in use"),
        (["--epochs", "-1"], "must be above 0"),
    ],
)
def test_quickstart_script_checks_flags_and_port_before_installing(args, message, busy_port, tmp_path):
    if subprocess.run(["python3", "-c", "import sys; sys.exit(sys.version_info < (3, 11))"]).returncode:
        pytest.skip("python3 here is older than 3.11: the script would stop at its Python check instead")
    values = {"busy": str(busy_port)}
    result = run(["bash", str(REPO / "scripts" / "quickstart.sh"), *[fill(a, values) for a in args]], cwd=tmp_path)
    assert_clear_failure(result, fill(message, values))
    assert "installing golive" not in result.stderr  # stopped before pip


def test_ctrl_c_during_training_says_interrupted(tmp_path):
    proc = subprocess.Popen(
        [PYTHON, "-m", "cli", "train", "--epochs", "50", "--out", str(tmp_path / "b")],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    for line in proc.stdout:  # wait until the training loop runs
        if line.startswith("rank=0 world_size=1"):
            break
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends: the whole foreground process group
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert stderr.strip().endswith("interrupted") and "Traceback" not in stderr + stdout


def test_validation_fraction_with_validation_data_says_it_is_unused(tiny_base_model, tmp_path):
    result = run(
        [
            PYTHON,
            "-m",
            "cli",
            "train",
            "--base-model",
            str(tiny_base_model),
            "--epochs",
            "0.1",
            "--validation-fraction",
            "0.2",
            "--export",
            "false",
            "--max-length",
            "32",
        ],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "note: --validation-fraction 0.2 is not used: the validation rows come from" in result.stdout


def test_progress_bar_on_a_terminal_and_metric_lines_in_logs(tiny_base_model, tmp_path):
    args = [
        PYTHON,
        "-m",
        "cli",
        "train",
        "--base-model",
        str(tiny_base_model),
        "--epochs",
        "1",
        "--export",
        "false",
        "--max-length",
        "32",
        "--logging-steps",
        "2",
    ]
    # stderr is a terminal (one that reports no size, like some CI runners), stdout a pipe (`golive train | tee log`)
    primary, secondary = pty.openpty()
    screen = bytearray()

    def read_terminal() -> None:
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # every writer closed the terminal
                return
            if not chunk:
                return
            screen.extend(chunk)

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    proc = subprocess.Popen(args, cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=secondary)
    os.close(secondary)
    stdout = proc.communicate(timeout=300)[0].decode()
    reader.join(timeout=10)
    os.close(primary)
    screen_text = screen.decode(errors="replace")
    assert proc.returncode == 0, screen_text[-2000:]
    assert "training: 100%" in screen_text and "examples/s" in screen_text
    assert "train_loss=" in stdout and "eval_accuracy=" in stdout  # the log keeps the key=value lines
    logged = run(args, cwd=tmp_path)  # no terminal: no bar, the same lines
    assert logged.returncode == 0 and "examples/s" not in logged.stderr and "train_loss=" in logged.stdout


# --- help -------------------------------------------------------------------------------------------------------


def every_option(parser: argparse.ArgumentParser, path: str = "golive"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from every_option(sub, f"{path} {name}")
        elif action.option_strings and not isinstance(action, argparse._HelpAction):
            yield path, action


def test_every_option_of_every_command_has_help_and_shows_its_default():
    from cli.main import build_parser

    options = list(every_option(build_parser()))
    assert len({path for path, _ in options}) >= 11  # every subcommand was walked
    hidden = [f"{path} {a.option_strings[-1]}" for path, a in options if a.help == argparse.SUPPRESS]
    assert hidden == ["golive distill --base-model"], hidden  # on purpose: train's flag, refused when typed
    for path, action in options:
        where = f"{path} {action.option_strings[-1]}"
        if action.help == argparse.SUPPRESS:
            continue
        assert action.help, f"{where} has no help"
        assert "(default: " in action.help or (action.required and "(required)" in action.help), (
            f"{where} shows no default: {action.help!r}"
        )


def test_train_flags_come_from_the_dataclass_with_its_defaults():
    from training.args import TrainArguments, add_train_arguments

    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    flags = {a.dest: a for a in parser._actions if a.option_strings and a.dest != "help"}
    assert set(flags) == {f.name for f in fields(TrainArguments)}
    for f in fields(TrainArguments):
        if f.metadata["env"] is None:
            assert flags[f.name].default == f.default, f.name
    help_text = parser.format_help()
    for flag, default in [
        ("--epochs", "5.0"),
        ("--seed", "42"),
        ("--weight-decay", "0.01"),
        ("--warmup-ratio", "0.06"),
        ("--logging-steps", "50"),
        ("--checkpoint-steps", "200"),
        ("--num-gpus", "SM_NUM_GPUS, else 0"),
    ]:
        text = " ".join(help_text.split("options:")[1].split())  # argparse wraps lines
        start = text.index(f"{flag} ")
        assert f"(default: {default})" in text[start : start + 400], flag


def test_sagemaker_environment_sets_train_defaults(monkeypatch):
    from training.args import SAGEMAKER_CHECKPOINT_DIR, add_train_arguments

    monkeypatch.setenv("SM_MODEL_DIR", "/opt/ml/model")
    monkeypatch.setenv("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train")
    monkeypatch.setenv("SM_NUM_GPUS", "4")
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    ns = parser.parse_args([])
    assert (ns.out, ns.data, ns.num_gpus, ns.checkpoint_dir) == (
        "/opt/ml/model",
        "/opt/ml/input/data/train",
        4,
        SAGEMAKER_CHECKPOINT_DIR,
    )


# --- Node for the CDK app ---------------------------------------------------------------------------------------


def fake_node(tmp_path: Path, version: str) -> str:
    script = tmp_path / "node"
    script.write_text(f"#!/bin/sh\necho {version}\n")
    script.chmod(0o755)
    return str(script)


def test_unsupported_node_is_one_readable_note_and_silences_the_banner(tmp_path, monkeypatch):
    from infra.node_runtime import SILENCE, check_node

    for name in SILENCE:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JSII_NODE", fake_node(tmp_path, "v20.20.2"))
    note = check_node()
    assert note.startswith("note: Node v20.20.2 is not a release the CDK's jsii runtime supports (22 or 24)")
    assert os.environ["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] == "20"
    monkeypatch.setenv("JSII_NODE", fake_node(tmp_path, "v22.11.0"))
    assert check_node() is None


def test_missing_node_says_how_to_install_it(tmp_path, monkeypatch):
    from golive.errors import UserError
    from infra.node_runtime import check_node

    monkeypatch.setenv("JSII_NODE", str(tmp_path / "no-node-here"))
    with pytest.raises(UserError, match=r"the CDK app needs Node.js \(22 or 24\)"):
        check_node()
