"""JSON from a file or an answer someone else wrote, where every way it can be bad is a ValueError.

json.loads lets two failures out that are not JSONDecodeError: a RecursionError for arrays or objects nested
past the interpreter's limit, and a ValueError that advises `sys.set_int_max_str_digits()` for a number over
4300 digits. Readers of users' files catch ValueError and say what is wrong; this says it in the user's terms.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def parse_json(text: str | bytes) -> Any:
    """`json.loads(text)`; ValueError (a JSONDecodeError for malformed text) for any document it cannot read."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise ValueError("arrays or objects are nested too deeply to read") from None
    except ValueError as exc:
        if "integer string conversion" in str(exc):
            raise ValueError(f"a number has more than {sys.get_int_max_str_digits()} digits") from None
        raise


def json_problem(exc: ValueError) -> str:
    """What parse_json's error says, without a JSONDecodeError's position (for messages that name their own)."""
    return exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
