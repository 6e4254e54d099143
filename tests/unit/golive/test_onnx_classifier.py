"""golive's ONNX inference path on the hand-written bundle: real ONNX Runtime, real `tokenizers`."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from golive import bundle
from golive.errors import UserError
from golive.onnx_classifier import OnnxClassifier
from tests.unit.handmade_bundle import LABELS, MAX_LENGTH


@pytest.fixture(scope="module", params=["fp32", "int8"])
def classifier(request, handmade_bundle) -> OnnxClassifier:
    return OnnxClassifier.from_bundle(handmade_bundle, request.param)


def test_loads_from_the_bundle_with_its_manifest(handmade_bundle):
    default = OnnxClassifier.from_bundle(handmade_bundle)
    manifest = bundle.read_manifest(handmade_bundle)
    assert default.variant == manifest.default_variant == "int8"
    assert default.labels == LABELS and default.max_length == MAX_LENGTH
    assert default.manifest.version_id == manifest.version_id
    assert default.provider == "CPUExecutionProvider"
    assert {i.name for i in default.session.get_inputs()} == set(bundle.ONNX_INPUTS)


def test_known_words_decide_the_label(classifier):
    texts = ["a wonderful, moving film", "cold food and rude staff", "GREAT service", "never again"]
    probs = classifier.predict_proba(texts)
    assert [LABELS[i] for i in probs.argmax(1)] == ["positive", "negative", "positive", "negative"]
    assert np.allclose(probs.sum(1), 1.0, atol=1e-6)


def test_encode_gives_the_graphs_inputs_padded_to_the_longest_text(classifier):
    batch = classifier.encode(["hello", "a wonderful film"])
    assert set(batch) == set(bundle.ONNX_INPUTS)
    assert all(a.dtype == np.int64 and a.shape == (2, 5) for a in batch.values())  # [CLS] a wonderful film [SEP]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert batch["input_ids"][0, 3:].tolist() == [0, 0]


def test_padding_and_batching_by_length_keep_each_texts_scores_and_order(classifier):
    """Padding is masked out, and the length-sorted batches come back in input order. int8 is quantised per
    batch (ONNX Runtime's DynamicQuantizeLinear scales by the batch's range), so its scores move a little."""
    texts = ["great", "an awful, boring plot and rude staff", "x", "hello this is fine", "bad"]
    alone = np.concatenate([classifier.logits([t]) for t in texts])
    tolerance = 1e-5 if classifier.variant == "fp32" else 0.02
    for batched in (classifier.predict_logits(texts, batch_size=2), classifier.predict_logits(texts)):
        assert np.allclose(batched, alone, atol=tolerance)
        assert (batched.argmax(1) == alone.argmax(1)).all()


def test_long_texts_are_truncated_to_the_bundles_max_length(classifier):
    encoded = classifier.encode(["great " * 100])
    assert encoded["input_ids"].shape == (1, MAX_LENGTH)
    # cut to [CLS] + 30 words + [SEP]: the same scores as a text of exactly that length, not of 100 words
    assert np.allclose(classifier.logits(["great " * 100]), classifier.logits(["great " * 30]), atol=1e-5)
    assert not np.allclose(classifier.logits(["great " * 100]), classifier.logits(["great " * 20]), atol=1e-3)


def test_no_texts_is_an_empty_answer(classifier):
    assert classifier.predict_proba([]).shape == (0, len(LABELS))


def test_a_changed_model_file_is_refused_at_load(handmade_bundle, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(handmade_bundle, copy)
    with open(copy / bundle.MODEL_INT8, "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(UserError, match="model.int8.onnx does not match its sha256"):
        OnnxClassifier.from_bundle(copy)
    assert OnnxClassifier.from_bundle(copy, "fp32").variant == "fp32"  # only what is loaded is checked


def test_a_bundle_without_the_fp32_model_still_serves_int8(handmade_bundle, tmp_path):
    """A Lambda package may leave the fp32 file out: int8 loads, fp32 is a clear error."""
    copy = tmp_path / "bundle"
    shutil.copytree(handmade_bundle, copy)
    (copy / bundle.MODEL_FP32).unlink()
    assert OnnxClassifier.from_bundle(copy).predict_proba(["great"]).shape == (1, 2)
    with pytest.raises(UserError, match="is missing model.onnx"):
        OnnxClassifier.from_bundle(copy, "fp32")
