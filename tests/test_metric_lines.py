"""Training's metric lines and the regexes SageMaker reads them with: a real training run, as SageMaker starts it,
prints lines that the definitions capture, every one of them and nothing else."""

from __future__ import annotations

import math
import re
import subprocess
import sys

import pytest

from golive.contracts.training_metrics import SAGEMAKER_METRIC_DEFINITIONS, captured_by_sagemaker, format_metrics
from tests.conftest import REPO, tiny_train_args

NUMBER = re.compile(r"[-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|nan")
NOT_METRICS = {"step"}  # a counter on metric lines; SageMaker places each value by its timestamp


def metric_lines(output: str) -> list[tuple[str, dict[str, str]]]:
    """Lines made only of `key=number` pairs (format_metrics' lines), each with its pairs."""
    lines = []
    for line in output.splitlines():
        pairs = [token.partition("=") for token in line.split()]
        if pairs and all(sep and key and NUMBER.fullmatch(value) for key, sep, value in pairs):
            lines.append((line, {key: value for key, _, value in pairs}))
    return lines


@pytest.mark.slow
def test_a_training_run_prints_what_the_definitions_capture(tiny_base_model, tiny_bundle, small_data, tmp_path):
    train, val = small_data
    # compared with a serving model (--champion), a run prints every metric there is
    script_args = tiny_train_args(
        tiny_base_model, train, val, tmp_path / "bundle", "--epochs", "1", "--champion", str(tiny_bundle)
    )[1:]
    result = subprocess.run(
        [sys.executable, str(REPO / "training" / "cli.py"), *script_args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = metric_lines(result.stdout)
    assert lines, result.stdout
    assert not metric_lines(result.stderr)  # SageMaker reads both; the metrics belong on stdout
    printed = set()
    for line, pairs in lines:
        captured = captured_by_sagemaker(line)
        for key, value in pairs.items():
            if key in NOT_METRICS:
                continue
            assert key in captured, f"{key} is printed but no metric definition captures it: {line}"
            assert captured[key] == float(value) or (math.isnan(captured[key]) and value == "nan"), line
            printed.add(key)
    defined = {d["Name"] for d in SAGEMAKER_METRIC_DEFINITIONS}
    assert defined - printed == set(), "defined but never printed by a training run"


def test_regexes_capture_what_format_metrics_writes():
    line = format_metrics({"step": 50, "epoch": 1.5, "train_loss": 0.000012345, "learning_rate": 2.5e-5})
    assert captured_by_sagemaker(line) == {"epoch": 1.5, "train_loss": 1.2345e-05, "learning_rate": 2.5e-05}
    line = format_metrics({"epoch": 2, "eval_loss": 0.31, "eval_accuracy": 0.875, "eval_macro_f1": 0.8749})
    assert captured_by_sagemaker(line) == {
        "epoch": 2.0,
        "eval_loss": 0.31,
        "eval_accuracy": 0.875,
        "eval_macro_f1": 0.8749,
    }


def test_names_do_not_capture_each_other():
    # "parity_int8_label_agreement" must not be read as "parity_label_agreement", nor eval_loss as train_loss
    assert captured_by_sagemaker("parity_int8_label_agreement=0.5 eval_loss=0.2") == {
        "parity_int8_label_agreement": 0.5,
        "eval_loss": 0.2,
    }
    assert captured_by_sagemaker("parity_label_agreement=1 train_examples_per_second=3") == {
        "parity_label_agreement": 1.0,
        "train_examples_per_second": 3.0,
    }
