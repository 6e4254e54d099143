"""`golive distill` end to end on a tiny 4-layer teacher: the student keeps the layers asked for, is exported
through the same ONNX + int8 + parity path into a bundle that serving loads unchanged, and its manifest, metrics
and model card say where it came from."""

from __future__ import annotations

import json

import onnx
import pytest

from cli.main import main
from golive import bundle
from golive.onnx_classifier import OnnxClassifier
from tests.conftest import sample_rows


def encoder_layers(model_file) -> set[str]:
    """The encoder layers an exported graph computes, from its node names (`/bert/encoder/layer.1/...`; the
    optimiser keeps the names of the nodes it does not fuse)."""
    names = {node.name for node in onnx.load(str(model_file)).graph.node}
    return {part for name in names for part in name.split("/") if part.startswith("layer.")}


def distill_args(teacher, data, out, *extra: str) -> list[str]:
    """`golive distill` on the tiny data (the int8 model's agreement is not gated: random weights)."""
    train, validation = data
    return [
        *("distill", "--teacher", str(teacher), "--data", str(train), "--validation", str(validation)),
        *("--out", str(out), "--epochs", "1", "--batch-size", "8", "--max-length", "32", "--int8-min-agreement", "0"),
        *extra,
    ]


def test_distill_writes_a_bundle_with_the_layers_asked_for(tiny_teacher, small_data, tmp_path, capsys):
    out = tmp_path / "student"
    code = main(distill_args(tiny_teacher, small_data, out, "--layers", "2", "--temperature", "3", "--alpha", "0.7"))
    log = capsys.readouterr().out
    assert code == 0, log
    assert "student: layers 0, 3 of the teacher's 4" in log and "parity_max_logit_diff=" in log

    manifest = bundle.verify_bundle(out)
    assert manifest.distillation == {
        "teacher": str(tiny_teacher),
        "teacher_version": None,  # a folder has none; a bundle teacher's is its version id
        "teacher_layers": 4,
        "student_base": str(tiny_teacher),  # a folder teacher is its own student's base
        "layers_kept": [0, 3],
        "layer_choice": "spread",
        "temperature": 3.0,
        "alpha": 0.7,
    }
    assert manifest.labels == ["negative", "positive"]
    assert encoder_layers(out / bundle.MODEL_FP32) == {"layer.0", "layer.1"}  # the student's two, renumbered

    metrics = bundle.read_json(out, bundle.METRICS)
    assert metrics["parity"]["fp32"]["max_logit_diff"] <= 1e-3  # the export's parity gate passed
    comparison = metrics["distillation"]
    assert comparison["teacher"]["layers"] == 4 and comparison["student"]["layers"] == 2
    assert comparison["student"]["int8_accuracy"] == metrics["validation"]["int8"]["accuracy"]
    assert all(comparison[m]["int8_latency_ms_p50"] > 0 for m in ("teacher", "student"))
    card = (out / bundle.MODEL_CARD).read_text()
    assert "## Distilled from a teacher" in card and "| student | 2 |" in card and "| teacher | 4 |" in card

    # serving loads it unchanged, and it answers as the export scored it
    classifier = OnnxClassifier.from_bundle(out)
    probs = classifier.predict_proba([t for t, _ in sample_rows("validation")[:16]])
    assert probs.shape == (16, 2)
    truth = [classifier.labels.index(label) for _, label in sample_rows("validation")[:16]]
    assert (probs.argmax(1) == truth).mean() == pytest.approx(metrics["validation"]["int8"]["accuracy"])
    assert json.loads((out / bundle.MANIFEST).read_text())["distillation"]["layers_kept"] == [0, 3]


def test_the_student_starts_as_the_teachers_kept_layers(tiny_teacher):
    import torch
    from transformers import AutoModelForSequenceClassification

    from training.distill import prune_layers

    teacher = AutoModelForSequenceClassification.from_pretrained(tiny_teacher)
    student = prune_layers(teacher, [0, 3])
    assert student.config.num_hidden_layers == 2 and len(student.bert.encoder.layer) == 2
    assert teacher.config.num_hidden_layers == 4 and len(teacher.bert.encoder.layer) == 4  # the teacher is untouched
    for mine, theirs in zip(student.bert.encoder.layer, [teacher.bert.encoder.layer[i] for i in (0, 3)]):
        for (name, a), (_, b) in zip(mine.state_dict().items(), theirs.state_dict().items()):
            assert torch.equal(a, b), name
    assert torch.equal(student.classifier.weight, teacher.classifier.weight)
    assert student.classifier.weight.data_ptr() != teacher.classifier.weight.data_ptr()  # a copy, not shared


def test_student_base_builds_a_folder_teachers_student_from_another_model(
    tiny_teacher, tiny_base_model, small_data, tmp_path, capsys
):
    """The teacher's torch model gives the soft labels; the student keeps layers of --student-base (a new head)."""
    out = tmp_path / "student"
    flags = ["--layers", "1", "--student-base", str(tiny_base_model)]
    assert main(distill_args(tiny_teacher, small_data, out, *flags)) == 0, capsys.readouterr().err
    log = capsys.readouterr().out
    assert f"student: layers 0 of {tiny_base_model}'s (--student-base) 2" in log
    assert "teacher soft labels: scoring 40 training rows with the teacher's torch model" in log
    manifest = bundle.verify_bundle(out)
    assert manifest.distillation["student_base"] == str(tiny_base_model) and manifest.base_model == str(tiny_base_model)
    assert manifest.distillation["teacher_layers"] == 4 and encoder_layers(out / bundle.MODEL_FP32) == {"layer.0"}
