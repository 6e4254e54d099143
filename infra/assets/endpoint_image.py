"""The endpoint image's Docker build context: the project modules the container runs (the closure of what its
entry point imports), the Dockerfile and its requirements, nothing else (no bundle, no virtualenv, no API
routers), so `cdk deploy` uploads little and the image asset's hash moves only when serving code does."""

from __future__ import annotations

import shutil
from pathlib import Path

from infra.assets.imports import ROOT
from infra.assets.staging import stage_code

ENDPOINT_DIR = ROOT / "functions" / "endpoint"
# the Dockerfile's ENTRYPOINT, and the app it has uvicorn load by name ("functions.endpoint.app:create_app")
ENTRY_MODULES = ("functions.endpoint.serve", "functions.endpoint.app")


def stage_image_context(dest: Path) -> Path:
    dest = Path(dest)
    stage_code(ENTRY_MODULES, dest)
    shutil.copy2(ENDPOINT_DIR / "Dockerfile", dest / "Dockerfile")
    shutil.copy2(ENDPOINT_DIR / "requirements.txt", dest / "requirements.txt")
    return dest
