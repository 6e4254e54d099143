"""The unit lane's fixtures: a hand-written bundle (tests/unit/handmade_bundle.py) instead of a trained one.

Nothing here imports torch or transformers; tests/lanes.py fails the lane if anything does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import cold_started_lambda
from tests.unit.handmade_bundle import write_handmade_bundle


@pytest.fixture(scope="session")
def handmade_bundle(tmp_path_factory) -> Path:
    """A real bundle (ONNX fp32 + int8, WordPiece tokenizer, metrics, manifest) written by hand in well under a second."""
    out = tmp_path_factory.mktemp("handmade") / "bundle"
    write_handmade_bundle(out)
    return out


@pytest.fixture()
def lambda_module(handmade_bundle, tmp_path, monkeypatch):
    """The Lambda's module after a cold start on the hand-written bundle."""
    yield from cold_started_lambda(handmade_bundle, tmp_path, monkeypatch)
