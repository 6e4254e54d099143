"""The hyperparameters contract (golive/contracts/hyperparameters.py) and training's flags cannot drift: every
name an environment may set is a TrainArguments field of the same type, parsed and checked the same way."""

from __future__ import annotations

import argparse
import re
import types
import typing
from dataclasses import fields

import pytest

from golive.contracts.hyperparameters import HYPERPARAMETERS, flag, hyperparameter_problems
from golive.errors import UserError
from training.args import TrainArguments, add_train_arguments, arguments_from

SAMPLE_VALUES = {int: "7", float: "0.25", bool: "False", str: "review", list[str]: "bad, good"}


def value_type(annotation):
    """`X | None` as X."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(annotation) if a is not type(None))
    return annotation


def test_every_hyperparameter_is_a_training_flag_of_the_same_type():
    hints = typing.get_type_hints(TrainArguments)
    assert set(HYPERPARAMETERS) <= {f.name for f in fields(TrainArguments)}
    for name, hyperparameter in HYPERPARAMETERS.items():
        assert value_type(hints[name]) == hyperparameter.type, name


def test_training_parses_a_hyperparameter_as_the_contract_does():
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    for name, hyperparameter in HYPERPARAMETERS.items():
        raw = SAMPLE_VALUES[hyperparameter.type]
        parsed = getattr(parser.parse_args([f"--{flag(name)}", raw]), name)
        assert parsed == hyperparameter.parse(raw), name


def train_flags(*argv: str) -> TrainArguments:
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    return arguments_from(parser.parse_args(list(argv)))


@pytest.mark.parametrize(
    "key,value,problem",
    [
        ("epochs", "0", "must be positive, got 0.0"),
        ("warmup-ratio", "1", "must be in [0, 1), got 1.0"),
        ("label-names", "one", "needs at least two non-empty names, got 'one'"),
        ("label-names", "one,", "needs at least two non-empty names, got 'one,'"),
        ("label-names", "neg,pos,", "has an empty name (a comma too many?), got 'neg,pos,'"),
        ("label-names", "a,a", "has a duplicate name 'a', got 'a,a': each class needs its own name"),
        ("max-length", "1024", "must be between 8 and 512, got 1024"),
        ("lr", "inf", "must be a finite number, got inf"),
        ("lr", "1e30", "must be above 0 and at most 1 (e.g. 1e-4), got 1e+30"),
        ("epochs", "inf", "must be a finite number, got inf"),
        ("warmup-ratio", "nan", "must be a finite number, got nan"),
        ("weight-decay", "inf", "must be a finite number, got inf"),
        ("parity-tolerance", "inf", "must be a finite number, got inf"),
    ],
)
def test_a_value_training_refuses_is_refused_at_synth_in_the_same_words(key, value, problem):
    assert hyperparameter_problems({key: value}) == [f"{key}: {problem}"]
    with pytest.raises(UserError, match=re.escape(f"--{key} {problem}")):
        train_flags(f"--{key}", value)


@pytest.mark.parametrize(
    "key,value,problem",
    [
        ("batch-size", "2.5", "batch-size: expected an integer, got '2.5'"),
        ("skip-invalid-rows", "maybe", "skip-invalid-rows: expected true or false, got 'maybe'"),
        ("batch_size", "8", "'batch_size' is not a training flag a pipeline may set; did you mean 'batch-size'?"),
        (
            "data",
            "s3://bucket/train.tsv",
            "'data' is not a training flag a pipeline may set",
        ),  # the job's channel sets it
    ],
)
def test_a_typo_or_a_wrong_type_is_named(key, value, problem):
    problems = hyperparameter_problems({key: value})
    assert len(problems) == 1 and problems[0].startswith(problem)


def test_good_hyperparameters_pass():
    assert (
        hyperparameter_problems(
            {
                "epochs": "3",
                "batch-size": "32",
                "group-by-length": "true",
                "label-names": "negative,positive",
                "lr": "2e-5",
            }
        )
        == []
    )
