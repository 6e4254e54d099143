"""argparse types and help shared by the commands' parsers (stdlib only: scripts/quickstart.sh parses before
anything is installed)."""

from __future__ import annotations

import argparse
import re

from training.args import shown_default


def positive_float(value: str) -> float:
    """argparse type for counts of something that must be above zero (epochs)."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {value}")
    return number


def python_version(value: str) -> str:
    """argparse type for a Lambda Python version like 3.14."""
    if not re.fullmatch(r"3\.\d{1,2}", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a Python version like 3.14")
    return value


def show_defaults(parser: argparse.ArgumentParser) -> None:
    """Append `(default: ...)` to every option's help that does not word its default itself, in every subcommand."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                show_defaults(sub)
        elif (
            action.option_strings
            and action.help
            and action.help != argparse.SUPPRESS
            and not action.required
            and "default" not in action.help
            and not isinstance(action, argparse._HelpAction)
        ):
            action.help += f" (default: {shown_default(action.default)})"
