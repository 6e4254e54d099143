"""The unit lane's fixtures: a hand-written bundle (tests/unit/handmade_bundle.py) instead of a trained one.

Nothing here imports torch or transformers; tests/lanes.py fails the lane if anything does.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import fresh_lambda_module
from tests.unit.handmade_bundle import write_handmade_bundle


@pytest.fixture(scope="session")
def handmade_bundle(tmp_path_factory) -> Path:
    """A real bundle (ONNX fp32 + int8, WordPiece tokenizer, metrics, manifest) written by hand in well under a second."""
    out = tmp_path_factory.mktemp("handmade") / "bundle"
    write_handmade_bundle(out)
    return out


@pytest.fixture()
def lambda_module(handmade_bundle, tmp_path, monkeypatch):
    """The Lambda's module after a cold start on the hand-written bundle (SQLite feedback, a local signing key)."""
    monkeypatch.setenv("GOLIVE_MODEL_DIR", str(handmade_bundle))
    monkeypatch.setenv("GOLIVE_FEEDBACK_DB", str(tmp_path / "feedback.sqlite3"))
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    yield fresh_lambda_module()
    sys.modules.pop("functions.lambda_handler", None)
