"""Metrics as `key=value` log lines, and the regexes that SageMaker uses to capture them.

Training prints its metrics through `format_metrics`; infrastructure builds the training job's
metric definitions from `SAGEMAKER_METRIC_DEFINITIONS`. Both come from here so they cannot drift.
"""

from __future__ import annotations

import math
import re

_NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"

# Names SageMaker shows in the console and CloudWatch (`/aws/sagemaker/TrainingJobs` namespace): every metric
# training logs (tests/test_metric_lines.py runs a training and checks each line against these).
TRAINING_METRICS = (
    "train_loss",
    "learning_rate",
    "epoch",
    "eval_loss",
    "eval_accuracy",
    "eval_macro_f1",
    "train_examples_per_second",
    "train_runtime_seconds",
    "onnx_accuracy",
    "onnx_int8_accuracy",
    "parity_max_logit_diff",
    "parity_label_agreement",
    "parity_int8_label_agreement",
    # champion/challenger (training/comparison.py): the new model and the serving one on the same held-out rows;
    # the pipeline's gate reads them (no champion_accuracy and accuracy_gain: nothing was compared)
    "challenger_accuracy",
    "champion_accuracy",
    "accuracy_gain",
    "comparison_rows",
)

SAGEMAKER_METRIC_DEFINITIONS = [{"Name": name, "Regex": rf"\b{name}={_NUMBER}"} for name in TRAINING_METRICS]


def format_metrics(values: dict[str, float | int | str]) -> str:
    """One line, `key=value` pairs separated by spaces; floats in a form the regexes accept."""
    parts = []
    for key, value in values.items():
        if isinstance(value, float):
            value = "nan" if math.isnan(value) else f"{value:.6g}"
        parts.append(f"{key}={value}")
    return " ".join(parts)


def captured_by_sagemaker(line: str) -> dict[str, float]:
    """What the job's metric definitions capture from one log line, as SageMaker applies them (each regex's
    first group, searched anywhere in the line): how tests and local tools read training's output the same way."""
    found = {}
    for definition in SAGEMAKER_METRIC_DEFINITIONS:
        match = re.search(definition["Regex"], line)
        if match:
            found[definition["Name"]] = float(match.group(1))
    return found
