"""The endpoint image's Docker build context: the project modules the container runs (the closure of what its
entry point imports), the Dockerfile and its requirements, nothing else (no bundle, no virtualenv, no API
routers), so `cdk deploy` uploads little and the image asset's hash moves only when serving code does."""

from __future__ import annotations

from pathlib import Path

from infra.assets.imports import ROOT
from infra.assets.staging import stage_code

ENDPOINT_DIR = ROOT / "functions" / "endpoint"
# the Dockerfile's ENTRYPOINT, and the app it has uvicorn load by name ("functions.endpoint.app:create_app")
ENTRY_MODULES = ("functions.endpoint.serve", "functions.endpoint.app")
CONTEXT_FILES = ("Dockerfile", "requirements.txt")  # from functions/endpoint, at the context's root
WHAT = "endpoint image build context"


def stage_image_context(dest: Path) -> Path:
    """Stage the build context in `dest`: replaced whole, and only when it is new, empty or a previous context."""
    stage_code(ENTRY_MODULES, dest, what=WHAT, extra=[ENDPOINT_DIR / name for name in CONTEXT_FILES])
    return Path(dest)
