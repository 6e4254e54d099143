"""The bundle contract: atomic writes, verification, and the SageMaker tarball."""

from __future__ import annotations

import json
import tarfile

import pytest

from golive import bundle
from golive.errors import UserError


def make_manifest() -> bundle.Manifest:
    return bundle.Manifest(
        version_id=bundle.new_version_id(),
        created_at="2026-11-22T00:00:00+00:00",
        base_model="tiny",
        data_sha256="ab" * 32,
        labels=["neg", "pos"],
        max_length=32,
    )


def write_small_bundle(out):
    return bundle.write_bundle(
        out, {bundle.TOKENIZER: "{}", bundle.METRICS: b"{}", "extra.bin": b"\x00\x01"}, make_manifest()
    )


def test_write_then_verify_records_every_file_hash(tmp_path):
    manifest = write_small_bundle(tmp_path / "b")
    assert set(manifest.files) == {bundle.TOKENIZER, bundle.METRICS, "extra.bin"}
    assert bundle.verify_bundle(tmp_path / "b").version_id == manifest.version_id
    on_disk = json.loads((tmp_path / "b" / bundle.MANIFEST).read_text())
    assert on_disk["files"]["extra.bin"] == bundle.sha256_file(tmp_path / "b" / "extra.bin")
    assert not list((tmp_path / "b").glob(".staging-*"))


def test_tampered_file_is_refused(tmp_path):
    write_small_bundle(tmp_path / "b")
    (tmp_path / "b" / "extra.bin").write_bytes(b"changed")
    with pytest.raises(UserError, match="extra.bin does not match its sha256"):
        bundle.verify_bundle(tmp_path / "b")


def test_folder_without_manifest_is_not_a_bundle(tmp_path):
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / bundle.MODEL_INT8).write_bytes(b"onnx")
    with pytest.raises(UserError, match="not a complete model bundle .* interrupted run"):
        bundle.verify_bundle(tmp_path / "half")
    with pytest.raises(UserError, match="does not exist"):
        bundle.verify_bundle(tmp_path / "nothing")
    (tmp_path / "fresh-clone").mkdir()  # model_artifacts/ before any training: only its README
    (tmp_path / "fresh-clone" / "README.md").write_text("the bundle goes here")
    with pytest.raises(UserError, match=r"holds no model bundle yet \(no manifest.json\): train one with `golive"):
        bundle.verify_bundle(tmp_path / "fresh-clone")


def test_interrupted_rewrite_leaves_no_half_bundle(tmp_path, monkeypatch):
    """A crash while the new files are moved in leaves a folder that is refused, never a mix that passes."""
    out = tmp_path / "b"
    write_small_bundle(out)
    calls = {"n": 0}
    real_replace = bundle.store.os.replace

    def crash_on_second_move(src, dst):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed")
        real_replace(src, dst)

    monkeypatch.setattr(bundle.store.os, "replace", crash_on_second_move)
    with pytest.raises(KeyboardInterrupt):
        write_small_bundle(out)
    monkeypatch.undo()
    with pytest.raises(UserError, match="not a complete model bundle"):
        bundle.verify_bundle(out)
    assert not list(out.glob(".staging-*"))
    write_small_bundle(out)  # and a re-run repairs it
    bundle.verify_bundle(out)


def test_tarball_round_trip_like_sagemaker(tmp_path):
    write_small_bundle(tmp_path / "b")
    tarball = bundle.pack_tarball(tmp_path / "b", tmp_path / bundle.TARBALL)
    with tarfile.open(tarball) as tar:
        assert sorted(tar.getnames()) == sorted([bundle.TOKENIZER, bundle.METRICS, "extra.bin", bundle.MANIFEST])
    manifest = bundle.unpack_tarball(tarball, tmp_path / "opt-ml-model")
    assert manifest.labels == ["neg", "pos"]


def test_unknown_variant_is_a_clear_error(tmp_path):
    manifest = write_small_bundle(tmp_path / "b")
    with pytest.raises(UserError, match="unknown model variant 'fp16'"):
        bundle.model_path(tmp_path / "b", manifest, "fp16")
    with pytest.raises(UserError, match="has no int8 model"):
        bundle.model_path(tmp_path / "b", manifest, "int8")


# --- metrics.json: one typed reader and writer -------------------------------------------------------------------


def test_trained_metrics_read_typed_and_write_back_unchanged(tiny_bundle):
    raw = json.loads((tiny_bundle / bundle.METRICS).read_text())
    metrics = bundle.read_metrics(tiny_bundle)
    assert metrics.to_dict() == raw  # what training wrote is exactly what the schema holds
    assert metrics.baseline.variant == bundle.DEFAULT_VARIANT
    assert set(metrics.baseline.label_share) == set(bundle.read_manifest(tiny_bundle).labels)
    assert metrics.baseline.mean_input_chars > 0
    assert metrics.data.validation_rows == metrics.validation["int8"]["examples"] > 0
    assert metrics.training.train_rows == metrics.data.train_rows


def test_metrics_without_sections_are_a_bundle_without_a_baseline(tmp_path):
    write_small_bundle(tmp_path / "b")  # metrics.json is {}
    metrics = bundle.read_metrics(tmp_path / "b")
    assert metrics.baseline is None and metrics.data is None and metrics.validation == {}
    assert bundle.BundleMetrics.from_dict({"baseline": {}}).baseline is None  # how older bundles said "none"


@pytest.mark.parametrize(
    "content,message",
    [
        ("not json", "is not valid JSON"),
        ("[]", "(top level) must be an object, got []"),
        ('{"baseline": {"predicted_label_distribution": {"a": 1.0}}}', "baseline.mean_confidence is missing"),
        (
            '{"baseline": {"predicted_label_distribution": {"a": "most"}, "mean_confidence": 0.9}}',
            "baseline.predicted_label_distribution['a'] must be a number, got \"most\"",
        ),
        (
            '{"baseline": {"predicted_label_distribution": {}, "mean_confidence": "high"}}',
            'baseline.mean_confidence must be a number, got "high"',
        ),
        ('{"validation": {"int8": {"accuracy": 0.9}}}', "validation.int8.macro_f1 is missing"),
        (
            '{"data": {"train_rows": 1.5, "validation_rows": 1, "validation_source": "file"}}',
            "data.train_rows must be a whole number, got 1.5",
        ),
        ('{"training": null, "onnx": 3}', "onnx must be an object, got 3"),
    ],
)
def test_a_malformed_metrics_file_names_the_field(tmp_path, content, message):
    write_small_bundle(tmp_path / "b")
    (tmp_path / "b" / bundle.METRICS).write_text(content)
    with pytest.raises(bundle.MetricsError) as caught:
        bundle.read_metrics(tmp_path / "b")
    assert message in str(caught.value) and str(tmp_path / "b" / bundle.METRICS) in str(caught.value)
    assert isinstance(caught.value, UserError)  # the CLI and `golive serve` print it without a traceback
