"""`golive explain`: one text's label and each token's attribution (golive.explain), from a bundle's ONNX model."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from cli.arguments import utf8_text

DEFAULT_MAX_TOKENS = 64  # the API's default (functions/api/settings.py max_explain_tokens)


def add_explain(sub) -> None:
    explain = sub.add_parser(
        "explain", help="explain one prediction: how much each token pushed the model to its label"
    )
    explain.add_argument("text", type=utf8_text, help="the text to classify and explain")
    explain.add_argument("--model", default="model_artifacts", help="bundle folder")
    explain.add_argument(
        "--variant", choices=["fp32", "int8"], help="which ONNX model (default: the bundle's default, int8)"
    )
    explain.add_argument(
        "--max-tokens",
        type=int,
        default=DEFAULT_MAX_TOKENS,
        help="refuse longer texts: the cost grows with the square of the length",
    )
    explain.add_argument("--json", action="store_true", help="print the explanation as JSON (the API's answer shape)")
    explain.set_defaults(func=_explain)


def _explain(ns: argparse.Namespace) -> int:
    from functions.common.limits import is_blank
    from golive.errors import UserError
    from golive.explain import TooManyTokens, explain, format_explanation
    from golive.onnx_classifier import OnnxClassifier

    if ns.max_tokens < 1:
        raise UserError(f"--max-tokens must be at least 1, got {ns.max_tokens}")
    if is_blank(ns.text):
        raise UserError(
            "the text is empty (only spaces, control or zero-width characters); pass the text to explain in quotes"
        )
    classifier = OnnxClassifier.from_bundle(ns.model, ns.variant)
    assert classifier.manifest is not None  # from_bundle sets it
    try:
        explanation = explain(classifier, ns.text, ns.max_tokens)
    except TooManyTokens as exc:
        hint = f", or raise --max-tokens (up to {exc.model_limit} for this model)" if exc.raising_helps else ""
        raise UserError(f"{exc}{hint}") from None
    if ns.json:
        print(
            json.dumps(
                {"model_version": classifier.manifest.version_id, **asdict(explanation), "method": "occlusion"},
                indent=2,
            )
        )
    else:
        print(format_explanation(ns.text, explanation))
    return 0
