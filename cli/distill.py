"""`golive distill`: a student with fewer layers than a fine-tuned teacher (a bundle or a Hugging Face folder),
trained on the teacher's soft labels (training/distill.py), exported into a normal bundle. It takes `golive train`'s
flags for the data, the run, checkpoints and the export, and these of its own; under torchrun
(`torchrun --nproc_per_node N -m cli distill ...`) it runs DDP as training does."""

from __future__ import annotations

import argparse

from training.args import add_train_arguments


def add_distill(sub) -> None:
    distill = sub.add_parser(
        "distill",
        help="distil a fine-tuned classifier into a smaller one with fewer layers "
        "(layer pruning + knowledge distillation), written as a bundle",
    )
    own = distill.add_argument_group("distillation")
    own.add_argument(
        "--teacher",
        required=True,
        help="the fine-tuned teacher: a golive bundle (its ONNX model gives the soft labels) or a Hugging Face "
        "folder (config.json and weights) (required)",
    )
    own.add_argument(
        "--student-base",
        metavar="DIR",
        help="a Hugging Face folder whose layers the student keeps (default: the teacher folder; for a bundle, "
        "a Hugging Face folder in it, else the base model its manifest names, when it is here)",
    )
    own.add_argument(
        "--layers",
        type=int,
        required=True,
        help="how many transformer layers the student keeps, of the teacher's (or --student-base's) (required)",
    )
    own.add_argument(
        "--layer-choice",
        choices=["spread", "first"],
        default="spread",
        help="which layers: spread from the first to the last, or the first N",
    )
    own.add_argument(
        "--temperature", type=float, default=2.0, help="softens teacher and student distributions in the soft loss"
    )
    own.add_argument(
        "--alpha",
        type=float,
        default=0.5,
        help="the soft (teacher) loss's share of the loss, 0 to 1; the rest is cross-entropy on the true labels",
    )
    add_train_arguments(distill)
    # the student comes from --teacher or --student-base: golive train's --base-model is hidden here, and its
    # default (SM_CHANNEL_MODEL on SageMaker) not taken, so only a typed --base-model is refused
    distill.set_defaults(func=_distill, base_model=None)
    [base_model] = [action for action in distill._actions if action.dest == "base_model"]
    base_model.help = argparse.SUPPRESS


def _distill(ns: argparse.Namespace) -> int:
    from golive.errors import UserError
    from training.args import arguments_from
    from training.cli import logger, prepare_process
    from training.teacher import DistillSettings, check_layers, find_student_base, read_teacher

    if ns.base_model:
        raise UserError(
            "--base-model is for golive train; golive distill builds the student from --teacher "
            "(or from --student-base DIR)"
        )
    teacher = read_teacher(ns.teacher)  # a wrong teacher or setting is refused in a second, before torch loads
    student_base = find_student_base(teacher, ns.student_base)
    check_layers(teacher, student_base, ns.layers)
    settings = DistillSettings(teacher, student_base, ns.layers, ns.layer_choice, ns.temperature, ns.alpha)
    settings.check()
    args = arguments_from(ns)
    prepare_process()
    from training.distill import distill
    from training.export import ParityError

    try:
        distill(args, settings)
    except ParityError as exc:
        logger.error(f"export failed: {exc}")
        return 1
    return 0
