"""The training flags a pipeline may set as SageMaker hyperparameters: their names, types and checks.

An environment's `training.hyperparameters` (infra/environments/<env>.json) reach the training job as
`--name value` flags, every value a string. infra/config.py checks them against this at synth, so a typo or a
value of the wrong type stops synth instead of failing inside a paid job; training/args.py checks its flags
with the same checks, and a test keeps each name here a training flag of the same type. Data, model, output
and checkpoint paths (feedback, evaluation set and champion included) are not here: the job's channels and
SageMaker's environment set them.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def parse_bool(value: str) -> bool:
    """SageMaker passes booleans as `--flag True`; these words, any case."""
    lowered = value.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def parse_list(value: str) -> list[str]:
    """A comma-separated list, e.g. `negative,positive`."""
    return [part.strip() for part in value.split(",")]


@dataclass(frozen=True)
class Hyperparameter:
    type: Any  # int, float, bool, str or list[str]: the flag's value once parsed
    check: Callable[[Any], bool] | None = None
    requirement: str = ""  # what `check` asks, worded after the flag: "--epochs must be positive"
    # what else is wrong with a value that passes `check`, in words of its own (None: nothing)
    explain: Callable[[Any], str | None] | None = None

    def parse(self, value: str) -> Any:
        """The string SageMaker passes, as the training flag's type (as argparse parses it)."""
        if self.type is bool:
            return parse_bool(value)
        if self.type == list[str]:
            return parse_list(value)
        try:
            return self.type(value)
        except ValueError:
            raise ValueError(f"expected {'an integer' if self.type is int else 'a number'}, got {value!r}") from None

    def problem(self, value: Any) -> str | None:
        """What is wrong with a parsed value (`must be positive, got 0`), or None. A number must be finite
        whatever else it must be: inf and nan pass comparisons like `v > 0` or fail them with no word of why."""
        if self.type is float and (not_finite := finite_problem(value)):
            return not_finite
        if self.check is None or self.check(value):
            return self.explain(value) if self.explain else None
        shown = repr(",".join(value)) if isinstance(value, list) else str(value)
        return f"{self.requirement}, got {shown}"


def finite_problem(value: float) -> str | None:
    """The rule every float option keeps (training's and distillation's flags alike): a finite number."""
    return None if math.isfinite(value) else f"must be a finite number, got {value}"


def _label_names_problem(names: list[str]) -> str | None:
    """An empty name (a stray comma) or a name twice would make two classes one, or a class with no name."""
    if not all(names):
        return f"has an empty name (a comma too many?), got {','.join(names)!r}"
    repeated = next((name for i, name in enumerate(names) if name in names[:i]), None)
    if repeated is not None:
        return f"has a duplicate name {repeated!r}, got {','.join(names)!r}: each class needs its own name"
    return None


def _at_least_one(value: int) -> bool:
    return value >= 1


AT_LEAST_ONE = "must be at least 1"

# by field name; the flag is `--` and the name with dashes (`batch_size`: `--batch-size`)
HYPERPARAMETERS: dict[str, Hyperparameter] = {
    "text_column": Hyperparameter(str),
    "label_column": Hyperparameter(str),
    "label_names": Hyperparameter(
        list[str], lambda v: len([n for n in v if n]) >= 2, "needs at least two non-empty names", _label_names_problem
    ),
    "skip_invalid_rows": Hyperparameter(bool),
    "validation_fraction": Hyperparameter(
        float, lambda v: 0 < v < 1, "must be between 0 and 1 (e.g. 0.1 holds out 10%)"
    ),
    "feedback_holdout": Hyperparameter(
        float, lambda v: 0 <= v < 1, "must be in [0, 1) (e.g. 0.2 holds out the newest 20% of the feedback)"
    ),
    "epochs": Hyperparameter(float, lambda v: v > 0, "must be positive"),
    "max_train_samples": Hyperparameter(int, _at_least_one, AT_LEAST_ONE),
    "batch_size": Hyperparameter(int, _at_least_one, AT_LEAST_ONE),
    # AdamW moves each weight by about lr a step: above 1 it wrecks the model at once (fine-tuning takes 1e-5 to 1e-3)
    "lr": Hyperparameter(float, lambda v: 0 < v <= 1, "must be above 0 and at most 1 (e.g. 1e-4)"),
    "weight_decay": Hyperparameter(float, lambda v: v >= 0, "must be 0 or more"),
    "warmup_ratio": Hyperparameter(float, lambda v: 0 <= v < 1, "must be in [0, 1)"),
    "seed": Hyperparameter(int),
    "max_length": Hyperparameter(int, lambda v: 8 <= v <= 512, "must be between 8 and 512"),
    "group_by_length": Hyperparameter(bool),
    "pad_to_max_length": Hyperparameter(bool),
    "logging_steps": Hyperparameter(int, _at_least_one, AT_LEAST_ONE),
    "checkpoint_steps": Hyperparameter(int, _at_least_one, AT_LEAST_ONE),
    "parity_tolerance": Hyperparameter(float, lambda v: v > 0, "must be positive"),
    "int8_min_agreement": Hyperparameter(float, lambda v: 0 <= v <= 1, "must be in [0, 1]"),
    "parity_rows": Hyperparameter(int, _at_least_one, AT_LEAST_ONE),
}


def flag(name: str) -> str:
    """A field name as the flag SageMaker passes, without `--`: `batch_size` is `batch-size`."""
    return name.replace("_", "-")


FLAGS = {flag(name): name for name in HYPERPARAMETERS}


def hyperparameter_problems(values: Mapping[str, str]) -> list[str]:
    """What is wrong with hyperparameters as an environment gives them (flag without `--`: value), one line per
    flag that names it; empty when training will take them all."""
    problems = []
    for key, value in values.items():
        name = FLAGS.get(key)
        if name is None:
            close = difflib.get_close_matches(key.replace("_", "-"), FLAGS, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            problems.append(
                f"{key!r} is not a training flag a pipeline may set; {hint}the flags are "
                f"{', '.join(FLAGS)} (`golive train --help` says what each does)"
            )
            continue
        try:
            problem = HYPERPARAMETERS[name].problem(HYPERPARAMETERS[name].parse(value))
        except ValueError as exc:
            problem = str(exc)
        if problem:
            problems.append(f"{key}: {problem}")
    return problems
