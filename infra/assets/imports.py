"""What a module imports, read from its source (ast): every `import` and `from ... import`, at any depth
(function-level imports too), resolved to the project's own modules.

Two users: the asset builders ship exactly the closure of an entry module's imports (a Lambda runs only what
its handler imports), and tests/test_architecture.py checks the import rule between the layers on the same
graph. Reading source, not importing it, keeps this free of the modules' dependencies (torch, aws_cdk).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# the project's top-level packages: every other import is a third-party or standard-library one
PROJECT_PACKAGES = ("golive", "training", "functions", "infra", "cli")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the project module it imports, dotted
    line: int


def module_name(path: Path, root: Path = ROOT) -> str:
    """`functions/api/main.py` -> `functions.api.main`; a package's `__init__.py` -> the package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def module_file(name: str, root: Path = ROOT) -> Path | None:
    """The source file of a project module or package, or None when there is none."""
    base = root.joinpath(*name.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def is_package(name: str, root: Path = ROOT) -> bool:
    return root.joinpath(*name.split("."), "__init__.py").is_file()


def _absolute(module: str, node: ast.ImportFrom, package: bool) -> str:
    """The absolute name a `from` import refers to (resolving `from . import x` against the importing module)."""
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    base = parts if package else parts[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(path: Path, root: Path = ROOT, packages: Iterable[str] = PROJECT_PACKAGES) -> list[Import]:
    """The project modules `path` imports, anywhere in it. `from a import b` imports `a`, and `a.b` too when
    that is a module of its own."""
    name = module_name(path, root)
    tree = ast.parse(path.read_text(), filename=str(path))
    tops = tuple(packages)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(name, node, path.name == "__init__.py")
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]
            targets = [targets[0]] + [t for t in targets[1:] if module_file(t, root)]
        else:
            continue
        for target in targets:
            if target.split(".")[0] in tops and module_file(target, root):
                found.append(Import(name, target, node.lineno))
    return found


def parents(name: str) -> list[str]:
    """`a.b.c` -> [`a`, `a.b`]: the packages whose `__init__` runs before `a.b.c` does."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def closure(entries: Iterable[str], root: Path = ROOT) -> set[str]:
    """Every project module that importing `entries` may run: their imports, transitively, with the parent
    packages of each. Function-level imports count (they run when the function does)."""
    seen: set[str] = set()
    todo = list(entries)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = module_file(name, root)
        if path is None:
            raise ValueError(f"{name} is not a module of this project (no source under {root})")
        seen.add(name)
        todo += parents(name)
        todo += [i.target for i in imports_of(path, root)]
    return seen


def source_files(modules: Iterable[str], root: Path = ROOT) -> list[Path]:
    """The source files of `modules`, relative to `root`, sorted."""
    files = []
    for name in modules:
        path = module_file(name, root)
        if path is None:
            raise ValueError(f"{name} has no source file under {root}")
        files.append(path.relative_to(root))
    return sorted(files)


def project_modules(root: Path = ROOT, packages: Iterable[str] = PROJECT_PACKAGES) -> Iterator[Path]:
    """Every Python source file of the project's packages."""
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if "__pycache__" not in path.parts:
                yield path
