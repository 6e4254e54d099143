"""Virtualenvs for tools that cannot share the project's environment (checkov's pins, LocalStack's Python,
the endpoint image's Python in tests), each built once from a pinned requirements file.

A virtualenv is (re)built when what it is made from changes: the interpreter, the requirements' pinned lines
(comments do not count) and the pip options. A file lock beside it lets one process build while the others
wait, and a stamp written last tells a finished build from an interrupted one.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from golive.errors import UserError

STAMP = ".golive-venv"  # written last, holding the digest of what the venv was built from


class VenvError(UserError):
    pass


def pinned_lines(requirements: Path) -> list[str]:
    return [
        line.strip()
        for line in Path(requirements).read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def venv_digest(requirements: Path, python: Path | str, pip_options: Sequence[str] = ()) -> str:
    made_from = [str(python), *pip_options, *pinned_lines(requirements)]
    return hashlib.sha256("\n".join(made_from).encode()).hexdigest()


def venv_python(venv: Path) -> Path:
    return Path(venv) / "bin" / "python"


def cached_venv(
    venv: Path,
    requirements: Path,
    python: Path | str = sys.executable,
    *,
    pip_options: Sequence[str] = (),
    timeout_s: float | None = None,
    what: str = "",
) -> Path:
    """`venv` holding a virtualenv of `python` with `requirements` installed, built now if it is missing or was
    made from something else; returns the virtualenv's python. `what` names it in the one line printed while
    it builds and in errors."""
    venv = Path(venv)
    wanted = venv_digest(requirements, python, pip_options)
    if _built(venv, wanted):
        return venv_python(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _built(venv, wanted):  # another process may have built it while this one waited
            _build(venv, requirements, python, pip_options, timeout_s, what or venv.name)
            (venv / STAMP).write_text(wanted)
    return venv_python(venv)


def _built(venv: Path, digest: str) -> bool:
    stamp = venv / STAMP
    return stamp.is_file() and stamp.read_text().strip() == digest and venv_python(venv).exists()


def _build(
    venv: Path, requirements: Path, python: Path | str, pip_options: Sequence[str], timeout_s: float | None, what: str
) -> None:
    print(f"installing {what} into {venv} with {python} (once; takes a few minutes)", file=sys.stderr, flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    for command in (
        [str(python), "-m", "venv", str(venv)],
        [
            str(venv_python(venv)),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *pip_options,
            "-r",
            str(requirements),
        ],
    ):
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise VenvError(f"installing {what} took over {timeout_s:.0f} s: {' '.join(command)}") from None
        if result.returncode:
            raise VenvError(
                f"could not install {what} into {venv} ({' '.join(command)}):\n"
                f"{(result.stderr or result.stdout)[-3000:]}"
            )
