"""The event bus interface shared by the Kafka and the in-process implementations.

Semantics both implementations guarantee (DESIGN.md "Configuration and modes"):
topics have partitions chosen by a hash of the key, so records with one key are read in
the order they were published; every consumer group reads every record; a group resumes
from its last *committed* offset, so records read but not committed are delivered again
(at-least-once).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

from ler_platform.events.records import ConsumedRecord, Headers, OutgoingRecord, TopicPartition
from ler_platform.events.runner import BatchHandler, ConsumerRunner, RunnerOptions


class BusConsumer(ABC):
    """A member of a consumer group, reading the partitions assigned to it."""

    @abstractmethod
    async def start(self) -> None:
        """Join the group; reading starts at each assigned partition's committed offset."""

    @abstractmethod
    async def stop(self) -> None:
        """Leave the group without committing anything further."""

    @abstractmethod
    async def getmany(
        self, *, timeout_ms: int, max_records: int
    ) -> Mapping[TopicPartition, Sequence[ConsumedRecord]]:
        """Up to ``max_records`` records in offset order per partition; waits ``timeout_ms``."""

    @abstractmethod
    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Commit the *next* offset to read per partition.

        Raises ``CommitFailed`` when a rebalance took the partition away.
        """

    async def lag(self) -> Mapping[TopicPartition, int]:
        """Records not yet read, per assigned partition (end offset minus position).

        Only for metrics; implementations that cannot tell return an empty mapping.
        """
        return {}


class EventBus(ABC):
    """Publish records and run consumer groups."""

    @abstractmethod
    async def start(self) -> None:
        """Connect (producer side)."""

    @abstractmethod
    async def stop(self) -> None:
        """Flush what is in flight and disconnect."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise ``BusError`` if the bus cannot be reached (used by health checks)."""

    @abstractmethod
    async def publish_batch(self, records: Sequence[OutgoingRecord]) -> None:
        """Publish ``records`` and return once every one is durably acknowledged.

        Records with the same topic and key are appended in the order given.
        """

    @abstractmethod
    def consumer(self, topics: Sequence[str], group_id: str, *, max_records: int) -> BusConsumer:
        """A new, not yet started, member of ``group_id`` subscribed to ``topics``."""

    async def ensure_topics(self, topics: Sequence[str]) -> None:  # noqa: B027 - optional hook
        """Create ``topics`` if the implementation needs them to exist before use."""

    async def publish(
        self, topic: str, key: bytes | None, value: bytes, headers: Headers = ()
    ) -> None:
        """Publish one record (see ``publish_batch``)."""
        await self.publish_batch([OutgoingRecord(topic, key, value, tuple(headers))])

    def subscribe(
        self,
        topics: Sequence[str],
        group_id: str,
        handler: BatchHandler,
        options: RunnerOptions | None = None,
    ) -> ConsumerRunner:
        """A consumer runner (``start()``/``stop()``) feeding ``handler`` batches of records.

        Offsets are committed only after ``handler`` returns; failures are retried with
        backoff and then sent to ``<topic>.dlq`` (see ``ConsumerRunner``).
        """
        return ConsumerRunner(self, list(topics), group_id, handler, options or RunnerOptions())
