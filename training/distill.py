"""`golive distill`: a smaller student from a fine-tuned teacher, by layer pruning and knowledge distillation.

The student keeps some of the transformer layers (training.teacher.layers_to_keep) of the teacher, or, when the
teacher is a golive bundle (ONNX, no torch weights), of a base model (training.teacher.find_student_base). It is
trained on the task's rows with a loss that mixes the teacher's soft labels (training.soft_labels, scored once)
and the true ones (Hinton et al., 2015):

    loss = alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * cross-entropy(student, label)

T (the temperature) softens both distributions so the student learns how the teacher ranks the wrong labels
too; T^2 keeps the soft term's gradients at the hard term's scale. Everything else is `golive train`'s: its
data reading, loop, checkpoints (resume after an interruption), DDP under torchrun, metric lines, and the ONNX +
int8 + parity export into a normal bundle (rank 0), whose manifest also says where the student came from and whose
model card compares it with the teacher (training.provenance).
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from transformers import AutoModelForSequenceClassification, PreTrainedModel

from golive.errors import UserError
from training.args import TrainArguments
from training.data import Datasets
from training.distributed import Distributed, init_distributed
from training.export import export_bundle
from training.loop import resume, run_training
from training.provenance import Provenance
from training.soft_labels import teacher_logits
from training.teacher import FROM_TEACHER, DistillSettings, Teacher, layers_to_keep
from training.train import (
    build_run,
    check_output_folders,
    describe,
    load_classifier,
    load_tokenizer,
    read_data,
    summarise,
)

logger = logging.getLogger(__name__)


class DistillationModel(torch.nn.Module):
    """The student, with the distillation loss in place of its own where a training step gives it the teacher's
    logits for its rows (training.soft_labels); called without them (evaluation, export) it is the student alone,
    so eval_loss is the same cross-entropy `golive train` reports. The teacher is not in it: its logits are
    scored once, before training, so it is neither optimised, nor saved in checkpoints, nor run again each epoch."""

    def __init__(self, student: torch.nn.Module, temperature: float, alpha: float):
        super().__init__()
        self.student = student
        self.temperature, self.alpha = temperature, alpha

    @property
    def config(self):
        return self.student.config

    def forward(
        self, labels: torch.Tensor | None = None, teacher_logits: torch.Tensor | None = None, **inputs: torch.Tensor
    ):
        out = self.student(**inputs, labels=labels)
        if teacher_logits is None or labels is None:
            return out
        t = self.temperature
        student = F.log_softmax(out.logits.float() / t, dim=-1)
        soft = F.kl_div(student, F.softmax(teacher_logits.float() / t, dim=-1), reduction="batchmean") * t * t
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


def read_distill_data(args: TrainArguments, ctx: Distributed, teacher: Teacher) -> Datasets:
    """The rows, their labels in the teacher's order (its soft labels' columns), refused when they are not its."""
    if teacher.has_label_names and not args.label_names:
        args.label_names = teacher.labels  # the data's classes in the teacher's order
    data = read_data(args, ctx)
    same = (
        data.label_names == teacher.labels if teacher.has_label_names else len(data.label_names) == len(teacher.labels)
    )
    if not same:
        raise UserError(
            f"the teacher classifies into {len(teacher.labels)} labels ({', '.join(teacher.labels)}) and the data "
            f"has {len(data.label_names)} ({', '.join(data.label_names)}); distill on the teacher's task, its "
            "labels in its order"
        )
    return data


def build_student(
    settings: DistillSettings, teacher: PreTrainedModel | None, keep: list[int], labels: list[str]
) -> PreTrainedModel:
    """The student base (the torch teacher itself for a folder teacher) with only the layers `keep`."""
    if teacher is not None and settings.student_base.path == settings.teacher.path:
        source = teacher
    else:
        source = load_classifier(settings.student_base.path, labels)
    student = prune_layers(source, keep)
    student.config.id2label = dict(enumerate(labels))
    student.config.label2id = {name: i for i, name in enumerate(labels)}
    return student


def distill(args: TrainArguments, settings: DistillSettings) -> dict[str, Any]:
    """Prune, train with the teacher's soft labels, export the bundle (rank 0). Returns a summary of the run."""
    torch.manual_seed(args.seed)
    ctx = init_distributed(args.num_gpus)
    check_output_folders(
        args, ctx, {"--teacher": str(settings.teacher.path), "--student-base": str(settings.student_base.path)}
    )
    data = read_distill_data(args, ctx, settings.teacher)
    tokenizer = load_tokenizer(settings.student_base.path)
    keep = layers_to_keep(settings.student_base.layers, settings.layers, settings.layer_choice)
    ctx.log(describe_student(settings, keep))
    teacher = None
    if settings.teacher.manifest is None:  # a Hugging Face folder: scored with torch
        teacher = AutoModelForSequenceClassification.from_pretrained(settings.teacher.path).eval()
    student = build_student(settings, teacher, keep, data.label_names)
    record = distillation_record(settings, keep)
    run = build_run(args, ctx, data, tokenizer, settings.student_base.path, student, record)
    run.teacher_logits = teacher_logits(settings.teacher, teacher, run, data.train.texts)
    if teacher is not None:
        teacher.cpu()  # scored: out of the accelerator's memory while the student trains
    run.model = DistillationModel(run.model, settings.temperature, settings.alpha)
    resume(run)
    describe(run)
    summary = summarise(run, data, run_training(run))
    ctx.finish()
    summary["layers_kept"] = keep
    if ctx.is_main and args.export:
        teacher = teacher.float().cpu().eval() if teacher is not None else None
        provenance = Provenance(settings, keep, record, teacher, tokenizer, args.max_length, data)
        student_model = run.model.student.float().cpu().eval()
        manifest = export_bundle(
            student_model, tokenizer, data, args, settings.student_base.path, summary, distillation=provenance
        )
        summary["bundle"] = str(Path(args.out))
        summary["version_id"] = manifest.version_id
    return summary


def describe_student(settings: DistillSettings, keep: list[int]) -> str:
    base = settings.student_base
    source = "the teacher's" if base.found == FROM_TEACHER else f"{base.path}'s ({base.found})"
    return (
        f"student: layers {', '.join(map(str, keep))} of {source} {base.layers}; temperature "
        f"{settings.temperature:g}, soft loss share {settings.alpha:g}"
    )


def distillation_record(settings: DistillSettings, keep: list[int]) -> dict[str, Any]:
    """Where the student came from and how it was taught: the manifest's `distillation`, and what sets a
    distillation's checkpoints apart from another's."""
    return {
        "teacher": settings.teacher.path,
        "teacher_version": settings.teacher.version,  # a bundle teacher's version id
        "teacher_layers": settings.teacher.layers,
        "student_base": settings.student_base.path,
        "layers_kept": keep,
        "layer_choice": settings.layer_choice,
        "temperature": settings.temperature,
        "alpha": settings.alpha,
    }
