"""What a request's texts must be, checked in one place and declared in the OpenAPI document from
the same values, so the schema a client (or a fuzzer) reads and the behaviour agree.

Shared by the API and the endpoint container, so both refuse bad texts with the same messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from functions.common.errors import ApiError

# A text must hold at least one character outside this set: whitespace (Unicode's Zs, Zl, Zp and the
# controls \t\n\v\f\r), the other control characters (Cc) and the invisible format characters (Cf: zero-width
# space U+200B, joiners, word joiner U+2060, BOM U+FEFF, bidi marks, soft hyphen, ...), which a BERT
# tokenizer drops, so a text of them alone reaches the model as no text at all. Spelled out (not `\s` or
# `\p{Cf}`) because regex engines disagree on those (Python's `\s` includes U+001C-U+001F, ECMAScript's
# U+FEFF; Python's `re` has no `\p{}`): with explicit escapes Python, JSON Schema validators and
# schemathesis read the same class. BMP only, since an ECMAScript pattern without the `u` flag cannot
# state a range above U+FFFF; tests/unit/functions/test_limits.py checks it against `unicodedata`.
BLANK = (
    r"\x00-\x20\x7f-\xa0\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u1680\u180e"
    r"\u2000-\u200f\u2028-\u202f\u205f-\u2064\u2066-\u206f\u3000\ufeff\ufff9-\ufffb"
)
TEXT_PATTERN = f"[^{BLANK}]"
_HAS_TEXT = re.compile(TEXT_PATTERN)


def is_blank(text: str) -> bool:
    """True when `text` holds nothing a model can read: only whitespace, control or zero-width characters."""
    return not _HAS_TEXT.search(text)


def check_texts(texts: Sequence[str], max_texts: int, max_chars: int) -> None:
    """Refuse what the model cannot take, saying which text and how to fix it."""
    if not texts:
        raise ApiError(422, "invalid_request", "`inputs` is an empty list; send at least one text")
    if len(texts) > max_texts:
        raise ApiError(
            422,
            "too_many_texts",
            f"{len(texts)} texts in one request; send at most {max_texts} per request (split the list)",
        )
    for i, text in enumerate(texts):
        where = "`inputs`" if len(texts) == 1 else f"`inputs[{i}]`"
        if is_blank(text):
            raise ApiError(
                422,
                "empty_text",
                f"{where} is empty or blank (only spaces, control or zero-width characters); send text to classify",
            )
        if len(text) > max_chars:
            raise ApiError(
                422,
                "text_too_long",
                f"{where} has {len(text)} characters; the limit is "
                f"{max_chars} (longer texts are truncated by the model anyway)",
            )
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:  # JSON's "\udbb1" escape decodes to half a character
            raise ApiError(
                422,
                "invalid_text",
                f"{where} holds a lone UTF-16 surrogate ({text[exc.start]!r} at "
                f"character {exc.start}), which is not a character; send valid "
                "Unicode (a surrogate pair, or the character itself)",
            ) from None


def text_schema(max_chars: int) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": max_chars, "pattern": TEXT_PATTERN}


def inputs_schema(max_texts: int, max_chars: int) -> dict[str, Any]:
    return {
        "anyOf": [
            text_schema(max_chars),
            {"type": "array", "items": text_schema(max_chars), "minItems": 1, "maxItems": max_texts},
        ],
        "title": "Inputs",
        "description": f"one text, or a list of at most {max_texts} texts; each text at most {max_chars} "
        "characters, not empty or blank",
    }


def declare_limits(app, max_texts: int, max_chars: int, patch: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Make `app`'s OpenAPI document state the limits this app enforces (they are settings, so they are
    filled in when the document is first generated); `patch` may add more of the app's own facts."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            for schema in document.get("components", {}).get("schemas", {}).values():
                properties = schema.get("properties", {})
                if "inputs" in properties:  # one text (`inputs: str`), or one text or a list of them
                    one_text = properties["inputs"].get("type") == "string"
                    properties["inputs"] = text_schema(max_chars) if one_text else inputs_schema(max_texts, max_chars)
            if patch:
                patch(document)
        return app.openapi_schema

    app.openapi = openapi
