"""The SQL unit of work that services share: one transaction, its domain events in the outbox.

A service subclasses ``SqlUnitOfWork``, binding its repositories to the session in
``_bind`` and turning its staged domain events into outbox items in ``_outbox_items``.
Used as ``async with uow:`` it either opens, commits (events first, in the same
transaction) and closes its own session, or — given ``session`` — joins the caller's
transaction (an idempotent consumer's), stages the events there and leaves the commit to
the caller. On an exception its own transaction is rolled back and no event is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Generic, Self, TypeVar

from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ler_platform.outbox import OutboxWriter

E = TypeVar("E")

#: ``(key, message, subject)``: what ``OutboxWriter.add_many`` stages for one event.
OutboxItem = tuple[str, Message, str | None]


class SqlUnitOfWork(Generic[E]):
    """See the module docstring."""

    def __init__(
        self,
        outbox: OutboxWriter,
        topic: str,
        *,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        session: AsyncSession | None = None,
    ) -> None:
        if (sessions is None) == (session is None):
            raise ValueError("give exactly one of sessions or session")
        self._outbox = outbox
        self._topic = topic
        self._sessions = sessions
        self._joined = session
        self._session: AsyncSession | None = None
        self._events: list[E] = []

    def _bind(self, session: AsyncSession) -> None:
        """Create the service's repositories on ``session``."""
        raise NotImplementedError

    def _outbox_items(self, events: Sequence[E]) -> list[OutboxItem]:
        """The outbox items of the staged events, in order."""
        raise NotImplementedError

    def publish(self, event: E) -> None:
        """Stage ``event``; it reaches the outbox with the transaction's other writes."""
        self._events.append(event)

    async def __aenter__(self) -> Self:
        if self._joined is not None:
            self._bind(self._joined)
            return self
        if self._sessions is None:  # pragma: no cover - the constructor checked
            raise RuntimeError("unit of work without sessions")
        session = self._sessions()
        await session.begin()
        self._bind(session)
        return self

    async def _flush_events(self, session: AsyncSession) -> None:
        if self._events:
            await self._outbox.add_many(session, self._topic, self._outbox_items(self._events))
            self._events.clear()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self._session
        if session is None:
            return
        if self._joined is not None:
            if exc_type is None:
                await self._flush_events(session)
            return
        try:
            if exc_type is None:
                await self._flush_events(session)
                await session.commit()
            else:
                await session.rollback()
        finally:
            await session.close()
