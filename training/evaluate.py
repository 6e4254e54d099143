"""`golive evaluate`: score a bundle's exported ONNX model (what production runs) on labelled data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from golive.classification_metrics import classification_report
from golive.errors import UserError, listed
from golive.onnx_classifier import OnnxClassifier
from training.data import label_index, to_labelled
from training.reading import SkipReport, read_rows


def evaluate(
    model_dir: Path,
    data_path: str,
    variant: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    skip_invalid: bool = False,
) -> dict[str, Any]:
    classifier = OnnxClassifier.from_bundle(Path(model_dir), variant)
    assert classifier.manifest is not None  # from_bundle sets it
    names = classifier.labels
    skipped = SkipReport()
    rows = read_rows(data_path, text_column, label_column, skipped, skip_invalid)
    # the bundle's label names, or integer class indices 0..n-1
    data = to_labelled(rows, label_index(names), skipped, skip_invalid)
    if not data.texts:  # every row's label unknown (skipped): an accuracy of 0.0 on no rows would look like a score
        raise UserError(
            f"no rows left to score: all {len(rows)} have labels the bundle doesn't know (bundle: "
            f"{listed(names)}; data: {listed(sorted({row.label for row in rows}))})"
        )
    report = classification_report(np.array(data.labels), classifier.predict_proba(data.texts), names)
    report.update(
        model_version=classifier.manifest.version_id,
        variant=classifier.variant,
        data=data_path,
        skipped_rows=skipped.as_dict(),
    )
    return report


def format_report(report: dict[str, Any]) -> str:
    labels = report["confusion_matrix"]["labels"]
    width = max(12, *(len(n) + 2 for n in labels))
    lines = [
        f"model {report['model_version']} ({report['variant']}) on {report['data']}: {report['examples']} rows",
        f"accuracy  {report['accuracy']:.4f}",
        f"macro-F1  {report['macro_f1']:.4f}",
        f"mean confidence  {report['mean_confidence']:.4f}",
        "",
        f"{'label':<{width}}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}",
    ]
    for name, row in report["per_class"].items():
        lines.append(
            f"{name:<{width}}{row['precision']:>10.4f}{row['recall']:>10.4f}{row['f1']:>10.4f}{row['support']:>10}"
        )
    lines += [
        "",
        "confusion matrix (rows: true label, columns: predicted)",
        " " * width + "".join(f"{n:>{width}}" for n in labels),
    ]
    for name, row in zip(labels, report["confusion_matrix"]["rows_true_columns_predicted"]):
        lines.append(f"{name:<{width}}" + "".join(f"{v:>{width}}" for v in row))
    if report["skipped_rows"]:
        lines += ["", f"skipped rows: {report['skipped_rows']}"]
    return "\n".join(lines)


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2)
