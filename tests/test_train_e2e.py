"""train -> export -> evaluate on a tiny random BERT, through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from cli.main import main
from golive import bundle
from golive.onnx_classifier import OnnxClassifier
from tests.conftest import REPO, sample_rows, tiny_train_args

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_base_model):
    from tests.conftest import sample_rows, write_rows

    tmp = tmp_path_factory.mktemp("e2e")
    train = write_rows(tmp / "train.tsv", sample_rows("train")[:40])
    val = write_rows(tmp / "validation.tsv", sample_rows("validation")[:16])
    out = tmp / "bundle"
    assert main(tiny_train_args(tiny_base_model, train, val, out, "--output-data-dir", str(tmp / "output"))) == 0
    return out, train, val, tmp


def test_bundle_has_every_file_and_verifies(trained):
    out, *_ = trained
    manifest = bundle.verify_bundle(out)
    assert set(manifest.files) == {
        bundle.MODEL_FP32,
        bundle.MODEL_INT8,
        bundle.TOKENIZER,
        bundle.METRICS,
        bundle.MODEL_CARD,
    }
    assert manifest.labels == ["negative", "positive"]
    assert manifest.max_length == 32 and len(manifest.data_sha256) == 64
    assert manifest.version_id in (out / bundle.MODEL_CARD).read_text()


def test_metrics_hold_validation_parity_and_monitoring_baseline(trained):
    out, *_ = trained
    metrics = bundle.read_json(out, bundle.METRICS)
    for variant in ("fp32", "int8"):
        report = metrics["validation"][variant]
        assert report["examples"] == 16
        assert set(report["per_class"]) == {"negative", "positive"}
        assert sum(map(sum, report["confusion_matrix"]["rows_true_columns_predicted"])) == 16
    assert metrics["parity"]["fp32"]["max_logit_diff"] <= 1e-3
    assert metrics["parity"]["fp32"]["label_agreement"] == 1.0
    baseline = metrics["baseline"]
    assert pytest.approx(sum(baseline["label_distribution"].values())) == 1.0
    assert 0.5 <= baseline["mean_confidence"] <= 1.0
    texts = [text for text, _ in sample_rows("validation")[:16]]
    assert baseline["mean_input_chars"] == pytest.approx(sum(map(len, texts)) / len(texts))
    assert metrics["data"]["train_rows"] == 40 and metrics["data"]["skipped_rows"] == {}


def test_onnx_has_dynamic_batch_and_sequence_axes(trained):
    out, *_ = trained
    clf = OnnxClassifier.from_bundle(out, "fp32")
    for name in ("input_ids", "attention_mask"):
        shape = next(i.shape for i in clf.session.get_inputs() if i.name == name)
        assert isinstance(shape[0], str) and isinstance(shape[1], str)
    probs = clf.predict_proba(["short", "a much longer text " * 10, "mid length text here"])
    assert probs.shape == (3, 2) and np.allclose(probs.sum(1), 1, atol=1e-5)
    # batching and padding must not change answers: one at a time gives the same probabilities
    singles = np.vstack([clf.predict_proba([t]) for t in ["short", "a much longer text " * 10, "mid length text here"]])
    assert np.allclose(probs, singles, atol=1e-5)


def test_evaluate_reports_on_the_onnx_model(trained, capsys):
    out, _, val, _ = trained
    assert main(["evaluate", "--model", str(out), "--data", str(val), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    metrics = bundle.read_json(out, bundle.METRICS)
    assert report["variant"] == "int8" and report["examples"] == 16
    assert report["accuracy"] == pytest.approx(metrics["validation"]["int8"]["accuracy"])
    assert main(["evaluate", "--model", str(out), "--data", str(val), "--variant", "fp32"]) == 0
    table = capsys.readouterr().out
    assert "accuracy" in table and "confusion matrix" in table


def test_evaluate_accepts_integer_labels_for_named_classes(trained, tmp_path, capsys):
    out, *_ = trained
    data = tmp_path / "ints.jsonl"
    data.write_text('{"text": "lovely", "label": 1}\n{"text": "awful", "label": 0}\n')
    assert main(["evaluate", "--model", str(out), "--data", str(data), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["examples"] == 2


def test_training_summary_goes_to_output_data_dir(trained):
    *_, tmp = trained
    summary = json.loads((tmp / "output" / "training_summary.json").read_text())
    assert summary["global_step"] == 10 and summary["train_examples_per_second"] > 0
    assert any("eval_accuracy" in record for record in summary["history"])


def test_package_makes_a_sagemaker_tarball(trained, tmp_path):
    out, *_ = trained
    assert main(["package", "--model", str(out), "--out", str(tmp_path / "model.tar.gz")]) == 0
    manifest = bundle.unpack_tarball(tmp_path / "model.tar.gz", tmp_path / "unpacked")
    assert manifest.version_id == bundle.read_manifest(out).version_id


def test_broken_parity_fails_loudly_and_writes_nothing(tiny_base_model, small_data, tmp_path, capsys):
    train, val = small_data
    out = tmp_path / "bundle"
    code = main(tiny_train_args(tiny_base_model, train, val, out, "--epochs", "1", "--parity-tolerance", "1e-12"))
    assert code == 1
    assert "export failed: ONNX fp32 logits differ from torch" in capsys.readouterr().err
    assert not (out / bundle.MANIFEST).exists()


def test_int8_agreement_gate_refuses_a_model_that_disagrees(tiny_base_model, tmp_path):
    """Feed the parity check an 'int8' model whose classifier is negated: every label flips, export must stop."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from training.export import ParityError, check_parity, export_onnx, save_tokenizer

    torch.manual_seed(1)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_base_model, num_labels=2).eval()
    save_tokenizer(AutoTokenizer.from_pretrained(tiny_base_model), tmp_path / "tokenizer.json")
    names = list(bundle.ONNX_INPUTS)
    export_onnx(model, names, tmp_path / "good.onnx")
    flipped = AutoModelForSequenceClassification.from_pretrained(tiny_base_model, num_labels=2).eval()
    flipped.load_state_dict(model.state_dict())
    with torch.no_grad():
        flipped.classifier.weight.neg_()
        flipped.classifier.bias.neg_()
    export_onnx(flipped, names, tmp_path / "flipped.onnx")
    classifiers = {
        name: OnnxClassifier(tmp_path / f"{file}.onnx", tmp_path / "tokenizer.json", ["a", "b"], 32)
        for name, file in (("fp32", "good"), ("int8", "flipped"))
    }
    texts = ["great film", "awful food", "the hotel was fine", "never again"]
    with pytest.raises(ParityError, match=r"int8 model agrees with torch on only 0.0% of 4 held-out rows"):
        check_parity(model, classifiers, texts, tolerance=1e-3, int8_min_agreement=0.5)
    classifiers["int8"] = classifiers["fp32"]
    report = check_parity(model, classifiers, texts, tolerance=1e-3, int8_min_agreement=0.5)
    assert report["int8"]["label_agreement"] == 1.0 and report["fp32"]["max_logit_diff"] < 1e-4


@pytest.mark.parametrize(
    "args,message",
    [
        (["--data", "/no/such/file.tsv"], "data file /no/such/file.tsv does not exist"),
        (["--epochs", "0"], "--epochs must be positive"),
        (["--base-model", "/tmp"], "is not a Hugging Face model folder"),
        (["--label-names", "one"], "--label-names needs at least two non-empty names"),
    ],
)
def test_cli_user_errors_are_one_line_messages(args, message):
    result = subprocess.run([sys.executable, "-m", "cli", "train", *args], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
