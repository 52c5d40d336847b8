"""The event bus on Apache Kafka, through aiokafka (real mode)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # type: ignore[import-untyped]
from aiokafka import TopicPartition as KafkaTopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped]
from aiokafka.errors import CommitFailedError, KafkaError, TopicAlreadyExistsError  # type: ignore[import-untyped]
from aiokafka.producer.message_accumulator import BatchBuilder  # type: ignore[import-untyped]
from aiokafka.protocol.admin import ApiVersionRequest  # type: ignore[import-untyped]

from ler_platform.events.bus import BusConsumer, EventBus
from ler_platform.events.records import (
    BusError,
    CommitFailed,
    ConsumedRecord,
    OutgoingRecord,
    TopicPartition,
)
from ler_platform.events.security import PLAINTEXT, KafkaSecurity

log = logging.getLogger(__name__)

_PRODUCER_MAX_REQUEST_HEADROOM = 64 * 1024  # record headers and batch framing


def key_partitioner(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """CRC-32 of the key modulo the partition count (keyless: any available partition)."""
    if key is None:
        return random.choice(available or all_partitions)
    ordered = sorted(all_partitions)
    return ordered[zlib.crc32(key) % len(ordered)]


class KafkaBus(EventBus):
    """Publishes with an idempotent producer; consumer groups commit offsets explicitly."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_id: str = "ler",
        topic_partitions: int = 6,
        replication_factor: int = 1,
        max_message_bytes: int = 1024 * 1024,
        security: KafkaSecurity | None = None,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._security = security or PLAINTEXT
        # checked here so that bad TLS/SASL settings fail at construction, not on first use
        self._client_kwargs = self._security.client_kwargs()
        self._client_id = client_id
        self._topic_partitions = topic_partitions
        self._replication_factor = replication_factor
        self._max_message_bytes = max_message_bytes
        self._producer: AIOKafkaProducer | None = None
        self._known_topics: set[str] = set()
        self._partition_cache: dict[str, tuple[float, list[int]]] = {}

    async def start(self) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            client_id=f"{self._client_id}-producer",
            # no duplicates or reordering from the producer's own retries
            enable_idempotence=True,
            # acknowledged = written to all in-sync replicas, so an ack survives a broker loss
            acks="all",
            # wait up to 5 ms to fill batches: far fewer requests at a small latency cost
            linger_ms=5,
            # 512 KiB batches per partition carry a whole outbox batch in a few requests
            max_batch_size=512 * 1024,
            # a record up to the consumer's limit must be publishable (to the DLQ too)
            max_request_size=self._max_message_bytes + _PRODUCER_MAX_REQUEST_HEADROOM,
            # a publish fails after 30 s without an answer; the outbox relay then retries it
            request_timeout_ms=30_000,
            # same key → same partition as the in-process bus, with C-speed hashing
            partitioner=key_partitioner,
            **self._client_kwargs,
        )
        try:
            await producer.start()
        except KafkaError as err:
            await producer.stop()
            raise BusError(f"cannot connect to Kafka at {self._bootstrap}: {err}") from err
        self._producer = producer

    async def stop(self) -> None:
        if self._producer is not None:
            # stop() flushes pending batches before closing
            await self._producer.stop()
            self._producer = None

    async def ping(self) -> None:
        producer = self._require_producer()
        client = producer.client
        try:
            node_id = client.get_random_node()
            if node_id is None:
                raise BusError(f"Kafka at {self._bootstrap} has no known broker")
            # ApiVersions: the cheapest request a broker answers. A Metadata request for all
            # topics (what this did before) is decoded in pure Python: on a cluster with a
            # thousand topics it cost the service ~15% of its CPU at one probe per 5 s.
            await client.send(node_id, ApiVersionRequest())
        except KafkaError as err:
            raise BusError(f"Kafka at {self._bootstrap} is unreachable: {err}") from err

    def _require_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise BusError("Kafka bus is not started")
        return self._producer

    async def publish_batch(self, records: Sequence[OutgoingRecord]) -> None:
        producer = self._require_producer()
        # Records are packed into one batch per partition (in order) and handed over with
        # send_batch: per-record send() futures would cost more CPU than the broker round trip.
        futures: list[asyncio.Future[object]] = []
        builders: dict[tuple[str, int], BatchBuilder] = {}
        try:
            partitions_of: dict[str, list[int]] = {}
            for r in records:
                partitions = partitions_of.get(r.topic)
                if partitions is None:
                    partitions = partitions_of[r.topic] = await self._partitions(r.topic)
                partition = key_partitioner(r.key, partitions, [])
                tp = (r.topic, partition)
                builder = builders.get(tp)
                if builder is None:
                    builder = producer.create_batch()
                headers = list(r.headers)
                if (
                    builder.append(key=r.key, value=r.value, timestamp=None, headers=headers)
                    is None
                ):
                    if builder.record_count():  # full: ship it, continue in a new one
                        futures.append(
                            await producer.send_batch(builder, r.topic, partition=partition)
                        )
                    builder = producer.create_batch()
                    if (
                        builder.append(key=r.key, value=r.value, timestamp=None, headers=headers)
                        is None
                    ):
                        # bigger than a batch: send() sends it on its own, still after the above
                        futures.append(
                            await producer.send(
                                r.topic, r.value, key=r.key, headers=headers, partition=partition
                            )
                        )
                builders[tp] = builder
            for (topic, partition), builder in builders.items():
                if builder.record_count():
                    futures.append(await producer.send_batch(builder, topic, partition=partition))
            await asyncio.gather(*futures)
        except KafkaError as err:
            raise BusError(f"publishing {len(records)} record(s) failed: {err}") from err

    async def _partitions(self, topic: str) -> list[int]:
        cached = self._partition_cache.get(topic)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        partitions = sorted(await self._require_producer().partitions_for(topic))
        # partitions are only ever added; re-read now and then to notice
        self._partition_cache[topic] = (now + 30.0, partitions)
        return partitions

    async def ensure_topics(self, topics: Sequence[str]) -> None:
        missing = [t for t in dict.fromkeys(topics) if t not in self._known_topics]
        if not missing:
            return
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self._bootstrap,
            client_id=f"{self._client_id}-admin",
            **self._client_kwargs,
        )
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            to_create = [
                NewTopic(t, self._topic_partitions, self._replication_factor)
                for t in missing
                if t not in existing
            ]
            if to_create:
                await _create_topics(admin, to_create)
        except KafkaError as err:
            raise BusError(f"cannot create topics {missing}: {err}") from err
        finally:
            await admin.close()
        self._known_topics.update(missing)

    def consumer(self, topics: Sequence[str], group_id: str, *, max_records: int) -> BusConsumer:
        return KafkaConsumer(
            self._bootstrap,
            list(topics),
            group_id,
            client_id=f"{self._client_id}-consumer",
            max_records=max_records,
            max_message_bytes=self._max_message_bytes,
            client_kwargs=self._client_kwargs,
        )


async def _create_topics(admin: AIOKafkaAdminClient, topics: list[NewTopic]) -> None:
    try:
        response = await admin.create_topics(topics)
    except TopicAlreadyExistsError:
        return  # another process won the race
    for name, code, *_ in getattr(response, "topic_errors", ()):
        if code not in (0, TopicAlreadyExistsError.errno):
            raise BusError(f"creating topic {name} failed with Kafka error code {code}")


class KafkaConsumer(BusConsumer):
    """A consumer-group member backed by ``AIOKafkaConsumer``."""

    def __init__(
        self,
        bootstrap_servers: str,
        topics: list[str],
        group_id: str,
        *,
        client_id: str,
        max_records: int,
        max_message_bytes: int,
        client_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self._consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            client_id=client_id,
            # offsets are committed by hand, only after the handler's database commit
            enable_auto_commit=False,
            # a new group starts at the beginning: events published before it existed count
            auto_offset_reset="earliest",
            # one getmany() never returns more than the handler takes in one transaction
            max_poll_records=max_records,
            # large enough for an over-limit record to be fetched and dead-lettered
            max_partition_fetch_bytes=max(1024 * 1024, 2 * max_message_bytes),
            # a killed member's partitions move to a live one within ~10 s
            session_timeout_ms=10_000,
            heartbeat_interval_ms=3_000,
            **(client_kwargs or {}),
        )

    async def start(self) -> None:
        try:
            await self._consumer.start()
        except KafkaError as err:
            await self._consumer.stop()
            raise BusError(f"consumer could not join its group: {err}") from err

    async def stop(self) -> None:
        await self._consumer.stop()

    async def getmany(
        self, *, timeout_ms: int, max_records: int
    ) -> Mapping[TopicPartition, Sequence[ConsumedRecord]]:
        raw = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        return {
            TopicPartition(tp.topic, tp.partition): [
                ConsumedRecord(
                    topic=m.topic,
                    partition=m.partition,
                    offset=m.offset,
                    key=m.key,
                    value=m.value if m.value is not None else b"",
                    headers=tuple(m.headers),
                    timestamp_ms=m.timestamp,
                )
                for m in messages
            ]
            for tp, messages in raw.items()
        }

    async def lag(self) -> Mapping[TopicPartition, int]:
        lags: dict[TopicPartition, int] = {}
        for tp in self._consumer.assignment():
            end = self._consumer.highwater(tp)  # known once a fetch for tp returned
            if end is None:
                continue
            # bounded: position() waits while the group is still resetting the offset
            position = await asyncio.wait_for(self._consumer.position(tp), 1.0)
            lags[TopicPartition(tp.topic, tp.partition)] = max(0, end - position)
        return lags

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        try:
            await self._consumer.commit(
                {
                    KafkaTopicPartition(tp.topic, tp.partition): offset
                    for tp, offset in offsets.items()
                }
            )
        except CommitFailedError as err:
            raise CommitFailed(str(err)) from err
        except KafkaError as err:
            raise CommitFailed(f"commit failed: {err}") from err
