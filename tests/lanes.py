"""The two test lanes, as a pytest plugin (`-p tests.lanes` in pyproject's addopts).

    unit         tests/unit/: no torch, no transformers, no trained bundle (a hand-written one); seconds.
                 What a developer runs while working: `python -m pytest tests/unit`.
    integration  everything else: tiny training runs, the CDK app synthesised, real processes over HTTP.

Each test is marked by where it lives, so `-m unit` and `-m integration` select a lane from any path. The
unit lane must stay torch-free: a unit test that imports torch or transformers (itself or through the code
it drives) fails, named, and a session of unit tests only fails if either was imported at all (collection
included). A plugin rather than a conftest hook, so the marks hold however pytest is pointed at the tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

UNIT_DIR = Path("tests", "unit")  # below the rootdir (where pyproject.toml is)
HEAVY = ("torch", "transformers")  # what the unit lane must never import
MUST = (
    "unit tests run without torch and transformers; drive the code without them, or move the test to the "
    "integration lane"
)


def is_unit(item: pytest.Item) -> bool:
    return (item.config.rootpath / UNIT_DIR).resolve() in Path(str(item.path)).resolve().parents


def heavy_modules() -> list[str]:
    return [name for name in HEAVY if name in sys.modules]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.unit if is_unit(item) else pytest.mark.integration)


_heavy_before = pytest.StashKey[list[str]]()


@pytest.hookimpl(tryfirst=True)  # before the fixtures are set up: what they import counts too
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_heavy_before] = heavy_modules()


@pytest.hookimpl(trylast=True)  # after the runner's own teardown, so fixtures are still torn down
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """A unit test that pulled torch or transformers in fails at teardown, by name (in a mixed session too)."""
    if is_unit(item) and not item.stash.get(_heavy_before, HEAVY) and heavy_modules():
        pytest.fail(f"this unit test imported {', '.join(heavy_modules())}: {MUST}", pytrace=False)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A session of unit tests only fails if torch or transformers was imported at all (collection included)."""
    items = getattr(session, "items", [])
    if not (items and all(is_unit(item) for item in items)) or not heavy_modules():
        return
    message = f"the unit lane imported {', '.join(heavy_modules())}: {MUST}"
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(message, red=True, bold=True)
    else:
        print(message, file=sys.stderr)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
