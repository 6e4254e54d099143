"""Slow-to-make test inputs (wheels for another Python) kept under .golive/cache (git-ignored; virtualenvs: infra/venvs.py),
named by a hash of what they are made from: a rerun reuses them, a change to their inputs makes new ones,
and a clean clone makes them once."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.conftest import REPO

CACHE = REPO / ".golive" / "cache"
DONE = ".complete"  # written last: a folder without it is an interrupted build and is made again


def cached(name: str, inputs: str, make: Callable[[Path], None]) -> Path:
    """The folder `make(folder)` fills, made once per distinct `inputs`; older versions of `name` are removed."""
    folder = CACHE / f"{name}-{hashlib.sha256(inputs.encode()).hexdigest()[:16]}"
    if (folder / DONE).is_file():
        return folder
    for stale in CACHE.glob(f"{name}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    folder.mkdir(parents=True)
    make(folder)
    (folder / DONE).write_text(inputs)
    return folder


def run(cmd: list[str], what: str, **kwargs) -> subprocess.CompletedProcess:
    """Run a build step; on failure, fail with its output (pip's resolver errors are the useful part)."""
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    if result.returncode:
        raise AssertionError(f"{what} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def pip(*args: str) -> list[str]:
    """This interpreter's pip (the one `golive package-lambda` runs)."""
    return [sys.executable, "-m", "pip", *args]
