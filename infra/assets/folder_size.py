"""What a built package folder weighs: unzipped, per top-level entry, and zipped as it is uploaded."""

from __future__ import annotations

import zipfile
from pathlib import Path


def measure(dest: Path) -> tuple[int, dict[str, int]]:
    """Bytes in the folder, and per top-level entry, biggest first."""
    sizes: dict[str, int] = {}
    for path in dest.rglob("*"):
        if path.is_file() and not path.is_symlink():
            top = path.relative_to(dest).parts[0]
            sizes[top] = sizes.get(top, 0) + path.stat().st_size
    ranked = dict(sorted(sizes.items(), key=lambda kv: kv[1], reverse=True))
    return sum(sizes.values()), ranked


def zipped_size(dest: Path) -> int:
    """What the upload weighs: zip the folder the way CDK's asset staging does (deflate)."""
    archive = dest.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(dest.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(dest))
    size = archive.stat().st_size
    archive.unlink()
    return size
