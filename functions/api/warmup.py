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
its own; an instance that never saw a wake-up uses the configured value. Each measured wake-up is also
recorded once as `WakeUpSeconds` (time to the first answer after idle), which the "wake-up too slow" alarm reads.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from functions.common.errors import ApiError

ERROR_TYPE = "model_waking_up"
NO_CAPACITY = "no capacity"  # in the ValidationError's message for an inference component at zero copies
# a success more than this many estimates after the last asleep answer measures nothing: callers that follow
# Retry-After come back within about one estimate, so the endpoint woke at some unknown time in between
STALE_AFTER = 2


class ModelWakingUp(ApiError):
    """503 with Retry-After: the endpoint has no capacity yet. The route counts it (telemetry) and re-raises."""

    counted_as_error = False  # a normal wake-up: ModelWakingUp, not BackendErrors

    def __init__(self, retry_after: int, detail: str):
        super().__init__(
            503,
            ERROR_TYPE,
            f"the model is waking up after a quiet period ({detail}); retry in about {retry_after} s",
            retry_after,
        )


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
        self.last_asleep_at: float | None = None
        self.last_measured_s: float | None = None
        self._lock = threading.Lock()  # `golive serve` answers from a thread pool: one wake-up is measured once

    def asleep(self) -> None:
        with self._lock:
            self.last_asleep_at = self.clock()
            if self.asleep_since is None:
                self.asleep_since = self.last_asleep_at

    def awake(self) -> float | None:
        """The first success after an asleep answer: the time between them becomes the estimate, and is returned
        (the caller records it as WakeUpSeconds). None when there was nothing to measure: no asleep answer since the
        last success, or none for longer than STALE_AFTER estimates, so the endpoint may have woken (even slept and
        woken again) long before this success, which would read as a slow wake-up that never happened."""
        with self._lock:
            if self.asleep_since is None:
                return None
            now = self.clock()
            assert self.last_asleep_at is not None  # set with asleep_since
            measured, since_last = now - self.asleep_since, now - self.last_asleep_at
            self.asleep_since = None
        if since_last > STALE_AFTER * max(self.estimate_s, float(self.floor_s)):
            return None
        self.last_measured_s = measured
        self.estimate_s = max(measured, float(self.floor_s))
        return measured

    def retry_after(self) -> int:
        """Whole seconds until the wake-up should be over (at least the floor: it may take longer than expected)."""
        elapsed = 0.0 if self.asleep_since is None else self.clock() - self.asleep_since
        return max(self.floor_s, math.ceil(self.estimate_s - elapsed))
