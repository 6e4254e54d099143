"""infra/venvs.py, the one builder of the tools' virtualenvs (checkov, LocalStack, the endpoint image's Python in
tests): real `python -m venv` and pip, offline, from a wheel written here."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

from infra.venvs import STAMP, cached_venv


def write_wheel(folder: Path, version: str) -> Path:
    wheel = folder / f"golive_probe-{version}-py3-none-any.whl"
    info = f"golive_probe-{version}.dist-info"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("golive_probe.py", f"VERSION = {version!r}\n")
        zf.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: golive-probe\nVersion: {version}\n")
        zf.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{info}/RECORD", "")
    return wheel


def probe_version(python: Path) -> str:
    return subprocess.run(
        [str(python), "-c", "import golive_probe; print(golive_probe.VERSION)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_a_venv_is_built_once_and_again_only_when_its_pins_change(tmp_path):
    requirements, venv = tmp_path / "requirements.txt", tmp_path / "venv"
    requirements.write_text(f"# pinned\n{write_wheel(tmp_path, '1.0')}\n")
    python = cached_venv(venv, requirements, pip_options=["--no-index"], what="a probe")
    assert probe_version(python) == "1.0" and (venv / STAMP).is_file()

    (venv / "marker").write_text("kept")
    requirements.write_text(f"# a comment changed, not the pins\n{write_wheel(tmp_path, '1.0')}\n")
    assert cached_venv(venv, requirements, pip_options=["--no-index"]) == python
    assert (venv / "marker").is_file()  # reused, not rebuilt

    requirements.write_text(f"{write_wheel(tmp_path, '2.0')}\n")
    assert probe_version(cached_venv(venv, requirements, pip_options=["--no-index"])) == "2.0"
    assert not (venv / "marker").exists()  # rebuilt from scratch


def test_a_failed_install_says_what_and_leaves_no_stamp(tmp_path):
    import pytest

    from infra.venvs import VenvError

    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"{tmp_path / 'missing-1.0-py3-none-any.whl'}\n")
    with pytest.raises(VenvError, match="could not install a probe"):
        cached_venv(tmp_path / "venv", requirements, pip_options=["--no-index"], what="a probe")
    assert not (tmp_path / "venv" / STAMP).exists()
