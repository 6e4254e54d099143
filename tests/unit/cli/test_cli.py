"""The `golive` command without training: its parser, its help, and careless invocations that stop before any
model is trained, run in-process (`cli.main.main`) and once through the real interpreter."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from cli.arguments import typed_options
from cli.main import HELP_SHOWN, build_parser, main, preflight
from tests.conftest import REPO, SAMPLE, free_port

COMMANDS = {
    "train",
    "evaluate",
    "distill",
    "explain",
    "serve",
    "monitor",
    "quickstart",
    "package",
    "synth",
    "costs",
    "feedback",
    "endpoint-image",
    "package-lambda",
}


def test_the_parser_knows_every_command():
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(subparsers.choices) == COMMANDS


def test_typed_options_are_the_flags_given_a_default_value_included():
    argv = ["train", "--sagemaker", "--epochs", "5", "--lr=1e-4", "--spot", "--batch", "16", "--env", "prod"]
    assert build_parser().parse_args(argv).epochs == 5.0  # training's default, typed
    typed = typed_options(build_parser(), argv)  # `=`, a bare boolean and an abbreviation each count
    assert typed == {"command", "sagemaker", "epochs", "lr", "spot", "batch_size", "env"}
    assert typed_options(build_parser(), ["serve"]) == {"command"}


def test_help_through_the_real_interpreter_lists_the_commands_and_loads_no_torch():
    code = (
        "import runpy, sys; sys.argv = ['golive', '--help']\n"
        "try:\n    runpy.run_module('cli', run_name='__main__')\nexcept SystemExit as exc:\n    code = exc.code\n"
        "print('heavy:', sorted(m for m in ('torch', 'transformers', 'aws_cdk') if m in sys.modules))\n"
        "sys.exit(code)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert all(command in result.stdout for command in COMMANDS)
    assert result.stdout.strip().endswith("heavy: []")


@pytest.fixture()
def busy_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.parametrize(
    "argv,message",
    [
        (["serve", "--port", "99999"], "99999 is not a port number; use 1 to 65535"),
        (["serve", "--model", "{tmp}/none"], "model bundle folder {tmp}/none does not exist"),
        (["serve", "--model", "{bundle}", "--port", "{busy}"], "port {busy} on 127.0.0.1 is already in use"),
        (
            ["evaluate", "--model", "{bundle}/model.int8.onnx", "--data", str(SAMPLE / "validation.tsv")],
            "{bundle}/model.int8.onnx is a file; a model bundle is the folder that holds it: pass {bundle}",
        ),
        (["evaluate", "--model", "{bundle}"], "the following arguments are required: --data"),
        (["quickstart", "--epochs", "0"], "argument --epochs: must be above 0"),
        (["quickstart", "--port", "{busy}", "--out", "{tmp}/qs"], "port {busy} on 127.0.0.1 is already in use"),
        (["monitor", "--url", "http://127.0.0.1:{closed}"], "start the server with `golive serve`"),
        (["monitor", "--watch", "0"], "argument --watch: must be above 0, got 0"),
        (["deploy"], "invalid choice: 'deploy'"),
        (["train", "--bogus"], "golive train: error: unrecognized arguments: --bogus"),  # the command's usage
        (["costs", "estimate", "--bogus", "x"], "golive costs estimate: error: unrecognized arguments: --bogus x"),
        (
            ["explain", "--model", "{bundle}", "one two three", "--max-tokens", "2"],
            "the text has 3 tokens; an explanation takes at most 2 (its cost grows with the square of the length): send a "
            "shorter text, or raise --max-tokens (up to 30 for this model)",
        ),
        # argv bytes that are not UTF-8 reach Python as surrogate escapes (what `$'good \xff bad'` gives)
        (
            ["explain", "--model", "{bundle}", "good \udcff bad"],
            "argument text: not valid UTF-8 (byte 0xff at character 5)",
        ),
        (["explain", "--model", "{bundle}", "\udced\udca0\udc80"], "not valid UTF-8 (byte 0xed at character 0)"),
        (["train", "--sagemaker", "--role", "\udcff"], "argument --role: not valid UTF-8 (byte 0xff at character 0)"),
        (["explain", "--model", "{bundle}", "\u200b\ufeff"], "the text is empty (only spaces, control or zero-width"),
        (["explain", "--model", "{bundle}", "great", "--max-tokens", "0"], "--max-tokens must be at least 1"),
        (["explain", "--model", "{bundle}", " "], "the text is empty"),
        (["explain", "--model", "{tmp}/none", "great"], "model bundle folder {tmp}/none does not exist"),
        (
            ["synth", "--model", "{bundle}", "--out", "{bundle}/manifest.json"],
            "--out {bundle}/manifest.json is a file; pass a folder",
        ),
        (
            ["synth", "--model", "{bundle}", "--out", "{bundle}/manifest.json/cdk.out"],
            "--out {bundle}/manifest.json/cdk.out cannot be made: {bundle}/manifest.json is a file; pass a folder",
        ),
    ],
)
def test_careless_invocations_get_one_clear_message_and_exit_2(
    argv, message, handmade_bundle, busy_port, tmp_path, capsys
):
    values = {"tmp": str(tmp_path), "bundle": str(handmade_bundle), "busy": str(busy_port), "closed": str(free_port())}

    def fill(text: str) -> str:
        for key, value in values.items():
            text = text.replace("{" + key + "}", value)
        return text

    try:
        code = main([fill(a) for a in argv])
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2 and fill(message) in err, err
    assert "Traceback" not in out + err
    assert not (tmp_path / "qs").exists()  # nothing trained


def test_explain_states_the_models_own_limit_and_no_flag_that_cannot_help(handmade_bundle, capsys):
    """The bundle reads 32 tokens, so 30 of the text's own are the most any --max-tokens can explain."""
    assert main(["explain", "--model", str(handmade_bundle), "--max-tokens", "200", " ".join(["good"] * 33)]) == 2
    err = capsys.readouterr().err
    assert err == (
        "error: the text has more than 30 tokens; an explanation takes at most 30 (the model reads at most 32 "
        "tokens, [CLS] and [SEP] included): send a shorter text\n"
    )


def test_a_non_utf8_argument_through_the_real_interpreter_is_one_message(handmade_bundle):
    """The bytes go through the OS and Python's own argv decoding, not a string a test made up."""
    argv = [sys.executable, "-m", "cli", "explain", "--model", str(handmade_bundle), b"good \xff bad"]
    result = subprocess.run(
        argv, cwd=REPO, capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)}
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "argument text: not valid UTF-8 (byte 0xff at character 5)" in result.stderr


@pytest.mark.parametrize(
    "change,message",
    [
        ({"max_length": "x"}, 'max_length must be a positive integer, got "x"'),
        ({"labels": "neg"}, 'labels must be a list of at least two distinct non-empty strings, got "neg"'),
        ({"format_version": 99}, "format_version 99 is newer than this golive reads (1): upgrade golive"),
    ],
)
def test_evaluate_on_a_hand_edited_manifest_names_the_key(handmade_bundle, tmp_path, capsys, change, message):
    import shutil

    edited = tmp_path / "hbm"
    shutil.copytree(handmade_bundle, edited)
    manifest = json.loads((edited / "manifest.json").read_text())
    (edited / "manifest.json").write_text(json.dumps({**manifest, **change}))
    assert main(["evaluate", "--model", str(edited), "--data", str(SAMPLE / "validation.tsv")]) == 2
    out, err = capsys.readouterr()
    assert err == f"error: {edited / 'manifest.json'} is not a valid bundle manifest: {message}" + (
        "\n" if "upgrade" in message else "; fix it, or write the bundle again with `golive train`\n"
    )


def test_evaluate_scores_the_bundle_on_labelled_data(handmade_bundle, tmp_path, capsys):
    data = tmp_path / "labelled.tsv"
    data.write_text("text\tlabel\na wonderful film\tpositive\nrude staff\tnegative\nawful\tpositive\n")
    assert main(["evaluate", "--model", str(handmade_bundle), "--data", str(data), "--variant", "fp32"]) == 0
    report = capsys.readouterr().out
    assert "on " + str(data) + ": 3 rows" in report and "accuracy  0.6667" in report


def test_explain_prints_each_tokens_attribution(handmade_bundle, capsys):
    assert main(["explain", "--model", str(handmade_bundle), "--variant", "fp32", "a WONDERFUL film"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("positive (0.")
    assert lines[4].split()[:3] == ["wonderful", "WONDERFUL", "2:11"] and float(lines[4].split()[3]) > 0
    assert main(["explain", "--model", str(handmade_bundle), "--json", "never again"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["label"] == "negative" and [t["token"] for t in answer["tokens"]] == ["never", "again"]


def test_preflight_checks_flags_and_port_before_anything_is_installed(busy_port, capsys):
    assert preflight(["quickstart", "--help"]) == HELP_SHOWN
    assert preflight(["quickstart", "--port", str(free_port())]) == 0
    assert preflight(["quickstart", "--port", str(busy_port)]) == 2
    assert f"port {busy_port} on 127.0.0.1 is already in use" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, environ, message",
    [
        (["serve", "--feedback-db", "{tmp}/ok.tsv"], {}, "--feedback-db {tmp}/ok.tsv is not a SQLite database"),
        (["serve", "--feedback-db", "{tmp}"], {}, "--feedback-db {tmp} is a folder"),
        (["serve", "--feedback-db", "{tmp}/new/../ok.tsv"], {}, "--feedback-db {tmp}/new/../ok.tsv is not a SQLite"),
        (["serve"], {"GOLIVE_FEEDBACK_DB": "{tmp}/ok.tsv"}, "GOLIVE_FEEDBACK_DB={tmp}/ok.tsv is not a SQLite database"),
        (["quickstart", "--out", "{tmp}/qs"], {"GOLIVE_FEEDBACK_DB": "{tmp}"}, "GOLIVE_FEEDBACK_DB={tmp} is a folder"),
    ],
)
def test_a_feedback_database_sqlite_cannot_open_is_refused_before_the_server_starts(
    argv, environ, message, handmade_bundle, tmp_path, monkeypatch, capsys
):
    data = tmp_path / "ok.tsv"
    data.write_text("text\tlabel\nfine\tpositive\n")
    for name, value in environ.items():
        monkeypatch.setenv(name, value.replace("{tmp}", str(tmp_path)))
    model = ["--model", str(handmade_bundle)] if argv[0] == "serve" else []
    port = ["--port", str(free_port())]  # free: the refusal is the database's, not the port's
    code = main([a.replace("{tmp}", str(tmp_path)) for a in argv] + model + port)
    out, err = capsys.readouterr()
    assert code == 2 and message.replace("{tmp}", str(tmp_path)) in err and "Traceback" not in out + err, err
    assert data.read_text() == "text\tlabel\nfine\tpositive\n" and not (tmp_path / "qs").exists()  # nothing trained


def test_the_local_store_names_a_file_sqlite_cannot_use(tmp_path):
    from functions.api.feedback_store import SqliteFeedbackStore
    from golive.errors import UserError

    (tmp_path / "notes.txt").write_text("not a database\n")
    with pytest.raises(UserError, match=r"notes.txt is not a SQLite database"):
        SqliteFeedbackStore(str(tmp_path / "notes.txt"))
    with pytest.raises(UserError, match="is a folder"):
        SqliteFeedbackStore(str(tmp_path))
    SqliteFeedbackStore(str(tmp_path / "new.sqlite3"))  # a new file is created
    assert (tmp_path / "new.sqlite3").read_bytes().startswith(b"SQLite format 3\x00")


def test_package_never_overwrites_a_folder_or_a_file_that_is_not_a_tarball(handmade_bundle, tmp_path, capsys):
    import gzip

    data = tmp_path / "ok.tsv"
    data.write_text("text\tlabel\nfine\tpositive\n")
    (tmp_path / "notes.gz").write_bytes(gzip.compress(b"my notes, gzipped but no tarball"))
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    for out, message in [
        (data, f"{data} exists and is not a .tar.gz tarball"),
        (tmp_path / "new" / ".." / "ok.tsv", "new/../ok.tsv exists and is not a .tar.gz tarball"),
        (tmp_path / "notes.gz", "notes.gz exists and is not a .tar.gz tarball"),
        (tmp_path, f"{tmp_path} is a folder; a tarball is a file: pass a file name, such as {tmp_path}/model.tar.gz"),
    ]:
        assert main(["package", "--model", str(handmade_bundle), "--out", str(out)]) == 2
        printed, err = capsys.readouterr()
        assert message in err and "Traceback" not in printed + err, err
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before  # no .partial either
    assert not (tmp_path.parent / f"{tmp_path.name}.partial").exists()
    tarball = tmp_path / "model.tar.gz"
    for _ in range(2):  # a previous tarball is replaced
        assert main(["package", "--model", str(handmade_bundle), "--out", str(tarball)]) == 0
    assert str(tarball) in capsys.readouterr().out


def test_a_tarball_that_fails_half_way_leaves_no_partial_file(handmade_bundle, tmp_path, monkeypatch):
    from golive import archives

    def refused(source, destination):
        raise PermissionError(13, "Permission denied", str(destination))

    monkeypatch.setattr(archives.os, "replace", refused)
    assert main(["package", "--model", str(handmade_bundle), "--out", str(tmp_path / "model.tar.gz")]) == 2
    assert list(tmp_path.iterdir()) == []
