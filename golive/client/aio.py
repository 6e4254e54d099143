"""`AsyncClient`: the golive API with asyncio."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TypeVar

import httpx

from golive.client.base import _ClientBase, _timeout
from golive.client.models import Feedback, PredictResult
from golive.client.plans import Outcome, Plan, _Sleep

_T = TypeVar("_T")


class AsyncClient(_ClientBase):
    """The golive API with asyncio; the same arguments, methods and behaviour as `Client`."""

    _http_class = httpx.AsyncClient

    async def predict(
        self, texts: str | Sequence[str], *, top_k: int | None = None, deadline: float | None = None
    ) -> PredictResult:
        return await self._run(self._logic.predict(texts, top_k, deadline))

    async def feedback(self, prediction_id: str, label: str, *, deadline: float | None = None) -> Feedback:
        return await self._run(self._logic.feedback(prediction_id, label, deadline))

    async def _run(self, plan: Plan[_T]) -> _T:
        outcome: Outcome = None
        while True:
            try:
                step = plan.send(outcome)
            except StopIteration as done:
                result: _T = done.value  # the plan's return value
                return result
            if isinstance(step, _Sleep):
                await asyncio.sleep(step.seconds)
                outcome = None
                continue
            try:
                outcome = await self._http.request(
                    step.method, step.path, json=step.body, timeout=_timeout(step.timeout)
                )
            except httpx.RequestError as exc:  # no answer, or one that does not decode: the plan says which
                outcome = exc

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
