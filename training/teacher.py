"""What `golive distill` is given: its settings, and its teacher read from the folder's config.json without
torch, so a wrong --teacher, --layers or --alpha is refused in a second, before any model loads; and which of the
teacher's layers a student keeps.

A golive bundle is not a teacher: it holds the ONNX model, and the student starts from the teacher's torch
weights. The teacher is the Hugging Face folder of a fine-tuned classifier (config.json with a
...ForSequenceClassification architecture, and its weights, as save_pretrained() writes them).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from golive import bundle
from golive.errors import UserError

WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
LAYER_CHOICES = ("spread", "first")
GENERIC_LABEL = re.compile(r"LABEL_\d+")


@dataclass(frozen=True)
class Teacher:
    path: str
    layers: int  # transformer layers
    labels: list[str]  # in class-index order, from config.json's id2label

    @property
    def has_label_names(self) -> bool:
        """False when the labels are transformers' placeholders (LABEL_0, LABEL_1, ...)."""
        return not all(GENERIC_LABEL.fullmatch(label) for label in self.labels)


@dataclass(frozen=True)
class DistillSettings:
    teacher: Teacher
    layers: int
    layer_choice: str = "spread"
    temperature: float = 2.0
    alpha: float = 0.5  # the soft (teacher) loss's share; the rest is the hard-label loss

    def check(self) -> None:
        if not self.temperature > 0:
            raise UserError(f"--temperature must be above 0, got {self.temperature}")
        if not 0 <= self.alpha <= 1:
            raise UserError(f"--alpha is the soft loss's share of the loss: 0 to 1, got {self.alpha}")


def read_teacher(path: str) -> Teacher:
    """The teacher folder's layer count and labels; a UserError saying what to pass when it is not one."""
    folder = Path(path)
    pass_this = (
        "pass the Hugging Face folder of the fine-tuned teacher (config.json and its weights, as "
        "save_pretrained() writes them)"
    )
    if not folder.is_dir():
        raise UserError(f"--teacher {path} is not a folder; {pass_this}")
    if (folder / bundle.MANIFEST).is_file():
        raise UserError(
            f"--teacher {path} is a golive bundle: it holds the exported ONNX model, not the torch "
            f"weights the student is built from; {pass_this}"
        )
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise UserError(
            f"--teacher {path} is neither a golive bundle nor a Hugging Face model folder (no config.json); {pass_this}"
        )
    try:
        config = json.loads(config_file.read_text())
    except ValueError as exc:
        raise UserError(f"{config_file} is not valid JSON ({exc}); {pass_this}") from None
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        raise UserError(
            f"--teacher {path} has a config.json but no weights ({' or '.join(WEIGHT_FILES[::2])}); {pass_this}"
        )
    architectures = config.get("architectures") or []
    if not any(name.endswith("ForSequenceClassification") for name in architectures):
        raise UserError(
            f"--teacher {path} is not a fine-tuned text classifier (its config.json names "
            f"{', '.join(architectures) or 'no architecture'}): a teacher's soft labels come from its "
            "classification head. Fine-tune it first, and pass the folder save_pretrained() wrote"
        )
    layers = config.get("num_hidden_layers", config.get("n_layers"))
    if not isinstance(layers, int) or layers < 1:
        raise UserError(f"{config_file} says nothing of the model's layers (no num_hidden_layers); {pass_this}")
    id2label = config.get("id2label") or {str(i): f"LABEL_{i}" for i in range(config.get("num_labels", 2))}
    labels = [id2label[key] for key in sorted(id2label, key=int)]
    return Teacher(path=str(path), layers=layers, labels=labels)


def check_layers(teacher: Teacher, layers: int) -> None:
    if layers < 1:
        raise UserError(f"--layers must be at least 1, got {layers}")
    if layers >= teacher.layers:
        raise UserError(
            f"--layers {layers}, but the teacher has {teacher.layers} layers: a student keeps fewer, "
            f"pass 1 to {teacher.layers - 1}"
        )


def layers_to_keep(total: int, keep: int, choice: str = "spread") -> list[int]:
    """Which of the teacher's layers (0-based, bottom first) the student keeps.

    `spread` (the default): evenly spaced from the first to the last, e.g. 0, 2, 5 of 6 (0, 3, 5 of 6 would do as
    well; rounding picks). The last layer stays because the fine-tuned pooler and classification head read its
    output, so the student starts with a head that still fits what it is given; the first stays because it reads
    the embeddings; the ones between keep some of each depth's work. `first`: the bottom `keep` layers (dropping
    the top ones), which Sajjad et al. (2023, "On the effect of dropping layers of pre-trained transformer
    models") found a strong choice when the pruned model is fine-tuned afterwards, as it is here.
    """
    if choice == "first" or keep == 1:
        return list(range(keep))
    if choice != "spread":
        raise UserError(f"--layer-choice must be one of {', '.join(LAYER_CHOICES)}, got {choice!r}")
    return sorted({round(i * (total - 1) / (keep - 1)) for i in range(keep)})
