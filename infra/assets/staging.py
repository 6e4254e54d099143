"""Code assets made of exactly what an entry module imports: the closure of its project imports (every
depth, function-level ones included), the parent packages' `__init__` files, and the package data
pyproject.toml declares for the packages in that closure (the Swagger UI files /docs serves)."""

from __future__ import annotations

import os
import shutil
import tomllib
from collections.abc import Iterable
from pathlib import Path

from infra.assets.imports import ROOT, closure, module_name, source_files

BUILD = ROOT / "build"


def build_dir(scope) -> Path:
    """Where synth stages the assets it builds: the `build_dir` context of `scope` (an App or any construct in
    it; -c build_dir=DIR), else build/."""
    return Path(scope.node.try_get_context("build_dir") or BUILD)


def package_data(modules: set[str], root: Path = ROOT) -> list[Path]:
    """Data files pyproject.toml declares, of the packages in `modules`: a file belongs to the nearest
    package folder above it."""
    declared = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    found = []
    for package, patterns in declared.items():
        for pattern in patterns:
            for path in (root / package).glob(pattern):
                folder = path.parent
                while not (folder / "__init__.py").is_file():
                    folder = folder.parent
                if path.is_file() and module_name(folder / "__init__.py", root) in modules:
                    found.append(path.relative_to(root))
    return sorted(found)


def code_files(entries: Iterable[str], data: bool = True, root: Path = ROOT) -> list[Path]:
    """The files (relative to `root`) an asset running `entries` needs: their import closure, and with `data`
    its packages' data files."""
    modules = closure(entries, root)
    return source_files(modules, root) + (package_data(modules, root) if data else [])


def stage_code(entries: Iterable[str], dest: Path, data: bool = True, root: Path = ROOT) -> list[Path]:
    """Copy `code_files(entries)` into `dest` (replacing it, atomically: a folder being built is never half
    there) and return them."""
    dest = Path(dest)
    files = code_files(entries, data, root)
    staging = dest.with_name(dest.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    for relative in files:
        (staging / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / relative, staging / relative)
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(staging, dest)
    return files
