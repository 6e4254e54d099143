"""`golive distill`'s refusals, before any model loads (the unit lane: no torch): a teacher that is a golive
bundle, not a model at all, or a base model without a classification head; layer counts the teacher cannot
give; settings out of range. Each is one line on stderr and exit 2."""

from __future__ import annotations

import json

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
            "--teacher {bundle} is a golive bundle: it holds the exported ONNX model, not the torch weights the student is "
            "built from; pass the Hugging Face folder of the fine-tuned teacher",
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
            "--layers 3, but the teacher has 2 layers: a student keeps fewer, pass 1 to 1",
        ),
        (["--teacher", "{teacher}", "--layers", "2"], "--layers 2, but the teacher has 2 layers"),
        (["--teacher", "{teacher}", "--layers", "0"], "--layers must be at least 1, got 0"),
        (
            ["--teacher", "{teacher}", "--layers", "1", "--alpha", "1.5"],
            "--alpha is the soft loss's share of the loss: 0 to 1, got 1.5",
        ),
        (["--teacher", "{teacher}", "--layers", "1", "--temperature", "0"], "--temperature must be above 0, got 0.0"),
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
