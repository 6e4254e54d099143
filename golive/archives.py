"""Reproducible `.tar.gz` files: the same inputs give the same bytes, so CDK asset hashes (and S3
uploads) change only when the contents do."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from collections.abc import Iterable
from pathlib import Path

from golive.errors import UserError

GZIP_MAGIC = b"\x1f\x8b"


def write_tarball(tarball: Path, members: Iterable[tuple[Path, str]]) -> Path:
    """Write (source file, name in the archive) pairs, sorted by name, with fixed times and owners. Replaces only
    a previous tarball (never a folder or another file), and leaves no `.partial` file behind when it fails."""
    tarball = Path(tarball)
    check_tarball_destination(tarball)
    target = Path(os.path.realpath(tarball))  # as checked: `new/../data.tsv` is data.tsv once `new` exists
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".partial")
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for source, arcname in sorted(members, key=lambda m: m[1]):
            info = tar.gettarinfo(str(source), arcname=arcname)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            info.mode = 0o644
            with open(source, "rb") as handle:
                tar.addfile(info, handle)
    try:
        with open(tmp, "wb") as out, gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="") as gz:
            gz.write(raw.getvalue())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tarball


def check_tarball_destination(tarball: Path) -> None:
    """Refuse a destination a tarball would destroy: a folder, or an existing file (not empty) that is not a
    .tar.gz (a data file given by mistake); a previous tarball is replaced."""
    given, tarball = tarball, Path(os.path.realpath(tarball))
    if tarball.is_dir():
        raise UserError(f"{given} is a folder; a tarball is a file: pass a file name, such as {given / 'model.tar.gz'}")
    if not tarball.is_file() or not tarball.stat().st_size:
        return
    if not _is_gzip_tarball(tarball):
        raise UserError(
            f"{given} exists and is not a .tar.gz tarball; writing one there would destroy it: pass another file "
            "name, such as model.tar.gz, or move that file away"
        )


def _is_gzip_tarball(path: Path) -> bool:
    with path.open("rb") as file:
        if file.read(len(GZIP_MAGIC)) != GZIP_MAGIC:
            return False
    try:
        with tarfile.open(path, "r:gz") as tar:
            tar.next()  # the first member's header: enough to know a tarball from another gzip file
    except (tarfile.TarError, OSError, EOFError):
        return False
    return True
