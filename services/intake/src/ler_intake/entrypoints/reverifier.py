"""The background re-verifier: a platform ``Component`` running ``reverify_round`` on a timer."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ler_platform.tasks import stop_task

from ler_intake.service_layer.context import Context
from ler_intake.service_layer.reverify import reverify_round

log = logging.getLogger(__name__)


class Reverifier:
    """Retries the verification of SUBMITTED applications (see ``service_layer.reverify``)."""

    def __init__(
        self, ctx: Context, *, poll: float, batch: int = 20, stop_grace: float = 15.0
    ) -> None:
        self._ctx = ctx
        self._poll = poll
        self._batch = batch
        self._stop_grace = stop_grace
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the loop."""
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="reverifier")

    async def stop(self) -> None:
        """Let the round in progress finish (within ``stop_grace``), then stop; a round cut
        short leaves its applications to their next scheduled try."""
        if self._task is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), self._stop_grace)
        except TimeoutError:
            await stop_task(self._task, name="re-verifier")
        self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await reverify_round(self._ctx, self._batch)
            except Exception:  # the loop must survive a database hiccup
                log.exception("re-verification round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._poll)
