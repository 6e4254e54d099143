"""Code assets made of exactly what an entry module imports: the closure of its project imports (every
depth, function-level ones included), the parent packages' `__init__` files, and the package data
pyproject.toml declares for the packages in that closure (the Swagger UI files /docs serves)."""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Iterable
from functools import partial
from pathlib import Path

from golive.output_folders import replacing_folder
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


def stage_code(
    entries: Iterable[str],
    dest: Path,
    data: bool = True,
    root: Path = ROOT,
    what: str | None = None,
    extra: Iterable[Path] = (),
) -> list[Path]:
    """Copy `code_files(entries)`, and the `extra` files to its root, into `dest`; return the code files. `dest`
    is replaced whole, and only when it is new, empty or a previous copy (`golive.output_folders`): a folder
    being built is never half there, and nobody's files are lost to a mistyped --out."""
    entries, extra = list(entries), list(extra)
    what = what or f"code asset of {', '.join(entries)}"
    previous = partial(is_code_asset, entries=entries, root=root, extra=[path.name for path in extra])
    with replacing_folder(dest, what, previous, keep={"the project folder": root}) as staging:
        for path in extra:
            shutil.copy2(path, staging / path.name)
        return copy_code(entries, staging, data, root)


def copy_code(entries: Iterable[str], into: Path, data: bool = True, root: Path = ROOT) -> list[Path]:
    """Copy `code_files(entries)` into the folder `into` and return them."""
    files = code_files(entries, data, root)
    for relative in files:
        (into / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / relative, into / relative)
    return files


def is_code_asset(folder: Path, entries: Iterable[str], root: Path = ROOT, extra: Iterable[str] = ()) -> bool:
    """Whether `folder` is a copy of `entries`' code written before output folders had a marker: their modules
    are there, and nothing but the top-level packages (and `extra` files) it would hold."""
    entries = list(entries)
    tops = {path.parts[0] for path in code_files(entries, data=False, root=root)} | set(extra)
    modules = [Path(*entry.split(".")).with_suffix(".py") for entry in entries]
    return {entry.name for entry in folder.iterdir()} <= tops and all((folder / m).is_file() for m in modules)
