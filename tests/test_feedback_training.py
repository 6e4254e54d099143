"""Retraining on feedback, compared with the serving model: `golive train --feedback-data --eval-data --champion` on the
tiny model, its metric lines read as SageMaker reads them, and the comparison redone here with ONNX Runtime on the
rows the run should have held out."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from golive import bundle
from golive.contracts.training_metrics import captured_by_sagemaker
from golive.onnx_classifier import OnnxClassifier
from tests.conftest import sample_rows, tiny_train_args, write_rows

TRAIN, VALIDATION = sample_rows("train"), sample_rows("validation")
EVAL_SET = VALIDATION[16:36]  # 20 rows the tiny runs never train or validate on
FRESH = TRAIN[40:50]  # texts the tiny runs never saw: users' feedback


def feedback_row(text: str, label: str, received_at: str, n: int) -> dict:
    """A row as `golive feedback export` writes it."""
    return {"text": text, "label": label, "prediction_id": f"p-{n}", "model_version": "v1", "received_at": received_at}


def write_exports(folder: Path) -> Path:
    """Three days of exports in the data bucket's layout: a folder per day, its rows and its summary."""
    day1 = [feedback_row(text, label, f"2026-11-23T10:0{i}:00Z", i) for i, (text, label) in enumerate(FRESH[:6])]
    day1 += [
        feedback_row(*FRESH[0], "2026-11-23T11:00:00Z", 10),  # FRESH[0] again: one row kept, counted duplicate
        feedback_row(*TRAIN[0], "2026-11-23T11:01:00Z", 11),  # already in --data: left out
        feedback_row(*EVAL_SET[0], "2026-11-23T11:02:00Z", 12),  # in the evaluation set: left out
    ]
    day2 = [feedback_row(text, label, f"2026-11-24T09:0{i}:00Z", 20 + i) for i, (text, label) in enumerate(FRESH[6:])]
    for day, rows in (("2026-11-24", day2), ("2026-11-23", day1), ("2026-11-25", [])):
        (folder / day).mkdir(parents=True)
        (folder / day / "feedback.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
        (folder / day / "summary.json").write_text(json.dumps({"rows": len(rows), "left_out": {}}))
    return folder


def metric_values(output: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in output.splitlines():
        found |= captured_by_sagemaker(line)
    return found


def accuracy(model: OnnxClassifier, rows: list[tuple[str, str]]) -> float:
    predicted = np.array(model.labels)[model.predict_proba([text for text, _ in rows]).argmax(1)]
    return float(np.mean(predicted == np.array([label for _, label in rows])))


@pytest.fixture(scope="module")
def retrained(tmp_path_factory, tiny_base_model, tiny_bundle):
    """One run with all three: the champion given as the pipeline gives it (a channel folder with model.tar.gz)."""
    tmp = tmp_path_factory.mktemp("retrain")
    train = write_rows(tmp / "train.tsv", TRAIN[:40])
    validation = write_rows(tmp / "validation.tsv", VALIDATION[:16])
    (tmp / "eval").mkdir()
    write_rows(tmp / "eval" / "eval.tsv", EVAL_SET)
    bundle.pack_tarball(tiny_bundle, tmp / "champion" / bundle.TARBALL)
    args = [
        *("--feedback-data", str(write_exports(tmp / "feedback-exports"))),
        *("--eval-data", str(tmp / "eval"), "--champion", str(tmp / "champion"), "--epochs", "1"),
    ]
    return tmp, tiny_train_args(tiny_base_model, train, validation, tmp / "bundle", *args)


@pytest.fixture(scope="module")
def run_output(retrained):
    import contextlib
    import io

    tmp, args = retrained
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(args) == 0
    return tmp / "bundle", out.getvalue()


@pytest.mark.slow
def test_the_metric_lines_compare_both_models_on_the_same_held_out_rows(run_output, tiny_bundle):
    new, output = run_output
    logged = metric_values(output)
    held_out = FRESH[8:]  # the newest 20% of the 10 usable feedback rows
    rows = EVAL_SET + held_out
    assert logged["comparison_rows"] == len(rows) == 22
    champion = accuracy(OnnxClassifier.from_bundle(tiny_bundle), rows)
    challenger = accuracy(OnnxClassifier.from_bundle(new), rows)  # int8, the default variant
    assert logged["champion_accuracy"] == pytest.approx(champion, abs=1e-6)
    assert logged["challenger_accuracy"] == pytest.approx(challenger, abs=1e-6)
    assert logged["accuracy_gain"] == pytest.approx(challenger - champion, abs=1e-5)


@pytest.mark.slow
def test_feedback_rows_are_trained_on_or_held_out_and_every_one_left_out_is_counted(run_output, tiny_bundle):
    new, output = run_output
    metrics = bundle.read_metrics(new)
    assert metrics.data.feedback == {
        "source": metrics.data.feedback["source"],
        "rows": 13,
        "trained_on": 8,
        "held_out": 2,
        "holdout_share": 0.2,
        "left_out": {"duplicate": 1, "in_training_data": 1, "in_eval_set": 1},
    }
    assert metrics.data.train_rows == 40 + 8 and metrics.training.train_rows == 48
    comparison = metrics.comparison
    assert comparison["sources"] == {"eval_set": 20, "held_out_feedback": 2} and comparison["rows"] == 22
    assert comparison["champion"]["version_id"] == bundle.read_manifest(tiny_bundle).version_id
    assert comparison["accuracy_gain"] == pytest.approx(
        comparison["challenger"]["accuracy"] - comparison["champion"]["accuracy"]
    )
    manifest = bundle.read_manifest(new)
    assert manifest.training["feedback_data"].endswith("feedback-exports")
    assert manifest.training["champion"].endswith("champion")
    assert "feedback: 13 rows" in output and "left out 3" in output
    assert "the serving model" in (new / bundle.MODEL_CARD).read_text()


@pytest.mark.slow
def test_a_champion_with_other_labels_is_not_compared(retrained, tiny_bundle, tmp_path, capsys):
    _, args = retrained
    other = shutil.copytree(tiny_bundle, tmp_path / "other-labels")
    manifest = json.loads((other / bundle.MANIFEST).read_text())
    (other / bundle.MANIFEST).write_text(json.dumps(manifest | {"labels": ["bad", "good"]}))
    args = [*args, "--champion", str(other), "--out", str(tmp_path / "bundle"), "--feedback-holdout", "0"]
    assert main(args) == 0
    output = capsys.readouterr().out
    logged = metric_values(output)
    assert "champion_accuracy" not in logged and "accuracy_gain" not in logged  # the gate: cannot compare
    assert logged["comparison_rows"] == 20  # no feedback held out
    comparison = bundle.read_metrics(tmp_path / "bundle").comparison
    assert comparison["champion"] is None and "bad, good" in comparison["not_compared"]


def test_sagemaker_channels_are_the_defaults_of_the_new_paths(monkeypatch):
    from training.args import add_train_arguments

    channels = {"SM_CHANNEL_FEEDBACK": "/opt/ml/input/data/feedback", "SM_CHANNEL_EVAL": "/opt/ml/input/data/eval"}
    for name, value in channels.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SM_CHANNEL_CHAMPION", raising=False)
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    ns = parser.parse_args([])
    assert (ns.feedback_data, ns.eval_data, ns.champion) == (*channels.values(), None)  # no champion: first model


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--champion", "nowhere"], "--champion nowhere does not exist"),
        (["--champion", "{tmp}"], "is not a bundle folder"),
        (["--feedback-holdout", "1"], "--feedback-holdout must be in [0, 1)"),
        (["--eval-data", "x.tsv", "--export", "false"], "--eval-data is for the comparison of the exported model"),
    ],
)
def test_bad_comparison_flags_are_clear_errors(flags, message, tmp_path, capsys):
    """Each stops before any training, with what to do."""
    flags = [flag.replace("{tmp}", str(tmp_path)) for flag in flags]
    assert main(["train", "--out", str(tmp_path / "out"), *flags, "--epochs", "0.01"]) == 2
    assert message in capsys.readouterr().err
