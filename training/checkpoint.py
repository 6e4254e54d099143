"""Checkpoints for resuming after an interruption (e.g. a managed-spot reclaim on SageMaker).

Each checkpoint is a folder `step-NNNNNNNN` written under a temporary name and renamed when
complete, so a kill mid-write never leaves a checkpoint that looks finished. Checkpoints live in a
subfolder named by a fingerprint of the run (data hash and the arguments that shape training), so a
run only ever resumes its own checkpoints and never prunes another run's.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import torch

STATE_FILE = "state.pt"
KEEP_LAST = 2

logger = logging.getLogger(__name__)


def fingerprint(data_sha256: str, shaping_args: dict[str, Any]) -> str:
    payload = json.dumps({"data": data_sha256, **shaping_args}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def run_dir(checkpoint_dir: Path, run_fingerprint: str) -> Path:
    return Path(checkpoint_dir) / f"run-{run_fingerprint}"


def save(checkpoint_dir: Path, step: int, state: dict[str, Any]) -> Path:
    """Save into `checkpoint_dir` (already the run's own folder) and keep the newest few."""
    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    final = checkpoint_dir / f"step-{step:08d}"
    partial = checkpoint_dir / f".partial-step-{step:08d}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    torch.save(state, partial / STATE_FILE)
    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)
    for old in sorted(checkpoint_dir.glob("step-*"))[:-KEEP_LAST]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_latest(checkpoint_dir: Path) -> tuple[dict[str, Any] | None, str]:
    """The newest complete checkpoint in the run's folder, and a sentence saying what was found."""
    checkpoint_dir = Path(checkpoint_dir)
    for folder in sorted(checkpoint_dir.glob("step-*"), reverse=True):
        try:
            state = torch.load(folder / STATE_FILE, map_location="cpu", weights_only=False)
        except Exception as exc:  # a damaged checkpoint is skipped, not fatal: the older one may be fine
            logger.warning(f"warning: cannot read checkpoint {folder} ({exc}); trying an older one")
            continue
        return state, f"resuming from checkpoint {folder} (epoch {state['epoch']}, step {state['global_step']})"
    return None, f"no checkpoint in {checkpoint_dir}; starting from the base model"
