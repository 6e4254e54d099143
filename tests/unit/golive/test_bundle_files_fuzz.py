"""golive.bundle's manifest.json and metrics.json on values Hypothesis writes: any JSON, and a good manifest with one
key missing or of any other JSON value. Each gives a Manifest serving can use (or BundleMetrics), or a UserError
naming the file; never another exception (the Lambda reads both at cold start: a traceback there is an outage with
no reason given)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from golive import bundle
from golive.bundle.format import VERSION_ID
from golive.errors import UserError
from tests.unit.fuzzing import FUZZ, NESTED_TOO_DEEP, json_values, with_json_past_its_limits

GOOD = {
    "version_id": "20260101-000000-abcdef",
    "created_at": "2026-01-01T00:00:00+00:00",
    "base_model": "prajjwal1/bert-tiny",
    "data_sha256": "0" * 64,
    "labels": ["negative", "positive"],
    "max_length": 128,
    "files": {"model.int8.onnx": "1" * 64},
    "default_variant": "int8",
    "training": {"epochs": 3},
    "distillation": None,
    "format_version": 1,
}


# metrics.json's sections, each an object of its own keys holding any JSON (or any JSON in its place)
SECTIONS = {"baseline": bundle.Baseline, "data": bundle.DataSummary, "training": bundle.TrainingSummary}
metrics_like = st.fixed_dictionaries(
    {},
    optional={
        name: st.one_of(
            json_values,
            st.dictionaries(st.sampled_from(SECTIONS[name]._fields), json_values, max_size=5)
            if name in SECTIONS
            else st.dictionaries(st.text(max_size=8), json_values, max_size=3),
        )
        for name in bundle.BundleMetrics._fields
    },
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bundle")


def read(folder: Path, text: str) -> bundle.Manifest | UserError:
    (folder / bundle.MANIFEST).write_text(text)
    try:
        manifest = bundle.read_manifest(folder)
    except UserError as exc:
        assert bundle.MANIFEST in str(exc)
        return exc
    assert_usable(manifest)
    return manifest


def assert_usable(manifest: bundle.Manifest) -> None:
    """What serving reads of an accepted manifest is of the type it expects."""
    assert VERSION_ID.fullmatch(manifest.version_id)
    assert isinstance(manifest.labels, list) and all(isinstance(label, str) for label in manifest.labels)
    assert isinstance(manifest.max_length, int) and manifest.max_length >= 1
    assert manifest.default_variant in bundle.MODEL_VARIANTS
    assert all(isinstance(name, str) and isinstance(digest, str) for name, digest in manifest.files.items())
    json.loads(manifest.to_json())


@FUZZ
@given(value=json_values)
@example(value=GOOD)
def test_any_json_value_gives_a_manifest_or_a_user_error(folder, value):
    read(folder, json.dumps(value))


@FUZZ
@given(key=st.sampled_from(sorted(GOOD)), value=json_values, drop=st.booleans())
def test_a_good_manifest_with_one_key_changed_gives_a_manifest_or_a_user_error(folder, key, value, drop):
    changed = {k: v for k, v in GOOD.items() if k != key} if drop else {**GOOD, key: value}
    outcome = read(folder, json.dumps(changed))
    if drop and key in ("version_id", "created_at", "base_model", "data_sha256", "labels", "max_length"):
        assert isinstance(outcome, UserError) and f"{key} is missing" in str(outcome)


@FUZZ
@given(text=st.text(max_size=60))
@with_json_past_its_limits
def test_any_text_gives_a_manifest_or_a_user_error(folder, text):
    read(folder, text)


@FUZZ
@given(value=st.one_of(json_values, metrics_like))
@example(value=NESTED_TOO_DEEP)
def test_any_metrics_json_gives_metrics_or_a_metrics_error(folder, value):
    (folder / bundle.METRICS).write_text(value if value is NESTED_TOO_DEEP else json.dumps(value))
    try:
        bundle.read_metrics(folder)
    except bundle.MetricsError as exc:
        assert bundle.METRICS in str(exc)
