"""A bundle written by hand in the core's format (golive.bundle), for what reads a bundle without running its
model: synth (the Lambda package's files, the endpoint's model.tar.gz, the quality alarms' baseline). No torch,
no training run. Its ONNX files are placeholders that no runtime could load: never serve from it."""

from __future__ import annotations

import json
from pathlib import Path

from golive import bundle

LABELS = ["negative", "positive"]
# the monitoring baseline (metrics.json), as training writes it: what the quality alarms compare traffic with
BASELINE = {
    "variant": "int8",
    "label_distribution": {"negative": 0.45, "positive": 0.55},
    "predicted_label_distribution": {"negative": 0.4, "positive": 0.6},
    "mean_confidence": 0.82,
    "mean_input_chars": 64.0,
}


def write_handmade_bundle(folder: Path) -> Path:
    files = {
        bundle.MODEL_FP32: b"placeholder: not an ONNX model",
        bundle.MODEL_INT8: b"placeholder: not an ONNX model (int8)",
        bundle.TOKENIZER: json.dumps({"version": "1.0", "model": {"type": "WordLevel", "vocab": {"[UNK]": 0}}}),
        bundle.METRICS: json.dumps({"validation": {"int8": {"accuracy": 0.9, "macro_f1": 0.9}}, "baseline": BASELINE}),
        bundle.MODEL_CARD: "# Hand-written bundle\nFor synth tests only: its models are placeholders.\n",
    }
    manifest = bundle.Manifest(
        version_id=bundle.new_version_id(),
        created_at="2026-11-24T00:00:00+00:00",
        base_model="handmade",
        data_sha256="0" * 64,
        labels=LABELS,
        max_length=32,
    )
    bundle.write_bundle(folder, files, manifest)
    return Path(folder)
