"""infra/environments/<env>.json on files Hypothesis writes: any JSON, and a full valid config with one value anywhere
in it (a key of a section, an item of a list) replaced by any JSON value, or one key added. Each gives an
EnvironmentConfig or a ConfigError naming the file, never another exception (synth would print a traceback)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from infra.config import ConfigError, EnvironmentConfig, load_config
from tests.unit.fuzzing import FUZZ, json_values, with_json_past_its_limits

FULL = EnvironmentConfig(name="dev").model_dump(mode="json")  # every key, defaults included


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a JSON value: the keys and list indexes that lead to it."""
    inner = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    found = [prefix] if prefix else []
    for key, item in inner:
        found += paths(item, (*prefix, key))
    return found


PATHS = paths(FULL)
numbers = st.one_of(st.integers(), st.floats(), st.sampled_from([0, -1, 10**30, 1e308, math.inf, -math.inf, math.nan]))


def replaced(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = replaced(copy[path[0]], path[1:], new)
    return copy


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("environments")


def load(folder: Path, text: str) -> EnvironmentConfig | ConfigError:
    (folder / "dev.json").write_text(text)
    try:
        config = load_config("dev", folder)
    except ConfigError as exc:
        assert "dev.json" in str(exc)
        return exc
    numbers = [at(config.model_dump(), p) for p in paths(config.model_dump())]
    # JSON has no NaN or Infinity, though Python's json reads them: a budget of Infinity breaks the template
    assert all(math.isfinite(n) for n in numbers if isinstance(n, float)), config
    return config


@FUZZ
@given(value=st.one_of(json_values, st.dictionaries(st.sampled_from(sorted(FULL)), json_values, max_size=4)))
@example(value=FULL)
def test_any_json_gives_a_config_or_a_config_error(folder, value):
    load(folder, json.dumps(value))


@FUZZ
@given(path=st.sampled_from(PATHS), value=st.one_of(json_values, numbers))
@example(path=("monitoring", "gpu_utilization_percent"), value=math.inf).via("discovered failure")  # was accepted
def test_a_valid_config_with_one_value_changed_gives_a_config_or_a_config_error(folder, path, value):
    load(folder, json.dumps(replaced(FULL, path, value)))


def at(value: Any, path: tuple) -> Any:
    return at(value[path[0]], path[1:]) if path else value


SECTIONS = [()] + [p for p in PATHS if isinstance(at(FULL, p), dict)]


@FUZZ
@given(section=st.sampled_from(SECTIONS), key=st.text(max_size=10), value=json_values)
def test_a_valid_config_with_a_key_added_gives_a_config_or_a_config_error(folder, section, key, value):
    outcome = load(folder, json.dumps(replaced(FULL, section, {**at(FULL, section), key: value})))
    if key not in at(FULL, section):
        assert isinstance(outcome, ConfigError)  # an unknown key is a typo


@FUZZ
@given(text=st.text(max_size=40))
@with_json_past_its_limits
def test_any_text_gives_a_config_or_a_config_error(folder, text):
    load(folder, text)
