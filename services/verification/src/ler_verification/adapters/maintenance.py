"""Background housekeeping: the consumer inbox does not grow without bound.

Each replica consumes ``ler.credentials.status.v1`` in its own consumer group (it must drop
its own caches), so inbox rows accumulate per instance; rows older than any possible replay
are deleted periodically.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from ler_platform.inbox import prune_inbox
from ler_platform.tasks import stop_task
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger(__name__)


class InboxPruner:
    """Every ``interval`` seconds, delete inbox rows older than ``retention``."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        inbox: Table,
        *,
        retention: timedelta = timedelta(days=7),
        interval: float = 3600.0,
    ) -> None:
        self._sessions = sessions
        self._inbox = inbox
        self._retention = retention
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    async def prune_once(self) -> int:
        """Delete old rows now; returns how many."""
        async with self._sessions() as session, session.begin():
            return await prune_inbox(session, self._inbox, self._retention)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                removed = await self.prune_once()
            except Exception:  # a database outage must not end housekeeping for good
                log.exception("inbox pruning failed; retrying in %.0fs", self._interval)
                continue
            if removed:
                log.info("pruned %d inbox rows", removed)

    async def start(self) -> None:
        """Start the periodic task."""
        self._task = asyncio.create_task(self._run(), name="inbox-pruner")

    async def stop(self) -> None:
        """Stop it."""
        await stop_task(self._task, name="inbox pruner")
        self._task = None
