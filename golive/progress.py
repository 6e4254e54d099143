"""Progress lines for commands that make a person wait: what is happening now, and for how long it has run.

One line per step, prefixed with the seconds since the command's clock started, so a log shows where the
time went and a terminal never sits silent. Lines go to stderr unless a stream is given (training logs
to stdout, which SageMaker captures).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """`progress("fetching wheels")` prints `[  12.3 s] fetching wheels`."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.started = time.perf_counter()
        self._stream = stream

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def __call__(self, message: str) -> None:
        print(f"[{self.elapsed:6.1f} s] {message}", file=self._stream or sys.stderr, flush=True)
