"""Dynamic micro-batching: requests that arrive together share one model call.

A worker thread takes the first waiting request and everything queued behind it (requests pile up while
the model runs, so under load batches fill by themselves). It waits up to `max_wait_ms` for more only
when recent batches held more requests than it has: a lone caller is never kept waiting for company
that is not coming. Then it runs the model once on all the texts (sorted by length inside the
classifier, so padding stays small) and hands each caller back exactly its own rows.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class _Job:
    texts: Sequence[str]
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop


@dataclass
class BatchStats:
    batches: int = 0
    texts: int = 0
    largest: int = 0

    def as_dict(self) -> dict:
        mean = self.texts / self.batches if self.batches else 0.0
        return {
            "batches": self.batches,
            "texts": self.texts,
            "mean_batch_size": round(mean, 2),
            "largest_batch": self.largest,
        }


@dataclass
class MicroBatcher:
    predict: Callable[[list[str]], np.ndarray]  # texts -> scores, one row per text, in order
    max_batch_size: int
    max_wait_ms: float
    stats: BatchStats = field(default_factory=BatchStats)

    def __post_init__(self) -> None:
        self._typical_requests = 1.0  # requests per batch lately (moving average): how many to wait for
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="golive-batcher", daemon=True)
        self._thread.start()

    async def submit(self, texts: Sequence[str]) -> np.ndarray:
        loop = asyncio.get_running_loop()
        job = _Job(list(texts), loop.create_future(), loop)
        self._queue.put(job)
        return await job.future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _collect(self, first: _Job) -> tuple[list[_Job], bool]:
        jobs, count = [first], len(first.texts)
        deadline = time.monotonic() + self.max_wait_ms / 1000
        while count < self.max_batch_size:
            remaining = deadline - time.monotonic()
            worth_waiting = remaining > 0 and len(jobs) < round(self._typical_requests)
            try:
                job = self._queue.get(timeout=remaining) if worth_waiting else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return jobs, True
            jobs.append(job)
            count += len(job.texts)
        return jobs, False

    def _loop(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                return
            jobs, stop = self._collect(first)
            self._typical_requests = 0.8 * self._typical_requests + 0.2 * len(jobs)
            self._run(jobs)

    def _run(self, jobs: list[_Job]) -> None:
        texts = [text for job in jobs for text in job.texts]
        try:
            probs = self.predict(texts)
        except Exception as exc:  # every caller in the batch gets the error, the worker lives on
            for job in jobs:
                job.loop.call_soon_threadsafe(_settle, job.future, None, exc)
            return
        self.stats.batches += 1
        self.stats.texts += len(texts)
        self.stats.largest = max(self.stats.largest, len(texts))
        offset = 0
        for job in jobs:
            rows = probs[offset : offset + len(job.texts)]
            offset += len(job.texts)
            job.loop.call_soon_threadsafe(_settle, job.future, rows, None)


def _settle(future: asyncio.Future, result, error) -> None:
    if future.cancelled():  # the caller timed out and left
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
