"""Lambda SnapStart runtime hooks: what must not be shared by the environments restored from one snapshot.

With SnapStart, Lambda runs the init phase once per published version, snapshots the memory, and starts
every later environment from that snapshot. Whatever init left in memory is then the same in all of them:

- pseudo-random state (Python's `random`, numpy's global generator): reseeded from the OS after restore.
  Prediction-id nonces come from `secrets` (the OS's generator, per call), so they never repeat across
  restores; nothing in the API draws from `random`, but a dependency might;
- AWS clients: their connection pools and the credentials they resolved at init belong to the snapshot.
  Recreated after restore (SageMaker runtime, Secrets Manager; DynamoDB's is made on first use);
- the signing key: read at init, possibly rotated since. Read again (AWSCURRENT, one call) after restore.

Before the snapshot, the model answers once (in-process ONNX), so its first real request does not pay for
ONNX Runtime's first-run allocations after every restore.

The hooks are registered with `snapshot_restore_py`, which Lambda's Python runtime provides (PyPI:
snapshot-restore-py); only when Lambda says the function initialises for SnapStart
(`AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`), so an on-demand cold start imports nothing more.
"""

from __future__ import annotations

import os
import random

from functions.api.dependencies import Services
from functions.api.signing_keys import refresh_after_restore

INITIALIZATION_TYPE = "AWS_LAMBDA_INITIALIZATION_TYPE"
SNAP_START = "snap-start"


def snapstart_init() -> bool:
    return os.environ.get(INITIALIZATION_TYPE) == SNAP_START


def before_snapshot(services: Services) -> None:
    if services.backend.name == "onnx":
        services.backend.predict_logits(["warm up before the snapshot"])


def after_restore(services: Services) -> None:
    random.seed()  # from os.urandom
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - the API always ships numpy
        pass
    else:
        np.random.seed()
    for component in (services.backend, services.feedback):
        reconnect = getattr(component, "reconnect", None)
        if reconnect is not None:
            reconnect()
    refresh_after_restore(services.prediction_ids.keys)


def install_runtime_hooks(services: Services) -> bool:
    """Register the hooks when this init is SnapStart's; True when they were registered."""
    if not snapstart_init():
        return False
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:  # SnapStart's runtime always has it; a custom runtime might not
        services.logger.warning("SnapStart init without snapshot_restore_py: no runtime hooks registered")
        return False
    register_before_snapshot(before_snapshot, services)
    register_after_restore(after_restore, services)
    return True
