"""golive.explain on the hand-written bag-of-words bundle: its attributions can be worked out by hand (a token
of the sentiment vocabulary moves the score, any other token does not), and they come from real ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest

from golive.explain import TooManyTokens, explain
from golive.onnx_classifier import OnnxClassifier


@pytest.fixture(scope="module", params=["fp32", "int8"])
def classifier(request, handmade_bundle) -> OnnxClassifier:
    return OnnxClassifier.from_bundle(handmade_bundle, request.param)


def test_one_attribution_per_token_each_mapped_to_its_characters(classifier):
    text = "Great food, but the STAFF were rudely cold!"
    explanation = explain(classifier, text, max_tokens=64)
    encoding = classifier.tokenizer.encode(text)
    assert [t.token for t in explanation.tokens] == encoding.tokens[1:-1]  # [CLS] and [SEP] are not attributed
    spans = [text[t.start : t.end] for t in explanation.tokens]
    assert spans == ["Great", "food", ",", "but", "the", "STAFF", "were", "rude", "ly", "cold", "!"]
    assert all(t.start < t.end for t in explanation.tokens)


def test_the_label_and_score_are_the_predictions(classifier):
    for text in ["a wonderful, moving film", "cold food and rude staff", "hello"]:
        explanation = explain(classifier, text, max_tokens=64)
        probs = classifier.predict_proba([text])[0]
        assert explanation.label == classifier.labels[int(probs.argmax())]
        # int8 quantises activations per batch, and the batch here holds the occluded copies too
        assert explanation.score == pytest.approx(
            float(probs.max()), abs=1e-5 if classifier.variant == "fp32" else 0.02
        )


def test_an_attribution_is_the_drop_when_that_token_is_left_out(classifier):
    """Worked out by hand for the bag of words: hiding a token is the same as deleting its word."""
    text = "great film but rude staff"
    explanation = explain(classifier, text, max_tokens=64)
    assert explanation.label == "positive"
    full = classifier.predict_proba([text])[0, 1]
    without = {"great": "film but rude staff", "rude": "great film but staff", "film": "great but rude staff"}
    by_token = {t.token: t.attribution for t in explanation.tokens}
    tolerance = 1e-5 if classifier.variant == "fp32" else 0.02
    for token, rest in without.items():
        assert by_token[token] == pytest.approx(full - classifier.predict_proba([rest])[0, 1], abs=tolerance)
    assert by_token["great"] > 0.05 and by_token["rude"] < -0.05  # for the label, and against it
    assert abs(by_token["film"]) < 1e-3  # a word the model does not know moves nothing


def test_one_batched_model_call(classifier, monkeypatch):
    calls = []
    run = classifier.session.run
    monkeypatch.setattr(
        classifier.session, "run", lambda names, feed: calls.append(feed) or run(names, feed), raising=False
    )
    explanation = explain(classifier, "an awful, boring plot", max_tokens=64)
    assert len(calls) == 1 and calls[0]["input_ids"].shape == (1 + len(explanation.tokens), 2 + len(explanation.tokens))
    masks = calls[0]["attention_mask"]
    assert masks[0].all() and (masks[1:].sum(1) == masks.shape[1] - 1).all()
    assert np.array_equal(np.argwhere(masks[1:] == 0)[:, 1], np.arange(1, masks.shape[1] - 1))


def test_more_tokens_than_the_limit_is_refused_saying_how_many(classifier):
    with pytest.raises(TooManyTokens, match="the text has 5 tokens; an explanation takes at most 4"):
        explain(classifier, "one two three four five", max_tokens=4)
    assert len(explain(classifier, "one two three four", max_tokens=4).tokens) == 4
    with pytest.raises(TooManyTokens, match="more than 30 tokens"):  # cut at the bundle's max_length (32)
        explain(classifier, "great " * 40, max_tokens=64)


def test_the_limit_is_what_the_model_reads_when_that_is_lower(classifier):
    """The bundle's max_length is 32: [CLS], [SEP] and 30 of the text's own, whatever `max_tokens` allows."""
    with pytest.raises(TooManyTokens) as refused:
        explain(classifier, " ".join(["good"] * 33), max_tokens=200)
    assert "an explanation takes at most 30 (the model reads at most 32 tokens, [CLS] and [SEP] included)" in str(
        refused.value
    )
    assert not refused.value.raising_helps
    with pytest.raises(TooManyTokens) as refused:
        explain(classifier, " ".join(["good"] * 9), max_tokens=8)
    assert refused.value.raising_helps and refused.value.model_limit == 30
    assert len(explain(classifier, " ".join(["good"] * 30), max_tokens=200).tokens) == 30


def test_a_text_with_no_token_of_its_own_has_a_label_and_no_attributions(classifier):
    explanation = explain(classifier, "\u200b", max_tokens=64)  # BERT's normaliser drops it
    assert explanation.tokens == [] and explanation.label in classifier.labels
