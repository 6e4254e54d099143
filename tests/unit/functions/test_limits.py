"""What counts as a blank text (functions/common/limits.py): one character class, read the same by Python's check
and by the JSON Schema `pattern` a client or fuzzer reads, and what a BERT tokenizer keeps of it."""

from __future__ import annotations

import re
import unicodedata

import pytest

from functions.common.limits import TEXT_PATTERN, is_blank
from tests.unit.handmade_bundle import build_tokenizer

INVISIBLE = ("Zs", "Zl", "Zp", "Cc", "Cf")  # space separators, controls, format (zero-width) characters


def test_blank_is_whitespace_control_and_format_characters_of_the_bmp():
    """Checked against this interpreter's Unicode tables, so a character class left out (or a new one) shows."""
    wrong = [
        f"U+{code:04X} {unicodedata.category(chr(code))}"
        for code in range(0x10000)
        if not 0xD800 <= code <= 0xDFFF  # surrogates: refused as invalid text, not as blank
        and is_blank(chr(code)) != (unicodedata.category(chr(code)) in INVISIBLE or chr(code).isspace())
    ]
    assert wrong == []


@pytest.mark.parametrize("text", ["\u200b", "\ufeff", "\u2060", " \u200c\u200d ", "\u00ad", "\x00\x1f", "\u202e\t"])
def test_a_blank_text_is_nothing_to_the_tokenizer_and_fails_the_schema_pattern(text):
    assert is_blank(text) and not re.search(TEXT_PATTERN, text)
    assert build_tokenizer().encode(text).tokens == ["[CLS]", "[SEP]"]


@pytest.mark.parametrize("text", ["a", "\u200bgood", "\u00e9", "\U0001f600", "\ufffd"])
def test_text_with_one_visible_character_is_not_blank(text):
    assert not is_blank(text) and re.search(TEXT_PATTERN, text)
