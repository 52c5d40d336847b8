"""In-process bus specifics beyond the shared conformance suite: bounded memory."""

from __future__ import annotations

import asyncio

import pytest
from ler_platform.events import BusError, OutgoingRecord, TopicPartition
from ler_platform.events.inprocess import InProcessBus
from platform_helpers import drain

pytestmark = pytest.mark.timeout(30)


def _records(n: int, start: int = 0) -> list[OutgoingRecord]:
    return [OutgoingRecord("t", b"k", str(i).encode()) for i in range(start, start + n)]


async def test_committed_records_are_freed_and_a_lagging_live_group_holds_back_publishers() -> None:
    bus = InProcessBus(partitions=1, max_records_per_partition=5)
    await bus.start()
    consumer = bus.consumer(["t"], "g", max_records=10)
    await consumer.start()
    await bus.publish_batch(_records(5))
    blocked = asyncio.create_task(bus.publish_batch(_records(1, start=5)))
    await asyncio.sleep(0.1)
    assert not blocked.done()  # full, and group "g" has not read the oldest record yet
    got = await drain(consumer, 5, within=5)  # commits as it reads
    await asyncio.wait_for(blocked, 5)
    got += await drain(consumer, 1, within=5)
    assert [r.value for r in got] == [str(i).encode() for i in range(6)]
    await consumer.stop()
    await bus.stop()


async def test_without_a_live_member_the_oldest_records_are_dropped_like_kafka_retention() -> None:
    bus = InProcessBus(partitions=1, max_records_per_partition=3)
    await bus.start()
    consumer = bus.consumer(["t"], "g", max_records=10)
    await consumer.start()
    await consumer.stop()  # the group exists but nobody runs it
    await asyncio.wait_for(bus.publish_batch(_records(5)), 5)  # never blocks
    again = bus.consumer(["t"], "g", max_records=10)
    await again.start()
    got = await drain(again, 3, within=5)
    assert [r.value for r in got] == [b"2", b"3", b"4"]
    assert got[0].topic_partition == TopicPartition("t", 0) and got[0].offset == 2
    await again.stop()
    await bus.stop()


async def test_a_stopped_bus_refuses_to_publish() -> None:
    bus = InProcessBus()
    with pytest.raises(BusError, match="not running"):
        await bus.publish_batch(_records(1))
