"""Importing training changes nothing in the process; its entry point sets up the environment and logging."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

from tests.conftest import REPO

SNAPSHOT = """
import csv, json, logging, os, sys
import numpy, torch, tqdm.auto, transformers, onnxruntime  # what training loads; their own import is not ours
from transformers.utils import logging as hf_logging

def snapshot():
    return {"environ": dict(os.environ), "path": list(sys.path), "csv_field_size_limit": csv.field_size_limit(),
            "root": [logging.root.level, len(logging.root.handlers)],
            "training": [logging.getLogger("training").level, len(logging.getLogger("training").handlers)],
            "transformers": hf_logging.get_verbosity()}
"""

IMPORT_ALL = (
    SNAPSHOT
    + """
before = snapshot()
import pkgutil, importlib, training
for module in pkgutil.iter_modules(training.__path__):
    importlib.import_module(f"training.{module.name}")
print(json.dumps({"before": before, "after": snapshot()}))
"""
)


def run_python(code: str, env: dict[str, str]) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def clean_environment() -> dict[str, str]:
    """This process's environment without what conftest set for training (PROCESS_ENVIRONMENT)."""
    from training.cli import PROCESS_ENVIRONMENT

    return {k: v for k, v in os.environ.items() if k not in PROCESS_ENVIRONMENT} | {"PYTHONPATH": str(REPO)}


def test_importing_every_training_module_has_no_side_effects():
    seen = run_python(IMPORT_ALL, clean_environment())
    assert seen["after"] == seen["before"]


def test_the_entry_point_sets_the_environment_and_logs_lines_as_they_are():
    from training.cli import PROCESS_ENVIRONMENT

    code = (
        SNAPSHOT
        + """
from training.cli import prepare_process
prepare_process()
logging.getLogger("training.loop").info("epoch=1 eval_loss=0.5")
logging.getLogger("training.cli").error("export failed: why")
print(json.dumps(snapshot()))
"""
    )
    env = clean_environment() | {"OMP_WAIT_POLICY": "ACTIVE"}  # an explicit setting wins
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    stdout = result.stdout.splitlines()
    assert stdout[0] == "epoch=1 eval_loss=0.5"  # the line alone: SageMaker's regexes read it
    assert result.stderr.splitlines()[-1] == "export failed: why"
    after = json.loads(stdout[-1])
    assert after["environ"]["OMP_WAIT_POLICY"] == "ACTIVE"
    for name, value in PROCESS_ENVIRONMENT.items():
        if name != "OMP_WAIT_POLICY":
            assert after["environ"][name] == value
    assert after["transformers"] == logging.ERROR and after["root"] == [logging.WARNING, 0]
