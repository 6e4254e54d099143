"""Why the model gave its label: leave-one-token-out (occlusion) attribution, with the bundle's ONNX model only.

For a text of n tokens the model runs once on a batch of n + 1 rows: the text as it is, and n copies, each
with one token hidden from the model (its attention mask set to 0, so no other token can attend to it; the
positions of the others do not move). A token's attribution is how much the predicted label's probability
drops when that token is hidden: positive means the token pushed towards the label, negative that it pushed
away from it, near 0 that the model did not need it (alone; two tokens that say the same thing can each look
unneeded). Only the text's own tokens are attributed, not [CLS]/[SEP]; each comes with the character span it
was read from, so a client can highlight it.

Why occlusion and not integrated gradients: it needs nothing but the exported graph (no gradients, no second
export, any architecture the bundle holds), one model call, and its numbers mean something a reader can check
("without this word the score falls from 0.93 to 0.41"). Its cost grows with the square of the length (n + 1
rows of n + 2 tokens), hence the token limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from golive import bundle
from golive.classification_metrics import softmax
from golive.errors import UserError

if TYPE_CHECKING:  # the classifier's module loads ONNX Runtime; this one is imported where none is loaded yet
    from golive.onnx_classifier import OnnxClassifier


@dataclass(frozen=True)
class TokenAttribution:
    token: str  # as the tokenizer wrote it, e.g. "##ly"
    start: int  # the characters of the input it was read from: text[start:end]
    end: int
    attribution: float  # p(label | text) - p(label | text without this token)


@dataclass(frozen=True)
class Explanation:
    label: str
    score: float  # p(label | text)
    tokens: list[TokenAttribution]


class TooManyTokens(UserError):
    """The text has more tokens than an explanation takes (its cost grows with the square of the length).
    `raising_helps`: whether a larger `max_tokens` would take it, or the model itself reads no more."""

    def __init__(self, message: str, raising_helps: bool, model_limit: int):
        super().__init__(message)
        self.raising_helps = raising_helps
        self.model_limit = model_limit  # the most `max_tokens` can usefully be


def model_token_limit(classifier: OnnxClassifier) -> int:
    """The most tokens of its own a text keeps: the model's max_length less the special tokens ([CLS], [SEP])."""
    return classifier.max_length - classifier.tokenizer.num_special_tokens_to_add(False)


def token_limit(classifier: OnnxClassifier, max_tokens: int) -> int:
    """The most tokens a text may have to be explained: `max_tokens`, and no more than the model reads."""
    return max(0, min(max_tokens, model_token_limit(classifier)))


def explain(classifier: OnnxClassifier, text: str, max_tokens: int) -> Explanation:
    """The predicted label of `text`, and each of its tokens' attribution, from one batched model call."""
    encoding = classifier.tokenizer.encode(text)
    positions = [i for i, special in enumerate(encoding.special_tokens_mask) if not special]
    limit, model_limit = token_limit(classifier, max_tokens), model_token_limit(classifier)
    if encoding.overflowing or len(positions) > limit:
        count = f"more than {len(positions)}" if encoding.overflowing else str(len(positions))
        why = (
            "its cost grows with the square of the length"
            if max_tokens < model_limit
            else f"the model reads at most {classifier.max_length} tokens, [CLS] and [SEP] included"
        )
        raise TooManyTokens(
            f"the text has {count} tokens; an explanation takes at most {limit} ({why}): send a shorter text",
            raising_helps=max_tokens < model_limit,
            model_limit=model_limit,
        )
    single = classifier.model_inputs([encoding])
    batch = {name: np.repeat(array, len(positions) + 1, axis=0) for name, array in single.items()}
    for row, position in enumerate(positions, start=1):
        batch["attention_mask"][row, position] = 0  # row i hides the i-th token
    probs = softmax(classifier.session.run([bundle.ONNX_OUTPUT], batch)[0])
    best = int(probs[0].argmax())
    drops = probs[0, best] - probs[1:, best]
    tokens = [
        TokenAttribution(encoding.tokens[p], *encoding.offsets[p], float(drop)) for p, drop in zip(positions, drops)
    ]
    return Explanation(label=classifier.labels[best], score=float(probs[0, best]), tokens=tokens)


def format_explanation(text: str, explanation: Explanation) -> str:
    """A table for a terminal: the label, then each token, its span of the text and its attribution."""
    lines = [
        f"{explanation.label} ({explanation.score:.4f})",
        "",
        f"{'token':<16}{'text':<20}{'span':>10}  attribution",
    ]
    for token in explanation.tokens:
        span = f"{token.start}:{token.end}"
        lines.append(f"{token.token:<16}{text[token.start : token.end]:<20}{span:>10}  {token.attribution:+.4f}")
    return "\n".join(lines)
