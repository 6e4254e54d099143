"""What a distilled bundle records of its teacher: the manifest's `distillation`, and the teacher's int8 accuracy
and batch-1 latency next to the student's in metrics.json and the model card (training.export calls it)."""

from __future__ import annotations

import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from golive import bundle
from golive.classification_metrics import classification_report
from golive.onnx_classifier import OnnxClassifier
from golive.progress import Progress
from training.data import Datasets
from training.export import write_onnx_files
from training.teacher import FROM_TEACHER, DistillSettings, soft_label_variant

LATENCY_TEXTS = 64  # validation texts timed one at a time, teacher and student in turn, for the model card


@dataclass
class Provenance:
    """What the bundle's export records of the distillation: the manifest's `distillation` (`record`), and the
    teacher next to the student in metrics.json and the model card (both int8, on the same validation rows)."""

    settings: DistillSettings
    keep: list[int]
    record: dict[str, Any]
    teacher: torch.nn.Module | None  # a folder teacher's torch model; None for a bundle (its int8 model is there)
    tokenizer: Any
    max_length: int
    data: Datasets

    @property
    def manifest_entry(self) -> dict[str, Any]:
        return self.record

    @contextlib.contextmanager
    def teacher_int8(self) -> Iterator[OnnxClassifier]:
        """The teacher as it serves: a bundle's own int8 model, or a folder's exported the student's way."""
        if self.teacher is None:
            manifest = self.settings.teacher.manifest
            assert manifest is not None  # a bundle teacher
            variant = "int8" if bundle.MODEL_INT8 in manifest.files else manifest.default_variant
            yield OnnxClassifier.from_bundle(Path(self.settings.teacher.path), variant)
            return
        with tempfile.TemporaryDirectory(prefix="golive-teacher-") as tmp:
            progress = Progress(sys.stdout)
            progress("exporting the teacher too, to compare it with the student ...")
            paths, _ = write_onnx_files(self.teacher, self.tokenizer, Path(tmp), progress)
            yield OnnxClassifier(
                paths[bundle.MODEL_INT8], paths[bundle.TOKENIZER], self.data.label_names, self.max_length
            )

    def compare(self, student: OnnxClassifier) -> dict[str, Any]:
        """Teacher and student, both int8 ONNX: validation accuracy and per-text latency (batch 1)."""
        texts, truth = self.data.validation.texts, np.array(self.data.validation.labels)
        with self.teacher_int8() as teacher:
            models = {"teacher": teacher, "student": student}
            accuracy = {
                name: classification_report(truth, clf.predict_proba(texts), self.data.label_names)["accuracy"]
                for name, clf in models.items()
            }
            latency = batch1_latency_ms(models, texts[:LATENCY_TEXTS])
        layers = {"teacher": self.settings.teacher.layers, "student": len(self.keep)}
        return {
            name: {"layers": layers[name], "int8_accuracy": accuracy[name], "int8_latency_ms_p50": latency[name]}
            for name in models
        } | {"validation_rows": len(texts), "latency_texts": len(texts[:LATENCY_TEXTS])}

    def card(self, comparison: dict[str, Any]) -> str:
        s, teacher, student = self.settings, comparison["teacher"], comparison["student"]
        speedup = teacher["int8_latency_ms_p50"] / student["int8_latency_ms_p50"]
        return f"""
## Distilled from a teacher
- **Teacher**: {teacher_description(s)}; the student keeps layers {", ".join(map(str, self.keep))}
  ({s.layer_choice}){student_source(s)} and was trained on the data above with the teacher's soft labels
  (temperature {s.temperature:g}, soft loss share {s.alpha:g}).

| model | layers | int8 accuracy ({comparison["validation_rows"]} validation rows) | int8 latency p50, one text |
| --- | ---: | ---: | ---: |
| teacher | {teacher["layers"] or "unknown"} | {teacher["int8_accuracy"]:.4f} | {teacher["int8_latency_ms_p50"]:.2f} ms |
| student | {student["layers"]} | {student["int8_accuracy"]:.4f} | {student["int8_latency_ms_p50"]:.2f} ms ({speedup:.2f}x) |

Latency: {comparison["latency_texts"]} validation texts one at a time, teacher and student in turn, on the machine
that distilled, at export; benchmarks/distill.py measures it properly.
"""


def teacher_description(s: DistillSettings) -> str:
    layers = f"{s.teacher.layers} layers" if s.teacher.layers else "its layer count unknown"
    if s.teacher.manifest is None:
        return f"`{s.teacher.path}`, {layers}"
    variant = soft_label_variant(s.teacher.manifest)
    return f"the golive bundle `{s.teacher.path}` (version {s.teacher.version}; soft labels from its {variant} ONNX model), {layers}"


def student_source(s: DistillSettings) -> str:
    """Whose layers the student kept, when not the teacher's."""
    if s.student_base.found == FROM_TEACHER:
        return ""
    return f" of `{s.student_base.path}` ({s.student_base.found}, {s.student_base.layers} layers)"


def batch1_latency_ms(models: dict[str, OnnxClassifier], texts: list[str]) -> dict[str, float]:
    """Median milliseconds per single-text call, the models taking turns on each text (so load hits both alike)."""
    times: dict[str, list[float]] = {name: [] for name in models}
    for clf in models.values():
        clf.logits(texts[:1])  # the first call allocates
    for text in texts:
        for name, clf in models.items():
            started = time.perf_counter()
            clf.logits([text])
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}
