"""Riding out a model endpoint that is waking up: recognise it, tell callers when to come back, optionally wait.

A SageMaker endpoint whose inference component has scaled to zero answers InvokeEndpoint with
`ValidationError` (HTTP 400) "Inference Component has no capacity to process this request. ...", and a model
that is still loading (a serverless endpoint provisioning, a new copy starting) with `ModelNotReadyException`
(HTTP 429). Neither is the caller's fault, and both pass within minutes: the API answers 503 with
`Retry-After` and the error type `model_waking_up`.

Nothing has to be sent to wake the endpoint: SageMaker itself counts each refused invocation in its
`NoCapacityInvocationFailures` metric (AWS/SageMaker, per inference component), and the step-scaling alarm
on that metric brings a copy back. The API counts its own 503s while waking (`ModelWakingUp`,
golive/contracts/telemetry.py) for monitoring.

`Retry-After` is the expected warm-up left: a configured expectation at first, then what this instance
measured from its first "asleep" answer to its first success after it. Each Lambda instance measures on
its own; an instance that never saw a wake-up uses the configured value.
"""

from __future__ import annotations

import math
import time
from typing import Callable

from functions.common.errors import ApiError

ERROR_TYPE = "model_waking_up"
NO_CAPACITY = "no capacity"  # in the ValidationError's message for an inference component at zero copies


class ModelWakingUp(ApiError):
    """503 with Retry-After: the endpoint has no capacity yet. The route counts it (telemetry) and re-raises."""

    counted_as_error = False  # a normal wake-up: ModelWakingUp, not BackendErrors

    def __init__(self, retry_after: int, detail: str):
        super().__init__(503, ERROR_TYPE, f"the model is waking up after a quiet period ({detail}); retry in about "
                                          f"{retry_after} s", retry_after)


def is_waking_up(code: str, message: str) -> bool:
    """SageMaker's answers that mean "no capacity yet, come back in a while" (see the module docstring)."""
    return code == "ModelNotReadyException" or (code == "ValidationError" and NO_CAPACITY in message.lower())


class WarmupClock:
    """How long a wake-up takes, as this instance saw it, and how much of it is left."""

    def __init__(self, expected_s: float, floor_s: int, clock: Callable[[], float] = time.monotonic):
        self.estimate_s = float(expected_s)
        self.floor_s = floor_s
        self.clock = clock
        self.asleep_since: float | None = None
        self.last_measured_s: float | None = None

    def asleep(self) -> None:
        if self.asleep_since is None:
            self.asleep_since = self.clock()

    def awake(self) -> None:
        """The first success after an asleep answer: the time between them becomes the estimate."""
        if self.asleep_since is not None:
            self.last_measured_s = self.clock() - self.asleep_since
            self.estimate_s = max(self.last_measured_s, float(self.floor_s))
            self.asleep_since = None

    def retry_after(self) -> int:
        """Whole seconds until the wake-up should be over (at least the floor: it may take longer than expected)."""
        elapsed = 0.0 if self.asleep_since is None else self.clock() - self.asleep_since
        return max(self.floor_s, math.ceil(self.estimate_s - elapsed))
