"""The unit of work: one database transaction, its repositories, and the events it commits.

Events collected with ``publish`` are written into the outbox in the same transaction as the
state change (the transactional outbox, DESIGN.md "Reliability patterns"); nothing is sent
unless the transaction commits.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Protocol, Self

from ler_platform.outbox import OutboxWriter
from ler_proto.events.verification import VERIFICATIONS
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ler_verification.adapters.proto import event_to_proto
from ler_verification.adapters.repositories import (
    ChallengeRepository,
    TenantRepository,
    TrustRepository,
)
from ler_verification.domain.events import VerificationCompleted


class UnitOfWork(Protocol):
    """What use cases need: repositories, ``publish``, and commit on a clean exit."""

    tenants: TenantRepository
    challenges: ChallengeRepository
    trust: TrustRepository

    def publish(self, event: VerificationCompleted) -> None:
        """Stage an event for the outbox of this transaction."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class SqlUnitOfWork:
    """A unit of work over an SQLAlchemy session; commits on a clean exit, else rolls back."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: OutboxWriter,
        *,
        write_lock: asyncio.Lock | None = None,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        # SQLite (embedded mode) has one writer at a time, and its busy handler waits with
        # growing sleeps, which gives seconds-long tail latencies under concurrency; queueing
        # this process's transactions on a lock instead keeps them first-come, first-served.
        self._write_lock = write_lock
        self._events: list[VerificationCompleted] = []
        self._session: AsyncSession | None = None

    def publish(self, event: VerificationCompleted) -> None:
        """See ``UnitOfWork``."""
        self._events.append(event)

    async def __aenter__(self) -> Self:
        if self._write_lock is not None:
            await self._write_lock.acquire()
        self._session = self._sessions()
        await self._session.begin()
        self.tenants = TenantRepository(self._session)
        self.challenges = ChallengeRepository(self._session)
        self.trust = TrustRepository(self._session)
        self._events = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self._session
        if session is None:
            return
        try:
            if exc_type is None:
                if self._events:
                    messages = [event_to_proto(e) for e in self._events]
                    await self._outbox.add_many(
                        session,
                        VERIFICATIONS.name,
                        [(VERIFICATIONS.key_for(m), m, None) for m in messages],
                    )
                await session.commit()
            else:
                await session.rollback()
        finally:
            await session.close()
            self._session = None
            if self._write_lock is not None:
                self._write_lock.release()


class UnitOfWorkFactory(Protocol):
    """Makes a fresh unit of work per use case."""

    def __call__(self) -> UnitOfWork: ...


class EventBatcher:
    """Group commit for events that accompany no state change (credential verifications).

    Each caller awaits its event's commit, as with a unit of work, but concurrent callers
    share one transaction: under load one INSERT of many rows replaces many transactions,
    which is what keeps throughput up and tail latency down on a single-writer SQLite.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: OutboxWriter,
        *,
        max_batch: int = 500,
        write_lock: asyncio.Lock | None = None,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._max_batch = max_batch
        self._write_lock = write_lock
        self._queue: asyncio.Queue[tuple[VerificationCompleted, asyncio.Future[None]]] = (
            asyncio.Queue()
        )
        self._task: asyncio.Task[None] | None = None

    async def publish(self, event: VerificationCompleted) -> None:
        """Stage ``event`` in the outbox; returns once it is committed."""
        if self._task is None or self._task.done():
            raise RuntimeError("the event batcher is not running")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put((event, done))
        await done

    async def start(self) -> None:
        """Start the writer task."""
        self._task = asyncio.create_task(self._run(), name="verification-event-batcher")

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        if self._task is None:
            return
        await self._queue.put(None)  # type: ignore[arg-type]  # the stop marker
        await self._task
        self._task = None

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            batch = []
            if first is None:
                stopping = True
            else:
                batch.append(first)
            while len(batch) < self._max_batch and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    stopping = True
                    continue
                batch.append(item)
            if batch:
                await self._write(batch)

    async def _write(self, batch: list[tuple[VerificationCompleted, asyncio.Future[None]]]) -> None:
        try:
            if self._write_lock is not None:
                await self._write_lock.acquire()
            try:
                async with self._sessions() as session, session.begin():
                    messages = [event_to_proto(event) for event, _ in batch]
                    await self._outbox.add_many(
                        session,
                        VERIFICATIONS.name,
                        [(VERIFICATIONS.key_for(m), m, None) for m in messages],
                    )
            finally:
                if self._write_lock is not None:
                    self._write_lock.release()
        except Exception as err:  # every waiter learns it failed; the writer keeps running
            for _, done in batch:
                if not done.done():
                    done.set_exception(err)
            return
        for _, done in batch:
            if not done.done():
                done.set_result(None)
