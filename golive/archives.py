"""Reproducible `.tar.gz` files: the same inputs give the same bytes, so CDK asset hashes (and S3
uploads) change only when the contents do."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from collections.abc import Iterable
from pathlib import Path


def write_tarball(tarball: Path, members: Iterable[tuple[Path, str]]) -> Path:
    """Write (source file, name in the archive) pairs, sorted by name, with fixed times and owners."""
    tarball = Path(tarball)
    tarball.parent.mkdir(parents=True, exist_ok=True)
    tmp = tarball.with_name(tarball.name + ".partial")
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for source, arcname in sorted(members, key=lambda m: m[1]):
            info = tar.gettarinfo(str(source), arcname=arcname)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            info.mode = 0o644
            with open(source, "rb") as handle:
                tar.addfile(info, handle)
    with open(tmp, "wb") as out, gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw.getvalue())
    os.replace(tmp, tarball)
    return tarball
