"""`golive distill`: a smaller student from a fine-tuned teacher, by layer pruning and knowledge distillation.

The student is the teacher with only some of its transformer layers (training.teacher.layers_to_keep), trained on
the task's rows with a loss that mixes the teacher's soft labels and the true ones (Hinton et al., 2015):

    loss = alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * cross-entropy(student, label)

T (the temperature) softens both distributions so the student learns how the teacher ranks the wrong labels
too; T^2 keeps the soft term's gradients at the hard term's scale. Everything else is `golive train`'s: its
data reading, loop, metric lines, and the ONNX + int8 + parity export into a normal bundle, whose manifest
also says where the student came from and whose model card compares it with the teacher.
"""

from __future__ import annotations

import copy
import logging
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from transformers import AutoModelForSequenceClassification, PreTrainedModel

from golive import bundle
from golive.classification_metrics import classification_report
from golive.errors import UserError
from golive.onnx_classifier import OnnxClassifier
from golive.progress import Progress
from training.args import TrainArguments
from training.data import Datasets
from training.distributed import init_distributed
from training.export import export_bundle, write_onnx_files
from training.loop import run_training
from training.teacher import DistillSettings, layers_to_keep
from training.train import build_run, describe, load_tokenizer, read_data, require_writable_folder, summarise

logger = logging.getLogger(__name__)

LATENCY_TEXTS = 64  # validation texts timed one at a time, teacher and student in turn, for the model card


class DistillationModel(torch.nn.Module):
    """The student, with the distillation loss in place of its own while it trains; in eval mode it is the student
    alone (so eval_loss is the same cross-entropy `golive train` reports). The teacher is held outside the module
    tree: its weights are neither optimised nor saved in checkpoints, and it stays in eval mode."""

    def __init__(self, student: torch.nn.Module, teacher: torch.nn.Module, temperature: float, alpha: float):
        super().__init__()
        self.student = student
        self._teacher = (teacher.eval(),)
        self.temperature, self.alpha = temperature, alpha

    @property
    def config(self):
        return self.student.config

    def forward(self, labels: torch.Tensor | None = None, **inputs: torch.Tensor):
        out = self.student(**inputs, labels=labels)
        if not self.training or labels is None:
            return out
        with torch.no_grad():
            teacher_logits = self._teacher[0](**inputs).logits
        t = self.temperature
        soft = (
            F.kl_div(
                F.log_softmax(out.logits / t, dim=-1), F.softmax(teacher_logits / t, dim=-1), reduction="batchmean"
            )
            * t
            * t
        )
        out.loss = self.alpha * soft + (1 - self.alpha) * out.loss
        return out


def prune_layers(model: PreTrainedModel, keep: list[int]) -> PreTrainedModel:
    """A copy of `model` with only the transformer layers `keep` (BERT-family `encoder.layer`, DistilBERT's
    `transformer.layer`)."""
    student = copy.deepcopy(model)
    base: Any = student.base_model  # its layer stack's attribute depends on the architecture (below)
    stack = getattr(getattr(base, "encoder", None), "layer", None) or getattr(
        getattr(base, "transformer", None), "layer", None
    )
    if not isinstance(stack, torch.nn.ModuleList):
        raise UserError(
            f"cannot prune a {student.config.model_type} model: its layers are not where BERT-family and "
            "DistilBERT models keep them (encoder.layer, transformer.layer)"
        )
    kept = torch.nn.ModuleList([stack[i] for i in keep])
    (base.encoder if hasattr(base, "encoder") else base.transformer).layer = kept
    key = "num_hidden_layers" if hasattr(student.config, "num_hidden_layers") else "n_layers"
    setattr(student.config, key, len(keep))
    return student


def load_teacher(settings: DistillSettings, data: Datasets) -> PreTrainedModel:
    teacher = AutoModelForSequenceClassification.from_pretrained(settings.teacher.path)
    if teacher.config.num_labels != len(data.label_names):
        raise UserError(
            f"the teacher classifies into {teacher.config.num_labels} labels "
            f"({', '.join(settings.teacher.labels)}) and the data has {len(data.label_names)} "
            f"({', '.join(data.label_names)}); distill on the teacher's task"
        )
    return teacher.eval()


def distill(args: TrainArguments, settings: DistillSettings) -> dict[str, Any]:
    """Prune, train with the teacher's soft labels, export the bundle. Returns a summary of the run."""
    torch.manual_seed(args.seed)
    ctx = init_distributed(args.num_gpus)
    if args.export:
        require_writable_folder(args.out)
    if settings.teacher.has_label_names and not args.label_names:
        args.label_names = settings.teacher.labels  # the data's classes in the teacher's order
    data = read_data(args, ctx)
    tokenizer = load_tokenizer(settings.teacher.path)
    teacher = load_teacher(settings, data)
    keep = layers_to_keep(settings.teacher.layers, settings.layers, settings.layer_choice)
    ctx.log(
        f"student: layers {', '.join(map(str, keep))} of the teacher's {settings.teacher.layers}; temperature "
        f"{settings.temperature:g}, soft loss share {settings.alpha:g}"
    )
    with tempfile.TemporaryDirectory(prefix="golive-student-") as student_dir:
        student = prune_layers(teacher, keep)
        student.config.id2label = dict(enumerate(data.label_names))
        student.config.label2id = {name: i for i, name in enumerate(data.label_names)}
        student.save_pretrained(student_dir)
        run = build_run(args, ctx, data, tokenizer, student_dir)  # the optimiser and schedule `golive train` builds
    # transformers wraps PreTrainedModel.to in a decorator whose stub drops `self` (the device reads as the model)
    run.model = DistillationModel(
        run.model,
        teacher.to(ctx.device),  # type: ignore[arg-type]
        settings.temperature,
        settings.alpha,
    )
    describe(run)
    summary = summarise(run, data, run_training(run))
    ctx.finish()
    summary["layers_kept"] = keep
    if args.export:
        provenance = Provenance(settings, keep, teacher.float().cpu().eval(), tokenizer, args.max_length, data)
        manifest = export_bundle(
            run.model.student.float().cpu().eval(),
            tokenizer,
            data,
            args,
            settings.teacher.path,
            summary,
            distillation=provenance,
        )
        summary["bundle"] = str(Path(args.out))
        summary["version_id"] = manifest.version_id
    return summary


@dataclass
class Provenance:
    """What the bundle's export records of the distillation: the manifest's settings, and the teacher next to
    the student in metrics.json and the model card (both int8, on the same validation rows and texts)."""

    settings: DistillSettings
    keep: list[int]
    teacher: torch.nn.Module
    tokenizer: Any
    max_length: int
    data: Datasets

    @property
    def manifest_entry(self) -> dict[str, Any]:
        return {
            "teacher": self.settings.teacher.path,
            "teacher_layers": self.settings.teacher.layers,
            "layers_kept": self.keep,
            "layer_choice": self.settings.layer_choice,
            "temperature": self.settings.temperature,
            "alpha": self.settings.alpha,
        }

    def compare(self, student: OnnxClassifier) -> dict[str, Any]:
        """Teacher and student, both int8 ONNX: validation accuracy and per-text latency (batch 1)."""
        texts, truth = self.data.validation.texts, np.array(self.data.validation.labels)
        with tempfile.TemporaryDirectory(prefix="golive-teacher-") as tmp:
            progress = Progress(sys.stdout)
            progress("exporting the teacher too, to compare it with the student ...")
            paths, _ = write_onnx_files(self.teacher, self.tokenizer, Path(tmp), progress)
            teacher = OnnxClassifier(
                paths[bundle.MODEL_INT8], paths[bundle.TOKENIZER], self.data.label_names, self.max_length
            )
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
- **Teacher**: `{s.teacher.path}`, {s.teacher.layers} layers; the student keeps layers {", ".join(map(str, self.keep))}
  ({s.layer_choice}) and was trained on the data above with the teacher's soft labels (temperature {s.temperature:g},
  soft loss share {s.alpha:g}).

| model | layers | int8 accuracy ({comparison["validation_rows"]} validation rows) | int8 latency p50, one text |
| --- | ---: | ---: | ---: |
| teacher | {teacher["layers"]} | {teacher["int8_accuracy"]:.4f} | {teacher["int8_latency_ms_p50"]:.2f} ms |
| student | {student["layers"]} | {student["int8_accuracy"]:.4f} | {student["int8_latency_ms_p50"]:.2f} ms ({speedup:.2f}x) |

Latency: {comparison["latency_texts"]} validation texts one at a time, teacher and student in turn, on the machine
that distilled, at export; benchmarks/distill.py measures it properly.
"""


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
