"""Writing, reading and verifying a bundle folder, and packing it as SageMaker's model.tar.gz.

Writes are atomic: the manifest goes in last, so a folder without one is an interrupted write, and a
file whose sha256 differs from the manifest's was changed or truncated.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from golive.bundle.format import MANIFEST, MODEL_INT8, MODEL_VARIANTS, TOKENIZER, Manifest
from golive.errors import UserError
from golive.json_text import parse_json


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_bundle(out_dir: Path, staged_files: dict[str, Path | str | bytes], manifest: Manifest) -> Manifest:
    """Install a bundle into `out_dir` so that a crash at any point leaves no half bundle.

    Files are first written into a staging folder inside `out_dir` (same file system, so the moves
    are renames), the old manifest is removed, each file is renamed into place and the new manifest
    goes in last with an atomic `os.replace`. `out_dir` itself is never renamed because on SageMaker
    it is a mount point (`/opt/ml/model`).

    `staged_files` maps bundle file names to a path to copy, or to str/bytes content.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_dir))
    try:
        hashes: dict[str, str] = {}
        for name, source in staged_files.items():
            target = staging / name
            if isinstance(source, (str, bytes)):
                target.write_bytes(source.encode() if isinstance(source, str) else source)
            else:
                shutil.copyfile(source, target)
            hashes[name] = sha256_file(target)
        manifest.files = hashes
        (staging / MANIFEST).write_text(manifest.to_json())

        (out_dir / MANIFEST).unlink(missing_ok=True)  # from here on the folder is "not a bundle"
        for name in hashes:
            os.replace(staging / name, out_dir / name)
        os.replace(staging / MANIFEST, out_dir / MANIFEST)  # ... and now it is the new one
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def read_manifest(bundle_dir: Path) -> Manifest:
    bundle_dir = Path(bundle_dir)
    path = bundle_dir / MANIFEST
    if bundle_dir.is_file():
        folder = bundle_dir.parent
        raise UserError(
            f"{bundle_dir} is a file; a model bundle is the folder that holds it"
            + (f": pass {folder}" if (folder / MANIFEST).is_file() else f" ({MANIFEST}, {MODEL_INT8}, ...)")
        )
    if not bundle_dir.is_dir():
        raise UserError(
            f"model bundle folder {bundle_dir} does not exist; train one with `golive train --out {bundle_dir}`"
        )
    bundle_files = (MANIFEST, TOKENIZER, *MODEL_VARIANTS.values())
    if not any((bundle_dir / name).exists() for name in bundle_files):  # e.g. model_artifacts/ in a fresh clone
        raise UserError(
            f"{bundle_dir} holds no model bundle yet (no {MANIFEST}): train one with "
            f"`golive quickstart --serve false` (the shipped sample data) or `golive train --out {bundle_dir}`"
        )
    if not path.is_file():
        raise UserError(
            f"{bundle_dir} is not a complete model bundle (no {MANIFEST}); it may be from an interrupted run. "
            f"Train again with `golive train --out {bundle_dir}`"
        )
    try:
        raw = parse_json(path.read_text())
    except ValueError as exc:
        raise UserError(f"{path} is not a valid bundle manifest: {exc}") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path} is not a valid bundle manifest: it holds a JSON {type(raw).__name__}, not an object")
    try:
        return Manifest.from_dict(raw)
    except ValueError as exc:  # the key and what it must be
        raise UserError(f"{path} is not a valid bundle manifest: {exc}") from None


def verify_bundle(bundle_dir: Path, only: list[str] | None = None) -> Manifest:
    """Read the manifest and check files' sha256 (all, or `only` these); raise UserError naming the first mismatch.

    Serving checks only what it loads: hashing a 90 MB fp32 model it does not use would cost cold start,
    and a Lambda package may leave that file out.
    """
    bundle_dir = Path(bundle_dir)
    manifest = read_manifest(bundle_dir)
    for name, expected in manifest.files.items():
        if only is not None and name not in only:
            continue
        path = bundle_dir / name
        if not path.is_file():
            raise UserError(f"model bundle {bundle_dir} is missing {name}; rebuild it with `golive train`")
        if sha256_file(path) != expected:
            raise UserError(
                f"model bundle file {path} does not match its sha256 in {MANIFEST}; it was changed or truncated"
            )
    return manifest


def model_path(bundle_dir: Path, manifest: Manifest, variant: str | None = None) -> Path:
    variant = variant or manifest.default_variant
    if variant not in MODEL_VARIANTS:
        raise UserError(f"unknown model variant {variant!r}; choose one of {', '.join(MODEL_VARIANTS)}")
    name = MODEL_VARIANTS[variant]
    if name not in manifest.files:
        raise UserError(f"model bundle {bundle_dir} has no {variant} model ({name})")
    return Path(bundle_dir) / name


def read_json(bundle_dir: Path, name: str) -> Any:
    return json.loads((Path(bundle_dir) / name).read_text())


def pack_tarball(bundle_dir: Path, tarball: Path) -> Path:
    """Pack a bundle as SageMaker's `model.tar.gz` (files at the archive root, as SageMaker writes it)."""
    from golive.archives import write_tarball

    manifest = verify_bundle(bundle_dir)
    return write_tarball(tarball, [(Path(bundle_dir) / name, name) for name in [*manifest.files, MANIFEST]])


def unpack_tarball(tarball: Path, bundle_dir: Path) -> Manifest:
    """Unpack a `model.tar.gz` (as SageMaker does into /opt/ml/model) and verify it."""
    bundle_dir = Path(bundle_dir)
    bundle_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball, "r:gz") as tar:
        tar.extractall(bundle_dir, filter="data")
    return verify_bundle(bundle_dir)
