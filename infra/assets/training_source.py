"""The source tarball a SageMaker training job runs (`sagemaker_submit_directory`).

SageMaker's framework containers unpack a `.tar.gz` into /opt/ml/code, pip-install its requirements.txt
and run `sagemaker_program`: training's one entry, training/cli.py, with the closure of what it imports.
The container brings torch (for its GPU); we add the rest of the `train` extra and the few base packages
training uses, pinned as in pyproject.toml. The job's data comes from its channels: no sample data.
"""

from __future__ import annotations

import tempfile
import tomllib
from pathlib import Path

from golive.archives import write_tarball
from infra.assets.imports import ROOT
from infra.assets.staging import code_files

ENTRY_MODULE = "training.cli"
ENTRY_POINT = "training/cli.py"  # SageMaker runs it as a script, from the unpacked source root
# base dependencies that training imports (ONNX export, evaluation); the rest serve HTTP
TRAINING_BASE_PACKAGES = ("numpy", "onnxruntime", "tokenizers", "pydantic")
PROVIDED_BY_CONTAINER = ("torch",)


def _name(requirement: str) -> str:
    for separator in "=<>![ ;~":
        requirement = requirement.split(separator)[0]
    return requirement.strip().lower()


def training_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    base = [r for r in project["dependencies"] if _name(r) in TRAINING_BASE_PACKAGES]
    extra = [r for r in project["optional-dependencies"]["train"] if _name(r) not in PROVIDED_BY_CONTAINER]
    return base + extra


def build_source_tarball(tarball: Path) -> Path:
    members = [(ROOT / path, path.as_posix()) for path in code_files([ENTRY_MODULE], data=False)]
    with tempfile.TemporaryDirectory() as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text("\n".join(training_requirements()) + "\n")
        return write_tarball(tarball, members + [(requirements, "requirements.txt")])
