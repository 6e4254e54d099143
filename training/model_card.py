"""The bundle's MODEL_CARD.md: what a person reads first about a model (the figures are metrics.json's)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from golive import bundle


def model_card(manifest: bundle.Manifest, metrics: bundle.BundleMetrics) -> str:
    fp32, int8 = metrics.validation["fp32"], metrics.validation["int8"]
    assert metrics.training is not None and metrics.data is not None  # export_bundle writes both
    return f"""# Model card — {manifest.version_id}

- **Task**: text classification into {len(manifest.labels)} labels: {", ".join(manifest.labels)}
- **Base model**: `{manifest.base_model}`
- **Trained**: {manifest.created_at}, {metrics.training.train_rows} training rows, data sha256 `{manifest.data_sha256[:16]}…`
- **Validation** ({metrics.data.validation_rows} rows, {metrics.data.validation_source}):
  fp32 accuracy {fp32["accuracy"]:.4f}, macro-F1 {fp32["macro_f1"]:.4f};
  int8 accuracy {int8["accuracy"]:.4f}, macro-F1 {int8["macro_f1"]:.4f}
{comparison_line(metrics.comparison)}- **Served by default**: the {manifest.default_variant} ONNX model; texts are truncated to {manifest.max_length} tokens.

## Intended use and limits
Classifies short texts like those it was trained on. Accuracy on text from another domain, language or
length range will be lower than the validation figures above; monitor live confidence and label shares
against the baseline in `metrics.json` and retrain when they drift.
"""


def comparison_line(comparison: Mapping[str, Any]) -> str:
    """The champion/challenger figures (training/comparison.py) as a card line, or nothing when there are none."""
    if not comparison:
        return ""
    rows = ", ".join(f"{n} {source.replace('_', ' ')}" for source, n in comparison["sources"].items())
    line = f"- **Compared** on {comparison['rows']} held-out rows ({rows}): accuracy {comparison['challenger']['accuracy']:.4f}"
    champion = comparison.get("champion")
    if champion:
        line += (
            f"; the serving model ({champion.get('version_id', champion['source'])}) "
            f"{champion['accuracy']:.4f}, a gain of {comparison['accuracy_gain']:+.4f}"
        )
    elif comparison.get("not_compared"):
        line += f"; not compared with the serving model: {comparison['not_compared']}"
    return line + "\n"
