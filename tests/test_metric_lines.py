"""Training's metric lines and the SageMaker regexes built from the same names."""

from __future__ import annotations

import re

from golive.contracts.training_metrics import SAGEMAKER_METRIC_DEFINITIONS, TRAINING_METRICS, format_metrics


def capture(line: str) -> dict[str, float]:
    found = {}
    for definition in SAGEMAKER_METRIC_DEFINITIONS:
        match = re.search(definition["Regex"], line)
        if match:
            found[definition["Name"]] = float(match.group(1))
    return found


def test_every_metric_has_a_definition():
    assert [d["Name"] for d in SAGEMAKER_METRIC_DEFINITIONS] == list(TRAINING_METRICS)


def test_regexes_capture_what_training_prints():
    line = format_metrics({"step": 50, "epoch": 1.5, "train_loss": 0.000012345, "learning_rate": 2.5e-5})
    assert capture(line) == {"epoch": 1.5, "train_loss": 1.2345e-05, "learning_rate": 2.5e-05}
    line = format_metrics({"epoch": 2, "eval_loss": 0.31, "eval_accuracy": 0.875, "eval_macro_f1": 0.8749})
    assert capture(line) == {"epoch": 2.0, "eval_loss": 0.31, "eval_accuracy": 0.875, "eval_macro_f1": 0.8749}


def test_names_do_not_capture_each_other():
    # "parity_int8_label_agreement" must not be read as "parity_label_agreement", nor eval_loss as train_loss
    assert capture("parity_int8_label_agreement=0.5 eval_loss=0.2") == {"eval_loss": 0.2}
