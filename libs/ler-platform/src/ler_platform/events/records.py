"""Transport-level records: what goes to and comes from a topic partition."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ler_platform.errors import LerError

Headers = Sequence[tuple[str, bytes]]


class BusError(LerError):
    """The event bus could not do what was asked (broker unreachable, bus stopped...)."""


class CommitFailed(BusError):
    """An offset commit was refused because the partition was reassigned (rebalance).

    Not fatal: the new owner re-reads from the last committed offset and the idempotent
    consumer skips what was already applied.
    """


@dataclass(frozen=True, slots=True)
class TopicPartition:
    """One partition of one topic."""

    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    """A record to publish. ``key`` picks the partition, so one key's records stay in order."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Headers = ()


@dataclass(frozen=True, slots=True)
class ConsumedRecord:
    """A record read from a partition at ``offset``."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Headers
    timestamp_ms: int

    @property
    def topic_partition(self) -> TopicPartition:
        """Where the record was read from."""
        return TopicPartition(self.topic, self.partition)

    def header(self, name: str) -> bytes | None:
        """The last value of header ``name`` or ``None``."""
        found = None
        for key, value in self.headers:
            if key == name:
                found = value
        return found
