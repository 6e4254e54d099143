"""Build the API Lambda's deployment package locally, for Linux, without Docker.

The package is a plain folder (CDK zips it as an asset): the project modules the handler imports
(`functions.lambda_handler` and the closure of its imports, not whole folders: no endpoint, rotation,
training or client code), the base dependencies from pyproject.toml installed as Linux wheels for the Lambda's Python and
architecture, and the bundle files the chosen backend reads. Lambda refuses a function whose unzipped
code is over 250 MB, so the build measures itself and fails loudly past that.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from golive import bundle
from golive.errors import UserError
from golive.output_folders import replacing_folder
from infra.assets.folder_size import measure, zipped_size
from infra.assets.imports import ROOT
from infra.assets.staging import copy_code

LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
# The Lambda runtime the API runs on (infra reads it from here): a current Lambda runtime that every machine
# of this project has, so the package's bytecode is compiled, and its tests run, by the Python it runs on.
LAMBDA_PYTHON_VERSION = "3.13"
HANDLER_MODULE = "functions.lambda_handler"  # the function's handler is its `handler` (infra/stacks/api_stack.py)
# Wheels the Lambda's Amazon Linux 2023 (glibc 2.34) can load, newest first.
PLATFORMS = {
    "x86_64": [f"manylinux_2_{v}_x86_64" for v in (34, 28, 27, 17)] + ["manylinux2014_x86_64"],
    "arm64": [f"manylinux_2_{v}_aarch64" for v in (34, 28, 27, 17)] + ["manylinux2014_aarch64"],
}
# tokenizers depends on huggingface_hub (and it on these) only for Tokenizer.from_pretrained downloads;
# the Lambda reads tokenizer.json from the bundle, so they are dead weight (about 17 MB).
HUB_ONLY_DISTRIBUTIONS = (
    "huggingface_hub",
    "hf_xet",
    "click",
    "filelock",
    "fsspec",
    "httpx2",
    "httpcore2",
    "h11",
    "truststore",
    "pyyaml",
    "tqdm",
)
# ONNX Runtime's Python tooling (graph optimiser, quantiser): used by `golive train`, never by serving.
ONNXRUNTIME_TOOLS = ("transformers", "quantization", "tools", "datasets")
PACKAGE_DIR = "model_artifacts"  # the bundle inside the package: the API's default GOLIVE_MODEL_DIR
WHAT = "Lambda package"  # its output folder's marker (golive/output_folders.py)


@dataclass
class PackageReport:
    path: str
    python_version: str
    architecture: str
    variant: str | None
    bytecode_compiled: bool  # .pyc shipped; without them Python compiles every module on each cold start
    compiled_by: str | None  # the interpreter that compiled them (the runtime's Python version)
    unzipped_bytes: int
    zipped_bytes: int
    limit_bytes: int = LAMBDA_UNZIPPED_LIMIT
    largest: dict[str, int] = field(default_factory=dict)  # top-level entries, biggest first

    def summary(self) -> str:
        mb = 1024 * 1024
        lines = [
            f"Lambda package {self.path} ({self.architecture}, Python {self.python_version}, model: {self.variant or 'none'}, "
            + (
                f"bytecode precompiled by {self.compiled_by})"
                if self.bytecode_compiled
                else f"NO BYTECODE: no Python {self.python_version} found on PATH or under pyenv; install it and rebuild "
                f"to precompile the package and cut cold start)"
            ),
            f"  unzipped {self.unzipped_bytes / mb:.1f} MB of Lambda's {self.limit_bytes / mb:.0f} MB limit"
            f" ({100 * self.unzipped_bytes / self.limit_bytes:.0f}%), zipped {self.zipped_bytes / mb:.1f} MB",
        ]
        lines += [f"  {size / mb:8.1f} MB  {name}" for name, size in self.largest.items()]
        return "\n".join(lines)


def base_dependencies(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The Lambda's requirements are the project's base dependencies: one list, kept in pyproject."""
    return list(tomllib.loads(pyproject.read_text())["project"]["dependencies"])


def bundle_files(bundle_dir: Path, variant: str | None) -> list[str]:
    """Bundle files the Lambda reads: everything small, plus the one ONNX model it serves (None: no model,
    for the sagemaker backend, which reads only labels and metadata)."""
    manifest = bundle.verify_bundle(bundle_dir)
    models = set(bundle.MODEL_VARIANTS.values())
    keep = [name for name in manifest.files if name not in models]
    if variant is not None:
        keep.append(bundle.model_path(bundle_dir, manifest, variant).name)
    return sorted(keep) + [bundle.MANIFEST]


def wheel_options(python_version: str, architecture: str) -> list[str]:
    """pip options that select the Lambda's wheels (binary only, CPython of the runtime's version, its Linux)."""
    if architecture not in PLATFORMS:
        raise UserError(f"unknown Lambda architecture {architecture!r}; use one of {', '.join(PLATFORMS)}")
    options = ["--only-binary=:all:", "--implementation", "cp", "--python-version", python_version]
    for platform in PLATFORMS[architecture]:
        options += ["--platform", platform]
    return options


def install_dependencies(dest: Path, requirements: list[str], python_version: str, architecture: str) -> None:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--target",
        str(dest),
        "--upgrade",
        *wheel_options(python_version, architecture),
    ]
    result = subprocess.run(cmd + requirements, capture_output=True, text=True)
    if result.returncode:
        raise UserError(f"pip could not fetch Linux wheels for the Lambda:\n{result.stderr.strip()[-2000:]}")
    for name in HUB_ONLY_DISTRIBUTIONS:
        remove_distribution(dest, name)
    for folder in [p for p in dest.iterdir() if p.is_dir()]:  # package folders the removals left empty
        if not any(f.is_file() for f in folder.rglob("*")):
            shutil.rmtree(folder, ignore_errors=True)
    for tool in ONNXRUNTIME_TOOLS:
        shutil.rmtree(dest / "onnxruntime" / tool, ignore_errors=True)
    for cache in dest.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(dest / "bin", ignore_errors=True)  # console scripts: nothing runs them in a Lambda


def remove_distribution(dest: Path, name: str) -> None:
    """Uninstall one distribution from a --target folder by its RECORD (pip cannot uninstall from one)."""
    for info in dest.glob("*.dist-info"):
        if info.name.split("-")[0].lower() != name.lower():
            continue
        for line in (info / "RECORD").read_text().splitlines():
            path = dest / line.split(",")[0]
            if path.is_file():
                path.unlink()
        shutil.rmtree(info, ignore_errors=True)


def find_python(version: str) -> Path | None:
    """A CPython interpreter of exactly this version (`3.13`) on this machine: this one, `python3.13` on
    PATH, or pyenv's newest 3.13.x; None when there is none. Each candidate is run and asked its version
    (a pyenv shim on PATH may exist and still fail)."""
    candidates: list[str | Path | None] = [sys.executable, shutil.which(f"python{version}")]
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    installs = [
        p for p in pyenv.glob(f"versions/{version}.*/bin/python{version}") if p.parts[-3].replace(".", "").isdigit()
    ]
    newest_first = sorted(installs, key=lambda p: [int(n) for n in p.parts[-3].split(".")], reverse=True)
    candidates += newest_first
    probe = (
        "import sys, sysconfig; print(sys.implementation.name, '%d.%d' % sys.version_info[:2], "
        "bool(sysconfig.get_config_var('Py_GIL_DISABLED')))"
    )
    for candidate in candidates:
        if not candidate:
            continue
        try:
            result = subprocess.run([str(candidate), "-I", "-c", probe], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if result.returncode == 0 and result.stdout.split() == ["cpython", version, "False"]:
            return Path(candidate)
    return None


def compile_bytecode(dest: Path, python: Path) -> None:
    """Precompile every module with the runtime's own Python (bytecode is version-specific): /var/task is
    read-only, so a Lambda cannot cache the .pyc it compiles and would compile every module on each cold start.

    unchecked-hash .pyc files are used without comparing them to the sources: the package never changes.
    """
    result = subprocess.run(
        [str(python), "-I", "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(dest)],
        capture_output=True,
        text=True,
    )
    if result.returncode:
        # a dependency's test or template file that is not valid Python for this version: its module is
        # never imported; report it and carry on
        print(f"compileall skipped some files:\n{result.stdout.strip()[-1000:]}", file=sys.stderr)


def build_lambda_package(
    bundle_dir: Path,
    dest: Path,
    variant: str | None = bundle.DEFAULT_VARIANT,
    python_version: str = LAMBDA_PYTHON_VERSION,
    architecture: str = "x86_64",
    requirements: list[str] | None = None,
    install: bool = True,
    top: int = 10,
    progress: Callable[[str], None] | None = None,
) -> PackageReport:
    """Write the package to `dest` and return its measured size. `dest` is replaced whole, and only when it is
    new, empty or a previous package, never the bundle or a folder holding it: checked before any work.

    `install=False` skips pip (code and bundle only), for tests and for a quick look at the layout.
    `progress` hears a line as each step starts (fetching the wheels takes minutes on a fresh machine).
    """
    bundle_dir, dest = Path(bundle_dir), Path(dest)
    with replacing_folder(
        dest, WHAT, _previous_package, inputs={"the --model bundle": bundle_dir}, keep={"the project folder": ROOT}
    ) as staging:
        size_file = check_size_report_file(dest)
        files = bundle_files(bundle_dir, variant)
        report = _build(
            staging,
            dest,
            bundle_dir,
            files,
            variant,
            python_version,
            architecture,
            requirements,
            install,
            top,
            progress or (lambda _message: None),
        )
    size_file.write_text(json.dumps(asdict(report), indent=2) + "\n")
    return report


def is_lambda_package(folder: Path) -> bool:
    """Whether `folder` holds a Lambda package (its handler module), built or not by golive."""
    return (Path(folder) / Path(*HANDLER_MODULE.split(".")).with_suffix(".py")).is_file()


def _previous_package(folder: Path) -> bool:
    """A package golive built before output folders were marked: the handler module in it and its size report
    beside it (every build wrote one). The handler alone would also match any clone of golive itself."""
    size_file = folder.with_name(f"{folder.name}.size.json")
    return is_lambda_package(folder) and size_file.is_file() and _is_size_report(size_file)


def check_size_report_file(dest: Path) -> Path:
    """The size report written beside the package (`<dest>.size.json`): a previous one is replaced, any other
    file there is refused before the build."""
    target = Path(os.path.realpath(dest))
    size_file = target.with_name(f"{target.name}.size.json")
    if size_file.is_dir() or (size_file.exists() and not _is_size_report(size_file)):
        raise UserError(
            f"{size_file} (where the package's size report goes) exists and is not one; move it away or choose "
            "another --out"
        )
    return size_file


def _is_size_report(path: Path) -> bool:
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(saved, dict) and "unzipped_bytes" in saved and "limit_bytes" in saved


def _build(
    staging: Path,
    dest: Path,
    bundle_dir: Path,
    files: list[str],
    variant: str | None,
    python_version: str,
    architecture: str,
    requirements: list[str] | None,
    install: bool,
    top: int,
    progress: Callable[[str], None],
) -> PackageReport:
    progress(
        f"Lambda package: copying the code the handler imports and the bundle's {variant or 'metadata'} files "
        f"into {staging}"
    )
    copy_code([HANDLER_MODULE], staging)
    (staging / PACKAGE_DIR).mkdir()
    for name in files:
        shutil.copy2(bundle_dir / name, staging / PACKAGE_DIR / name)
    if install:
        progress(
            f"Lambda package: fetching Linux wheels for Python {python_version} {architecture} with pip "
            "(minutes on a first run)"
        )
        install_dependencies(staging, requirements or base_dependencies(), python_version, architecture)
    python = find_python(python_version)
    if python is not None:
        progress(f"Lambda package: precompiling bytecode with {python}")
        compile_bytecode(staging, python)
    progress("Lambda package: measuring and zipping to check the size limits")
    total, ranked = measure(staging)
    report = PackageReport(
        path=str(dest),
        python_version=python_version,
        architecture=architecture,
        variant=variant,
        bytecode_compiled=python is not None,
        compiled_by=str(python) if python else None,
        unzipped_bytes=total,
        zipped_bytes=zipped_size(staging),
        largest=dict(list(ranked.items())[:top]),
    )
    if total > LAMBDA_UNZIPPED_LIMIT:
        raise UserError(
            report.summary() + "\nover Lambda's 250 MB unzipped limit: serve from the GPU endpoint "
            "(GOLIVE_BACKEND=sagemaker) or drop dependencies"
        )
    return report
