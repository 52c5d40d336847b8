"""An event bus inside one event loop with Kafka's delivery semantics (embedded mode).

* Topics are created on first use with ``partitions`` partitions; a record's partition is
  a stable hash of its key (keyless records go round-robin), so one key stays in order.
* Each consumer group has its own committed offset per partition and reads every record;
  members of one group share the partitions (re-balanced when a member joins or leaves,
  each taking over at the committed offset), so a restarted or replaced member re-reads
  whatever was read but not committed — at-least-once, as with Kafka.
* Memory is bounded: records every interested group has committed are dropped; beyond
  ``max_records_per_partition`` a publisher waits while a group with a live member still
  has to read the oldest record (backpressure), otherwise the oldest record is dropped
  (retention, as Kafka does for a group nobody runs).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import zlib
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ler_platform.events.bus import BusConsumer, EventBus
from ler_platform.events.records import (
    BusError,
    CommitFailed,
    ConsumedRecord,
    OutgoingRecord,
    TopicPartition,
)

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Partition:
    records: deque[ConsumedRecord] = field(default_factory=deque)
    base_offset: int = 0  # offset of records[0]
    end_offset: int = 0  # offset the next record gets


@dataclass(slots=True)
class _Group:
    group_id: str
    committed: dict[TopicPartition, int] = field(default_factory=dict)
    members: list[InProcessConsumer] = field(default_factory=list)
    topics: set[str] = field(default_factory=set)


class InProcessBus(EventBus):
    """See the module docstring."""

    def __init__(self, *, partitions: int = 4, max_records_per_partition: int = 10_000) -> None:
        if partitions < 1 or max_records_per_partition < 1:
            raise ValueError("partitions and max_records_per_partition must be at least 1")
        self._partitions = partitions
        self._cap = max_records_per_partition
        self._topics: dict[str, list[_Partition]] = {}
        self._groups: dict[str, _Group] = {}
        self._round_robin = itertools.count()
        self._changed = asyncio.Condition()
        self._member_ids = itertools.count()
        self._running = False

    async def start(self) -> None:
        self._running = True

    async def stop(self) -> None:
        self._running = False
        async with self._changed:
            self._changed.notify_all()

    async def ping(self) -> None:
        if not self._running:
            raise BusError("in-process bus is not running")

    def partition_for(self, topic: str, key: bytes | None) -> int:
        """The partition a record with ``key`` goes to."""
        count = len(self._topic(topic))
        if key is None:
            return next(self._round_robin) % count
        return zlib.crc32(key) % count

    def _topic(self, name: str) -> list[_Partition]:
        partitions = self._topics.get(name)
        if partitions is None:
            partitions = [_Partition() for _ in range(self._partitions)]
            self._topics[name] = partitions
        return partitions

    async def publish_batch(self, records: Sequence[OutgoingRecord]) -> None:
        if not self._running:
            raise BusError("in-process bus is not running")
        async with self._changed:
            for record in records:
                partition_no = self.partition_for(record.topic, record.key)
                partition = self._topic(record.topic)[partition_no]
                tp = TopicPartition(record.topic, partition_no)
                while not self._make_room(tp, partition):
                    await self._changed.wait()
                    if not self._running:
                        raise BusError("in-process bus stopped while waiting for room")
                partition.records.append(
                    ConsumedRecord(
                        topic=record.topic,
                        partition=partition_no,
                        offset=partition.end_offset,
                        key=record.key,
                        value=record.value,
                        headers=tuple(record.headers),
                        timestamp_ms=int(time.time() * 1000),
                    )
                )
                partition.end_offset += 1
            self._changed.notify_all()

    def _make_room(self, tp: TopicPartition, partition: _Partition) -> bool:
        self._trim(tp, partition)
        if len(partition.records) < self._cap:
            return True
        if any(
            g.members and g.committed.get(tp, 0) <= partition.base_offset
            for g in self._groups.values()
            if tp.topic in g.topics
        ):
            return False  # a live group still needs the oldest record: wait for it
        dropped = partition.records.popleft()
        partition.base_offset = dropped.offset + 1
        log.warning(
            "in-process bus retention dropped %s[%d]@%d", tp.topic, tp.partition, dropped.offset
        )
        return True

    def _trim(self, tp: TopicPartition, partition: _Partition) -> None:
        interested = [g for g in self._groups.values() if tp.topic in g.topics]
        if not interested:
            return
        low = min(g.committed.get(tp, 0) for g in interested)
        while partition.records and partition.base_offset < low:
            partition.records.popleft()
            partition.base_offset += 1

    def consumer(self, topics: Sequence[str], group_id: str, *, max_records: int) -> BusConsumer:
        return InProcessConsumer(self, list(topics), group_id, next(self._member_ids))

    # --- group coordination (called by InProcessConsumer) ---

    def _join(self, member: InProcessConsumer) -> None:
        group = self._groups.setdefault(member.group_id, _Group(member.group_id))
        group.topics.update(member.topics)
        group.members.append(member)
        self._rebalance(group)

    def _leave(self, member: InProcessConsumer) -> None:
        group = self._groups.get(member.group_id)
        if group is not None and member in group.members:
            group.members.remove(member)
            self._rebalance(group)

    def _rebalance(self, group: _Group) -> None:
        """Eager rebalance: every member restarts its partitions at the committed offsets."""
        assignments: dict[int, list[TopicPartition]] = {m.member_id: [] for m in group.members}
        for topic in sorted(group.topics):
            members = sorted(
                (m for m in group.members if topic in m.topics), key=lambda m: m.member_id
            )
            if not members:
                continue
            for partition_no in range(len(self._topic(topic))):
                owner = members[partition_no % len(members)]
                assignments[owner.member_id].append(TopicPartition(topic, partition_no))
        for member in group.members:
            member._assign({tp: group.committed.get(tp, 0) for tp in assignments[member.member_id]})

    def _lag(self, member: InProcessConsumer) -> dict[TopicPartition, int]:
        lags: dict[TopicPartition, int] = {}
        for tp, position in member.positions.items():
            partitions = self._topics.get(tp.topic)
            if partitions is not None and tp.partition < len(partitions):
                lags[tp] = max(0, partitions[tp.partition].end_offset - position)
        return lags

    def _commit(self, member: InProcessConsumer, offsets: Mapping[TopicPartition, int]) -> None:
        group = self._groups[member.group_id]
        for tp in offsets:
            if tp not in member.positions:
                raise CommitFailed(
                    f"{tp.topic}[{tp.partition}] is no longer assigned to this member"
                )
        for tp, offset in offsets.items():
            group.committed[tp] = max(offset, group.committed.get(tp, 0))

    def _fetch(
        self, member: InProcessConsumer, max_records: int
    ) -> dict[TopicPartition, list[ConsumedRecord]]:
        result: dict[TopicPartition, list[ConsumedRecord]] = {}
        budget = max_records
        for tp, position in list(member.positions.items()):
            if budget <= 0:
                break
            partition = self._topic(tp.topic)[tp.partition]
            if position < partition.base_offset:
                log.warning(
                    "%s[%d]: offsets %d..%d were dropped by retention",
                    tp.topic,
                    tp.partition,
                    position,
                    partition.base_offset - 1,
                )
                position = partition.base_offset
            start = position - partition.base_offset
            stop = min(len(partition.records), start + budget)
            if start >= stop:
                continue
            batch = [partition.records[i] for i in range(start, stop)]
            result[tp] = batch
            member.positions[tp] = batch[-1].offset + 1
            budget -= len(batch)
        return result


class InProcessConsumer(BusConsumer):
    """A consumer-group member on an ``InProcessBus``."""

    def __init__(self, bus: InProcessBus, topics: list[str], group_id: str, member_id: int) -> None:
        self._bus = bus
        self.topics = topics
        self.group_id = group_id
        self.member_id = member_id
        self.positions: dict[TopicPartition, int] = {}
        self._started = False

    def _assign(self, positions: dict[TopicPartition, int]) -> None:
        self.positions = positions

    async def start(self) -> None:
        async with self._bus._changed:
            self._bus._join(self)
            self._started = True
            self._bus._changed.notify_all()

    async def stop(self) -> None:
        async with self._bus._changed:
            if self._started:
                self._bus._leave(self)
                self._started = False
            self.positions = {}
            self._bus._changed.notify_all()

    async def getmany(
        self, *, timeout_ms: int, max_records: int
    ) -> Mapping[TopicPartition, Sequence[ConsumedRecord]]:
        if not self._started:
            raise BusError("consumer is not started")
        deadline = asyncio.get_running_loop().time() + timeout_ms / 1000
        async with self._bus._changed:
            while True:
                batch = self._bus._fetch(self, max_records)
                remaining = deadline - asyncio.get_running_loop().time()
                if batch or remaining <= 0 or not self._started:
                    return batch
                try:
                    await asyncio.wait_for(self._bus._changed.wait(), timeout=remaining)
                except TimeoutError:
                    return {}

    async def lag(self) -> Mapping[TopicPartition, int]:
        return self._bus._lag(self)

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        async with self._bus._changed:
            self._bus._commit(self, offsets)
            # committed records may now be trimmed: wake publishers waiting for room
            self._bus._changed.notify_all()
