"""Loading a bundle: the mistakes tests/test_bundle.py does not cover (a file for the folder, a broken manifest),
and the hand-written bundle passing the same checks a trained one does."""

from __future__ import annotations

import json
import re
from datetime import UTC

import pytest

from golive import bundle
from golive.errors import UserError


def test_the_handmade_bundle_verifies_and_packs_like_a_trained_one(handmade_bundle, tmp_path):
    manifest = bundle.verify_bundle(handmade_bundle)
    assert set(manifest.files) == {
        bundle.MODEL_FP32,
        bundle.MODEL_INT8,
        bundle.TOKENIZER,
        bundle.METRICS,
        bundle.MODEL_CARD,
    }
    baseline = bundle.read_metrics(handmade_bundle).baseline
    assert baseline is not None and sum(baseline.label_share.values()) == pytest.approx(1.0)
    tarball = bundle.pack_tarball(handmade_bundle, tmp_path / bundle.TARBALL)
    assert bundle.unpack_tarball(tarball, tmp_path / "opt-ml-model").version_id == manifest.version_id


def test_a_file_given_for_the_bundle_names_its_folder(handmade_bundle):
    with pytest.raises(
        UserError, match=rf"is a file; a model bundle is the folder that holds it: pass {handmade_bundle}$"
    ):
        bundle.read_manifest(handmade_bundle / bundle.MODEL_INT8)


def test_a_file_outside_any_bundle_says_what_a_bundle_holds(tmp_path):
    (tmp_path / "model.onnx").write_bytes(b"onnx")
    with pytest.raises(UserError, match=r"is a file; a model bundle is the folder that holds it \(manifest.json"):
        bundle.read_manifest(tmp_path / "model.onnx")


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"version_id": "x"}'])
def test_a_broken_manifest_is_a_clear_error(tmp_path, content):
    (tmp_path / bundle.MANIFEST).write_text(content)
    with pytest.raises(UserError, match="is not a valid bundle manifest"):
        bundle.read_manifest(tmp_path)


@pytest.mark.parametrize(
    "change,message",
    [
        ({"max_length": "x"}, 'max_length must be a positive integer, got "x"; fix it, or write the bundle again'),
        ({"max_length": 0}, "max_length must be a positive integer, got 0"),
        ({"max_length": True}, "max_length must be a positive integer, got true"),
        ({"version_id": "v1,v2"}, "version_id must be 1 to 64 letters, digits, '.', '_' or '-'"),
        ({"version_id": "modèle-1"}, "version_id must be 1 to 64 letters, digits"),
        ({"labels": "neg"}, 'labels must be a list of at least two distinct non-empty strings, got "neg"'),
        ({"labels": ["a", "a"]}, "labels must be a list of at least two distinct non-empty strings"),
        ({"labels": ["a", 1]}, "labels must be a list of at least two distinct non-empty strings"),
        ({"format_version": 99}, r"format_version 99 is newer than this golive reads \(1\): upgrade golive$"),
        ({"format_version": "1"}, 'format_version must be a positive integer, got "1"'),
        ({"default_variant": "fp16"}, 'default_variant must be one of fp32, int8, got "fp16"'),
        ({"default_variant": ["int8"]}, "default_variant must be one of fp32, int8"),
        ({"files": ["model.onnx"]}, "files must be an object of file names to sha256 strings"),
        ({"training": 3}, "training must be an object, got 3"),
        ({"version_id": None}, "version_id must be a non-empty string, got null"),
    ],
)
def test_a_hand_edited_manifest_names_the_key_and_what_it_must_be(handmade_bundle, tmp_path, change, message):
    """The files' hashes do not cover the manifest itself: its shape is checked where it is read."""
    raw = json.loads((handmade_bundle / bundle.MANIFEST).read_text())
    (tmp_path / bundle.MANIFEST).write_text(json.dumps({**raw, **change}))
    with pytest.raises(
        UserError, match=rf"^{re.escape(str(tmp_path / bundle.MANIFEST))} is not a valid bundle manifest: {message}"
    ):
        bundle.read_manifest(tmp_path)


def test_a_missing_manifest_key_is_named(handmade_bundle, tmp_path):
    raw = json.loads((handmade_bundle / bundle.MANIFEST).read_text())
    del raw["max_length"]
    (tmp_path / bundle.MANIFEST).write_text(json.dumps(raw))
    with pytest.raises(UserError, match="is not a valid bundle manifest: max_length is missing; fix it"):
        bundle.read_manifest(tmp_path)


def test_a_file_listed_in_the_manifest_but_gone_is_named(handmade_bundle, tmp_path):
    import shutil

    shutil.copytree(handmade_bundle, tmp_path / "b")
    (tmp_path / "b" / bundle.MODEL_CARD).unlink()
    with pytest.raises(UserError, match="is missing MODEL_CARD.md; rebuild it with `golive train`"):
        bundle.verify_bundle(tmp_path / "b")


def test_a_newer_manifest_field_is_ignored_not_refused(handmade_bundle, tmp_path):
    raw = json.loads((handmade_bundle / bundle.MANIFEST).read_text())
    (tmp_path / bundle.MANIFEST).write_text(json.dumps({**raw, "added_in_a_later_version": 1}))
    assert bundle.read_manifest(tmp_path).version_id == raw["version_id"]


def test_version_ids_sort_by_time():
    from datetime import datetime

    early = bundle.new_version_id(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    late = bundle.new_version_id(datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC))
    assert early.startswith("20260102-030405-") and early < late


def test_metrics_json_keeps_the_row_checks_and_reads_an_older_bundle_without_them():
    raw = {"train_rows": 7, "validation_rows": 3, "validation_source": "v.tsv"}
    assert bundle.DataSummary.from_dict(raw).row_checks == {}
    counted = bundle.DataSummary.from_dict({**raw, "row_checks": {"duplicate_rows": 2, "conflicting_texts": 1}})
    assert counted.row_checks == {"duplicate_rows": 2, "conflicting_texts": 1}
    assert bundle.DataSummary.from_dict(counted._asdict()) == counted  # as metrics.json writes and reads it
    with pytest.raises(bundle.MetricsError):
        bundle.DataSummary.from_dict({**raw, "row_checks": {"duplicate_rows": "two"}})
