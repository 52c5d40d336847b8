"""The consumer loop: read batches, hand them to a handler, commit, retry, dead-letter.

The loop guarantees:

* an offset is committed only after the handler returned for every record before it
  (the handler commits its database transaction before returning), so a crash at any
  point re-delivers, never skips;
* a handler failure is retried record by record with exponential backoff, at most
  ``max_retries`` times, then the record goes to ``<topic>.dlq`` and the partition moves on;
* poison records — over ``max_message_bytes``, or rejected by the handler as
  undecodable (``PoisonMessage``) — go to the DLQ at once, without retries.

Dead-lettered records keep their key, value and headers and gain ``ler_error`` (a reason
a person can read), ``ler_error_type`` and ``ler_original_topic/partition/offset``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ler_platform.errors import LerError
from ler_platform.events.records import (
    BusError,
    CommitFailed,
    ConsumedRecord,
    OutgoingRecord,
    TopicPartition,
)
from ler_platform.logging import redact
from ler_platform.tasks import stop_task
from ler_platform.tracing import consumer_span

if TYPE_CHECKING:
    from ler_platform.events.bus import BusConsumer, EventBus
    from ler_platform.metrics import Metrics

log = logging.getLogger(__name__)

DLQ_SUFFIX = ".dlq"
ERROR_HEADER = "ler_error"
ERROR_TYPE_HEADER = "ler_error_type"
ORIGINAL_TOPIC_HEADER = "ler_original_topic"
ORIGINAL_PARTITION_HEADER = "ler_original_partition"
ORIGINAL_OFFSET_HEADER = "ler_original_offset"
_MAX_REASON_CHARS = 1000
_LAG_SAMPLE_SECONDS = 1.0


class PoisonMessage(LerError):
    """A record that can never be processed (undecodable, unknown type, too large).

    Raised by decoders; the runner dead-letters such a record immediately.
    ``error_type`` is a short stable label for the ``ler_error_type`` header.
    """

    error_type = "poison"

    def __init__(self, reason: str, *, error_type: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if error_type:
            self.error_type = error_type


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record the handler will not process, and why."""

    record: ConsumedRecord
    error: PoisonMessage


# A batch handler processes records (in order per partition) and returns the poison ones
# it skipped; it raises for anything that deserves a retry.
BatchHandler = Callable[[Sequence[ConsumedRecord]], Awaitable[Sequence[Rejection]]]


@dataclass(frozen=True, slots=True)
class RunnerOptions:
    """Tuning of a consumer runner (defaults match ``ServiceSettings``)."""

    batch_size: int = 500
    max_retries: int = 5
    backoff_seconds: float = 0.2
    backoff_max_seconds: float = 10.0
    max_message_bytes: int = 1024 * 1024
    poll_timeout_ms: int = 200
    # records processed, dead-lettered and consumer lag go here when set
    metrics: Metrics | None = None


def dlq_topic(topic: str) -> str:
    """The dead-letter topic of ``topic``."""
    return topic + DLQ_SUFFIX


def each_record(handle: Callable[[ConsumedRecord], Awaitable[None]], group_id: str) -> BatchHandler:
    """Adapt a one-record handler into a batch handler, tracing each record.

    Each call runs inside a ``"{topic} process"`` CONSUMER span continuing the producer's
    trace. Suited to handlers that are idempotent by themselves; database effects should
    use ``ler_platform.inbox.IdempotentConsumer`` instead.
    """

    async def handler(records: Sequence[ConsumedRecord]) -> Sequence[Rejection]:
        rejections: list[Rejection] = []
        for record in records:
            ce_id = record.header("ce_id")
            with consumer_span(
                record.topic,
                record.headers,
                partition=record.partition,
                offset=record.offset,
                group_id=group_id,
                message_id=ce_id.decode(errors="replace") if ce_id else None,
            ):
                try:
                    await handle(record)
                except PoisonMessage as err:
                    rejections.append(Rejection(record, err))
        return rejections

    return handler


class _Stopping(Exception):
    """Internal: the runner was asked to stop while waiting to retry."""


class ConsumerRunner:
    """Runs one consumer-group member until ``stop()``; see the module docstring."""

    def __init__(
        self,
        bus: EventBus,
        topics: list[str],
        group_id: str,
        handler: BatchHandler,
        options: RunnerOptions,
    ) -> None:
        self._bus = bus
        self._topics = topics
        self.group_id = group_id
        self._handler = handler
        self._options = options
        self._consumer: BusConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._lag_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.dead_lettered = 0

    async def start(self) -> None:
        """Create the topics (and their DLQs) if needed, join the group, start the loop."""
        await self._bus.ensure_topics([*self._topics, *(dlq_topic(t) for t in self._topics)])
        self._consumer = self._bus.consumer(
            self._topics, self.group_id, max_records=self._options.batch_size
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name=f"consumer:{self.group_id}")
        if self._options.metrics is not None:
            # a task of its own: lag matters most while a slow handler holds the loop
            self._lag_task = asyncio.create_task(
                self._sample_lag_forever(self._consumer, self._options.metrics),
                name=f"consumer-lag:{self.group_id}",
            )

    async def stop(self) -> None:
        """Finish the batch in hand, commit it, and leave the group."""
        self._stopping.set()
        await stop_task(self._lag_task, name=f"consumer lag sampler of {self.group_id}")
        self._lag_task = None
        if self._task is not None:
            try:
                await self._task
            finally:
                self._task = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    @property
    def running(self) -> bool:
        """True while the loop runs (False after ``stop()`` or a fatal error)."""
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        consumer = self._consumer
        if consumer is None:  # pragma: no cover - start() sets it
            return
        # The offset commit of one batch overlaps the handling of the next: the next batch's
        # effects do not depend on it, and commits stay in order because each one is awaited
        # before the next is sent (and before leaving the group).
        pending_commit: asyncio.Task[None] | None = None
        try:
            while not self._stopping.is_set():
                try:
                    batches = await consumer.getmany(
                        timeout_ms=self._options.poll_timeout_ms,
                        max_records=self._options.batch_size,
                    )
                except Exception:
                    # broker hiccups surface here; the consumer resumes from its position
                    log.exception("fetching records for group %s failed", self.group_id)
                    try:
                        await self._sleep(self._options.backoff_seconds or 0.1)
                    except _Stopping:
                        return
                    continue
                records = [r for batch in batches.values() for r in batch]
                if not records:
                    continue
                done = await self._process(records)
                self._count_processed(records, done)
                offsets = _commit_offsets(batches, done)
                if not offsets:
                    continue
                if pending_commit is not None:
                    await pending_commit
                pending_commit = asyncio.create_task(self._commit(consumer, offsets))
        finally:
            if pending_commit is not None:
                await pending_commit

    async def _sample_lag_forever(self, consumer: BusConsumer, metrics: Metrics) -> None:
        while not self._stopping.is_set():
            try:
                lags = await consumer.lag()
            except Exception:  # a metric must never disturb consumption
                log.debug("could not sample consumer lag of %s", self.group_id, exc_info=True)
            else:
                for tp, lag in lags.items():
                    metrics.consumer_lag.labels(self.group_id, tp.topic, str(tp.partition)).set(lag)
            await asyncio.sleep(_LAG_SAMPLE_SECONDS)

    def _count_processed(
        self, records: list[ConsumedRecord], done: set[tuple[TopicPartition, int]]
    ) -> None:
        metrics = self._options.metrics
        if metrics is None:
            return
        per_topic = collections.Counter(
            r.topic for r in records if (r.topic_partition, r.offset) in done
        )
        for topic, count in per_topic.items():
            metrics.consumer_processed.labels(self.group_id, topic).inc(count)

    async def _commit(self, consumer: BusConsumer, offsets: dict[TopicPartition, int]) -> None:
        try:
            await consumer.commit(offsets)
        except CommitFailed as err:
            log.warning("offset commit refused, records will be re-delivered: %s", err)

    async def _process(self, records: list[ConsumedRecord]) -> set[tuple[TopicPartition, int]]:
        """Handle ``records``; return the (partition, offset) pairs fully dealt with."""
        limit = self._options.max_message_bytes
        rejections = [
            Rejection(
                r,
                PoisonMessage(
                    f"message is {len(r.value)} bytes, over the {limit}-byte limit"
                    " (LER_MAX_MESSAGE_BYTES)",
                    error_type="message_too_large",
                ),
            )
            for r in records
            if len(r.value) > limit
        ]
        accepted = [r for r in records if len(r.value) <= limit]
        done: set[tuple[TopicPartition, int]] = set()
        try:
            rejections.extend(await self._handler(accepted) if accepted else ())
            done.update((r.topic_partition, r.offset) for r in accepted)
        except Exception:
            log.warning(
                "batch of %d records failed; retrying them one by one", len(accepted), exc_info=True
            )
            for record in accepted:
                try:
                    rejection = await self._handle_with_retries(record)
                except _Stopping:
                    break
                if rejection is not None:
                    rejections.append(rejection)
                done.add((record.topic_partition, record.offset))
        for rejection in rejections:
            position = (rejection.record.topic_partition, rejection.record.offset)
            try:
                await self._dead_letter(rejection)
            except _Stopping:
                done.discard(position)  # not dead-lettered: must be read again
            else:
                done.add(position)
        return done

    async def _handle_with_retries(self, record: ConsumedRecord) -> Rejection | None:
        attempts = self._options.max_retries + 1
        delay = self._options.backoff_seconds
        for attempt in range(1, attempts + 1):
            try:
                rejected = await self._handler([record])
            except PoisonMessage as err:
                return Rejection(record, err)
            except Exception as err:
                if attempt == attempts:
                    reason = (
                        f"handler failed {attempts} times; last error: {type(err).__name__}: {err}"
                    )
                    return Rejection(record, PoisonMessage(reason, error_type=type(err).__name__))
                log.warning(
                    "handler failed (attempt %d of %d) at %s[%d]@%d; retrying in %.2fs",
                    attempt,
                    attempts,
                    record.topic,
                    record.partition,
                    record.offset,
                    delay,
                    exc_info=True,
                )
                await self._sleep(delay)
                delay = min(delay * 2, self._options.backoff_max_seconds)
            else:
                return rejected[0] if rejected else None
        return None  # pragma: no cover - the loop always returns

    async def _dead_letter(self, rejection: Rejection) -> None:
        record = rejection.record
        reason = redact(rejection.error.reason)[:_MAX_REASON_CHARS]
        headers = [
            *(h for h in record.headers if not h[0].startswith("ler_error")),
            (ERROR_HEADER, reason.encode()),
            (ERROR_TYPE_HEADER, rejection.error.error_type.encode()),
            (ORIGINAL_TOPIC_HEADER, record.topic.encode()),
            (ORIGINAL_PARTITION_HEADER, str(record.partition).encode()),
            (ORIGINAL_OFFSET_HEADER, str(record.offset).encode()),
        ]
        out = OutgoingRecord(dlq_topic(record.topic), record.key, record.value, tuple(headers))
        delay = self._options.backoff_seconds
        while True:
            try:
                await self._bus.publish_batch([out])
            except BusError:
                log.exception("could not publish to %s; retrying in %.2fs", out.topic, delay)
                await self._sleep(delay)
                delay = min(delay * 2 or 0.1, self._options.backoff_max_seconds)
                continue
            self.dead_lettered += 1
            if self._options.metrics is not None:
                self._options.metrics.dead_lettered.labels(self.group_id, record.topic).inc()
            log.error(
                "dead-lettered %s[%d]@%d to %s: %s",
                record.topic,
                record.partition,
                record.offset,
                out.topic,
                reason,
            )
            return

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            return
        raise _Stopping


def _commit_offsets(
    batches: Mapping[TopicPartition, Sequence[ConsumedRecord]],
    done: set[tuple[TopicPartition, int]],
) -> dict[TopicPartition, int]:
    """Per partition, the offset after the longest fully-done prefix of its batch."""
    offsets: dict[TopicPartition, int] = {}
    for tp, batch in batches.items():
        next_offset = None
        for record in batch:
            if (tp, record.offset) not in done:
                break
            next_offset = record.offset + 1
        if next_offset is not None:
            offsets[tp] = next_offset
    return offsets
