"""argparse types and help shared by the commands' parsers (stdlib only: scripts/quickstart.sh parses before
anything is installed)."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable, Iterator
from typing import TypeVar

from training.args import shown_default

T = TypeVar("T", int, float)


def positive_float(value: str) -> float:
    """argparse type for amounts that must be above zero (epochs, hours, seconds)."""
    return _amount(value, float, lambda number: number > 0, "above 0")


def non_negative_float(value: str) -> float:
    """argparse type for amounts where 0 means none and below 0 means nothing (gigabytes stored)."""
    return _amount(value, float, lambda number: number >= 0, "0 or more")


def positive_int(value: str) -> int:
    """argparse type for counts that must be at least one (reports)."""
    return _amount(value, int, lambda number: number >= 1, "1 or more")


def non_negative_int(value: str) -> int:
    """argparse type for counts where 0 means none (requests, runs)."""
    return _amount(value, int, lambda number: number >= 0, "0 or more")


def _amount(value: str, kind: type[T], allowed: Callable[[T], bool], rule: str) -> T:
    """`value` as `kind` when `allowed`; `nan` and `inf` are refused too: `float()` takes them, and no amount a
    user types is one (they end as `Infinity` in JSON, or as a loop that never ends)."""
    try:
        number = kind(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not {'a whole number' if kind is int else 'a number'}"
        ) from None
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {value}")
    if not allowed(number):
        raise argparse.ArgumentTypeError(f"must be {rule}, got {value}")
    return number


def utf8_text(value: str) -> str:
    """argparse type for text that goes on to a tokenizer or an AWS API. Python hands argv bytes that are not
    UTF-8 over as surrogate escapes (PEP 383), which neither takes; a path argument may hold them, text not."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(value[exc.start])
        what = f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"U+{code:04X}"
        raise argparse.ArgumentTypeError(
            f"not valid UTF-8 ({what} at character {exc.start}); pass UTF-8 text "
            "(a terminal or script set to UTF-8, e.g. LANG=C.UTF-8)"
        ) from None
    return value


def python_version(value: str) -> str:
    """argparse type for a Lambda Python version like 3.14."""
    if not re.fullmatch(r"3\.\d{1,2}", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a Python version like 3.14")
    return value


def show_defaults(parser: argparse.ArgumentParser) -> None:
    """Append `(default: ...)` to every option's help that does not word its default itself, in every subcommand."""
    for action in _every_action(parser):
        if (
            action.option_strings
            and action.help
            and action.help != argparse.SUPPRESS
            and not action.required
            and "default" not in action.help
            and not isinstance(action, argparse._HelpAction)
        ):
            action.help += f" (default: {shown_default(action.default)})"


def parse_arguments(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """`parser.parse_args(argv)`, but an unknown option is refused by the command it was given to, with that
    command's usage (`golive train: error: unrecognized arguments: --bogus`), not the top-level `golive`'s."""
    ns, unknown = parser.parse_known_args(argv)
    if unknown:
        _command_parser(parser, ns).error(f"unrecognized arguments: {' '.join(unknown)}")
    return ns


def _command_parser(parser: argparse.ArgumentParser, ns: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the command `ns` was parsed for, followed down through each level's chosen subcommand."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and getattr(ns, action.dest, None) in action.choices:
            return _command_parser(action.choices[getattr(ns, action.dest)], ns)
    return parser


def typed_options(parser: argparse.ArgumentParser, argv: list[str]) -> frozenset[str]:
    """The dests `argv` gives a value, a value equal to the default included: `argv` parsed again with every
    default suppressed, so only what was typed lands in the namespace. It changes `parser`: hand in a fresh one."""
    for action in _every_action(parser):
        action.default = argparse.SUPPRESS
    for sub in _every_parser(parser):
        sub._defaults.clear()  # set_defaults(func=...)
    return frozenset(vars(parser.parse_args(argv)))


def _every_parser(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """`parser` and every subcommand's parser under it."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _every_parser(sub)


def _every_action(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    """The arguments of `parser` and of every subcommand's parser under it."""
    for each in _every_parser(parser):
        yield from each._actions
