"""tests/lanes.py on a planted project: the lane marks by path, and the torch-free guard fails a unit lane that
imports torch (a stand-in `torch.py`, so the real one is never loaded), naming the test that did."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

PLANTED = {
    "pytest.ini": "[pytest]\nmarkers =\n    unit: u\n    integration: i\n",
    "torch.py": "STAND_IN = True\n",
    "tests/unit/test_clean.py": "def test_clean():\n    pass\n",
    "tests/unit/test_pulls_torch.py": "def test_pulls_torch():\n    import torch  # noqa: F401\n",
    "tests/test_integration.py": "def test_integration():\n    import torch  # noqa: F401\n",
}


@pytest.fixture()
def project(tmp_path) -> Path:
    for name, text in PLANTED.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def pytest_in(project: Path, *args: str) -> subprocess.Popen:
    """Started, not waited for: the runs below go side by side."""
    # tests.lanes from this repo, torch.py from the planted folder; no installed plugins (hypothesis: seconds)
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "tests.lanes", "-p", "no:cacheprovider", "-q", *args],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finished(run: subprocess.Popen) -> tuple[int, str]:
    out = run.communicate(timeout=120)[0]
    return run.returncode, out


def test_the_guard_names_the_unit_test_that_imports_torch_and_lanes_select_by_path(project, tmp_path_factory):
    collecting = tmp_path_factory.mktemp("collecting")
    for name, text in PLANTED.items():
        (collecting / name).parent.mkdir(parents=True, exist_ok=True)
        (collecting / name).write_text(text)
    (collecting / "tests/unit/test_pulls_torch.py").write_text(
        "import torch  # noqa: F401\n\ndef test_x():\n    pass\n"
    )
    unit, integration, at_collection = (
        pytest_in(project, "tests", "-m", "unit"),
        pytest_in(project, "tests", "-m", "integration"),
        pytest_in(collecting, "tests/unit"),
    )

    code, out = finished(unit)  # the integration test is deselected; of the two unit tests, one pulled torch in
    assert code == 1 and "2 passed, 1 deselected, 1 error" in out, out
    assert "ERROR at teardown of test_pulls_torch" in out
    assert "this unit test imported torch: unit tests run without torch and transformers" in out

    code, out = finished(integration)  # integration tests may import torch
    assert code == 0 and "1 passed, 2 deselected" in out, out

    code, out = finished(at_collection)  # imported at collection: no test to blame, the session fails
    assert code == 1 and "2 passed" in out and "the unit lane imported torch" in out, out
