"""The one exception type for user mistakes, and how every entry point reports them: a message, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
# a path the user gave that cannot be read or written: where and why is all there is to say
PATH_ERRORS = (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError, FileExistsError)


class UserError(Exception):
    """Something the user can fix (a bad flag, file, row or config value); the message says how."""


def listed(items: list[str], limit: int = 10, separator: str = ", ") -> str:
    """Items for a message, the first `limit` of them and how many more: a list of thousands stays one line."""
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return separator.join(items[:limit]) + more


def run_reporting_errors(command: Callable[[T], int], arguments: T) -> int:
    """`command(arguments)`'s exit code; a user mistake or an unusable path prints `error: ...` and gives 2,
    Ctrl-C prints `interrupted` and gives 130 (the `golive` command and training's own entry point)."""
    try:
        return command(arguments)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    except PATH_ERRORS as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(
            f"error: cannot use{where}: {exc.strerror or exc}; check the path and its permissions",
            file=sys.stderr,
            flush=True,
        )
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr, flush=True)
        return 130
