"""The endpoint image's Docker build context: our serving code, the Dockerfile and its requirements,
nothing else (no bundle, no virtualenv), so `cdk deploy` uploads little and the image asset's hash moves
only when serving code does."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENDPOINT_DIR = ROOT / "functions" / "endpoint"
SKIP_NAMES = {"__pycache__", "tests", "cli.py", "lambda_handler.py", "Dockerfile", "requirements.txt"}


def stage_image_context(dest: Path) -> Path:
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for package in ("functions", "golive"):
        shutil.copytree(ROOT / package, dest / package, ignore=lambda _d, names: [n for n in names if n in SKIP_NAMES])
    shutil.copy2(ENDPOINT_DIR / "Dockerfile", dest / "Dockerfile")
    shutil.copy2(ENDPOINT_DIR / "requirements.txt", dest / "requirements.txt")
    return dest
