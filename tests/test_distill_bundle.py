"""`golive distill --teacher BUNDLE`: a golive bundle as the teacher. Its ONNX model gives the soft labels (ONNX
Runtime, no torch weights needed), the student keeps layers of the base model the manifest names (or of a Hugging
Face folder the bundle carries, or of --student-base), and the student bundle loads in the Lambda unchanged; a
bundle whose base model is not here is refused, saying how to give one."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from cli.main import main
from golive import bundle
from golive.onnx_classifier import OnnxClassifier
from tests.conftest import LambdaContext, api_event, cold_started_lambda, sample_rows
from tests.test_distill import distill_args, encoder_layers


def copy_bundle(source, target, **manifest_changes):
    """A copy of a bundle, its manifest changed as given (the manifest is not among the files it hashes)."""
    shutil.copytree(source, target)
    manifest = json.loads((target / bundle.MANIFEST).read_text())
    (target / bundle.MANIFEST).write_text(json.dumps(manifest | manifest_changes))
    return target


def test_a_bundle_teacher_gives_soft_labels_and_its_base_model_the_student(
    tiny_bundle, tiny_base_model, small_data, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "student"
    assert main(distill_args(tiny_bundle, small_data, out, "--layers", "1")) == 0
    log = capsys.readouterr().out
    assert f"student: layers 0 of {tiny_base_model}'s (the teacher bundle's base model) 2" in log
    assert "teacher soft labels: scoring 40 training rows with the teacher bundle's fp32 ONNX model" in log
    assert "parity_max_logit_diff=" in log

    teacher = bundle.read_manifest(tiny_bundle)
    manifest = bundle.verify_bundle(out)
    assert manifest.distillation == {
        "teacher": str(tiny_bundle),
        "teacher_version": teacher.version_id,
        "teacher_layers": 2,
        "student_base": str(tiny_base_model),
        "layers_kept": [0],
        "layer_choice": "spread",
        "temperature": 2.0,
        "alpha": 0.5,
    }
    assert manifest.base_model == str(tiny_base_model) and manifest.labels == teacher.labels
    assert encoder_layers(out / bundle.MODEL_FP32) == {"layer.0"}  # one of the base model's two layers
    metrics = bundle.read_json(out, bundle.METRICS)
    assert metrics["parity"]["fp32"]["max_logit_diff"] <= 1e-3  # the export's parity gate passed
    # the teacher in the comparison is the bundle's own int8 model, scored on the same validation rows
    texts = [text for text, _ in sample_rows("validation")[:16]]
    truth = np.array([teacher.labels.index(label) for _, label in sample_rows("validation")[:16]])
    teacher_int8 = OnnxClassifier.from_bundle(tiny_bundle, "int8").predict_proba(texts).argmax(1)
    assert metrics["distillation"]["teacher"]["int8_accuracy"] == pytest.approx((teacher_int8 == truth).mean())
    card = (out / bundle.MODEL_CARD).read_text()
    assert f"the golive bundle `{tiny_bundle}` (version {teacher.version_id}" in card and "| student | 1 |" in card

    # the Lambda loads it unchanged (a cold start on it) and answers a real API Gateway event with its labels
    lambda_module = next(cold_started_lambda(out, tmp_path, monkeypatch))
    response = lambda_module.handler(
        api_event("http_v2", "POST", "/v1/predict", {"inputs": ["a lovely film", "awful"]}), LambdaContext()
    )
    assert response["statusCode"] == 200, response
    predictions = json.loads(response["body"])["predictions"]
    expected = OnnxClassifier.from_bundle(out).predict_proba(["a lovely film", "awful"]).argmax(1)
    assert [p["label"] for p in predictions] == [manifest.labels[i] for i in expected]


def test_the_soft_labels_are_the_bundles_fp32_logits(tiny_bundle, small_data, tmp_path):
    """What the student learns from is the ONNX teacher's fp32 output for each training row, in row order (the
    table a run with checkpoints keeps next to them)."""
    import torch

    flags = ["--layers", "1", "--export", "false", "--checkpoint-dir", str(tmp_path / "ckpt")]
    assert main(distill_args(tiny_bundle, small_data, tmp_path / "student", *flags)) == 0
    (table_file,) = (tmp_path / "ckpt").glob("run-*/teacher_logits.pt")
    table = torch.load(table_file, weights_only=True).numpy()
    fp32 = OnnxClassifier.from_bundle(tiny_bundle, "fp32")
    expected = np.concatenate([fp32.logits([text]) for text, _ in sample_rows("train")[:40]])  # one at a time
    assert table.shape == (40, 2)
    np.testing.assert_allclose(table, expected, atol=1e-5)


def test_a_hugging_face_folder_in_the_bundle_is_the_students_base(
    tiny_bundle, tiny_base_model, small_data, tmp_path, capsys
):
    """A bundle that carries the model's torch weights (e.g. save_pretrained() into bundle/hf/) is pruned from them."""
    from transformers import BertForSequenceClassification

    from tests.conftest import TOKENIZER_FILES, tiny_bert_config

    teacher = copy_bundle(tiny_bundle, tmp_path / "teacher")
    labels = {"id2label": {0: "negative", 1: "positive"}, "label2id": {"negative": 0, "positive": 1}}
    BertForSequenceClassification(tiny_bert_config(3, num_labels=2, **labels)).save_pretrained(teacher / "hf")
    for name in TOKENIZER_FILES:
        shutil.copy(tiny_base_model / name, teacher / "hf" / name)
    assert main(distill_args(teacher, small_data, tmp_path / "student", "--layers", "1", "--export", "false")) == 0
    log = capsys.readouterr().out
    assert f"student: layers 0 of {teacher / 'hf'}'s (the Hugging Face folder in the teacher bundle) 3" in log


@pytest.mark.parametrize("flag", [[], ["--student-base", "{missing}"]])
def test_a_bundle_whose_base_model_is_not_here_is_refused_saying_how(tiny_bundle, small_data, tmp_path, capsys, flag):
    gone = str(tmp_path / "gone")
    teacher = copy_bundle(
        tiny_bundle, tmp_path / "teacher", base_model=gone, training={"base_model_path": gone + "-trained"}
    )
    argv = [a.replace("{missing}", str(tmp_path / "missing")) for a in flag]
    code = main(distill_args(teacher, small_data, tmp_path / "student", "--layers", "1", *argv))
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and not (tmp_path / "student").exists()
    if flag:
        assert f"error: --student-base {tmp_path / 'missing'} is not a folder; pass the Hugging Face folder" in err
    else:
        assert f"error: --teacher {teacher} is a golive bundle: its ONNX model gives the soft labels" in err
        assert f"({gone}) is not on this machine (looked for {gone}-trained and {gone})" in err
        assert "Pass --student-base DIR" in err


def test_student_base_flag_and_more_layers_than_the_base_has(
    tiny_bundle, tiny_base_model, small_data, tmp_path, capsys
):
    code = main(
        distill_args(tiny_bundle, small_data, tmp_path / "s", "--layers", "2", "--student-base", str(tiny_base_model))
    )
    err = capsys.readouterr().err
    assert code == 2, err
    assert (
        f"--layers 2, but the student base {tiny_base_model} (--student-base) has 2 layers: a student keeps fewer"
        in err
    )


def test_student_base_stands_in_for_a_bundles_missing_base_model(tiny_bundle, tiny_base_model, small_data, tmp_path):
    """The fix the refusal names works: --student-base builds the student; the teacher's layer count, which only
    its base model could say, is recorded as unknown."""
    gone = str(tmp_path / "gone")
    teacher = copy_bundle(tiny_bundle, tmp_path / "teacher", base_model=gone, training={"base_model_path": gone})
    flags = ["--layers", "1", "--student-base", str(tiny_base_model)]
    assert main(distill_args(teacher, small_data, tmp_path / "student", *flags)) == 0
    manifest = bundle.verify_bundle(tmp_path / "student")
    assert manifest.distillation["teacher_layers"] is None
    assert manifest.distillation["student_base"] == str(tiny_base_model)
    card = (tmp_path / "student" / bundle.MODEL_CARD).read_text()
    assert "its layer count unknown" in card and "| teacher | unknown |" in card
