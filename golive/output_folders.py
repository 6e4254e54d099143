"""Folders a command writes whole (a Lambda package, an image build context, a code asset): built beside the
output in a `.partial` staging folder and swapped in when complete. Only a folder that is missing, empty or a
previous output of the same kind is replaced, so a mistyped --out never deletes anyone's files; everything is
checked before any work, and no `.partial` folder is left behind when the build fails."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from golive.errors import UserError, listed

MARKER = ".golive-output"  # in every folder written here; it holds the kind of output (`what`)


@contextmanager
def replacing_folder(
    folder: Path | str,
    what: str,
    previous: Callable[[Path], bool] | None = None,
    inputs: Mapping[str, Path | str] | None = None,
    keep: Mapping[str, Path | str] | None = None,
) -> Iterator[Path]:
    """Yield an empty staging folder (holding only the marker) to build `what` in; when the block ends without
    an error, it replaces `folder`. Refuses, before the block runs, what `check_output_folder` refuses."""
    check_output_folder(folder, what, previous, inputs, keep)
    target = Path(os.path.realpath(folder))  # as checked: a link's folder, `new/..` once `new` exists
    staging = _staging(target)
    shutil.rmtree(staging, ignore_errors=True)  # an interrupted run's, checked to hold the marker
    staging.mkdir(parents=True)
    try:
        (staging / MARKER).write_text(what + "\n")
        yield staging
        if target.exists():  # moved aside first: a failed rename leaves the previous output whole
            trash = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            try:
                os.replace(target, trash / target.name)
                os.replace(staging, target)
            finally:
                shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def check_output_folder(
    folder: Path | str,
    what: str,
    previous: Callable[[Path], bool] | None = None,
    inputs: Mapping[str, Path | str] | None = None,
    keep: Mapping[str, Path | str] | None = None,
) -> None:
    """Refuse a `folder` whose replacement would lose data: a file, or a path under one; one of the `inputs`
    (label: folder, e.g. "the --model bundle"), a folder inside one or holding one; one of the `keep` folders
    (and the home and current folders) or a folder holding one; a folder that is not empty and not a `what`
    golive wrote (its marker, or `previous(folder)` for one written before markers). Its staging folder too."""
    given, target = Path(folder), Path(os.path.realpath(folder))
    blocking = next(path for path in (target, *target.parents) if path.exists())
    if not blocking.is_dir():
        if blocking == target:
            raise UserError(f"{given} is a file; the {what} is a folder: choose a new or empty folder")
        raise UserError(f"{given} cannot be made: {blocking} is a file; choose a new or empty folder")
    for label, path in (inputs or {}).items():
        path = Path(os.path.realpath(path))
        if target == path or path in target.parents:
            raise UserError(
                f"{given} is {'' if target == path else 'inside '}{label}; writing the {what} there would "
                "change it: choose a new or empty folder outside it"
            )
        if target in path.parents:
            raise UserError(f"{given} holds {label} ({path}); choose a new or empty folder that does not")
    kept = {"your home folder": Path.home(), "the current folder": Path.cwd(), **(keep or {})}
    for label, path in kept.items():
        path = Path(os.path.realpath(path))
        if target == path or target in path.parents:
            raise UserError(
                f"{given} is {'' if target == path else 'a folder holding '}{label}; replacing it with the {what} "
                "would delete everything in it: choose a new or empty folder"
            )
    if not _replaceable(target, what, previous):
        raise UserError(
            f"{given} is not {_article(what)} {what} golive wrote (it holds {_some_entries(target)}); choose a new or empty "
            "folder, or move that one away"
        )
    staging = _staging(target)
    if staging.exists() and not (staging.is_dir() and _replaceable(staging, what, previous)):
        raise UserError(
            f"{staging} is where the {what} is staged, and it is not golive's; move it away or choose another folder"
        )


def _replaceable(folder: Path, what: str, previous: Callable[[Path], bool] | None) -> bool:
    if not folder.exists() or not any(folder.iterdir()):
        return True
    return _marked(folder, what) or (previous is not None and previous(folder))


def _marked(folder: Path, what: str) -> bool:
    marker = folder / MARKER
    try:
        return marker.is_file() and marker.read_text().strip() == what
    except (OSError, UnicodeDecodeError):
        return False


def _article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" else "a"


def _staging(target: Path) -> Path:
    return target.with_name(target.name + ".partial")


def _some_entries(folder: Path) -> str:
    return listed(sorted(entry.name for entry in folder.iterdir()), 3)
