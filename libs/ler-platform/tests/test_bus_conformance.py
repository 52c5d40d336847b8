"""One conformance suite, run against BOTH event buses (in-process, and real Kafka marked `real`).

Each property DESIGN.md promises for "the same delivery semantics as the Kafka one":
per-key order, at-least-once redelivery, consumer groups, headers, DLQ, trace propagation.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence

import pytest
from google.protobuf import wrappers_pb2
from ler_platform.events import (
    ConsumedRecord,
    EventBus,
    EventTypeRegistry,
    OutgoingRecord,
    PoisonMessage,
    Rejection,
    RunnerOptions,
    dlq_topic,
    each_record,
)
from ler_platform.events.envelope import Event
from ler_platform.tracing import producer_span, tracer
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from platform_helpers import drain, poll_until, read_records, unique

pytestmark = pytest.mark.timeout(120)


def _records(topic: str, keys: int, per_key: int) -> list[OutgoingRecord]:
    return [
        OutgoingRecord(topic, f"key-{k}".encode(), f"{k}:{i}".encode(), (("seq", str(i).encode()),))
        for i in range(per_key)
        for k in range(keys)
    ]


async def test_per_key_order_is_preserved(bus: EventBus) -> None:
    topic = unique("order")
    await bus.ensure_topics([topic])
    records = _records(topic, keys=7, per_key=40)
    for start in range(0, len(records), 50):  # several batches, as a relay would send them
        await bus.publish_batch(records[start : start + 50])

    got = await read_records(bus, [topic], unique("g"), len(records))

    by_key: dict[bytes | None, list[int]] = defaultdict(list)
    for record in got:
        by_key[record.key].append(int(record.value.split(b":")[1]))
    assert len(by_key) == 7
    assert all(seq == list(range(40)) for seq in by_key.values()), by_key
    # one key always lands on one partition
    partitions: dict[bytes | None, set[int]] = defaultdict(set)
    for record in got:
        partitions[record.key].add(record.partition)
    assert all(len(p) == 1 for p in partitions.values())


async def test_uncommitted_records_are_redelivered_to_the_group(bus: EventBus) -> None:
    topic, group = unique("redeliver"), unique("g")
    await bus.ensure_topics([topic])
    records = _records(topic, keys=3, per_key=10)
    await bus.publish_batch(records)

    first = bus.consumer([topic], group, max_records=500)
    await first.start()
    seen = await drain(first, len(records), within=30, commit=False)
    # commit only the first half of each partition, then "crash" (stop without committing more)
    per_partition: dict[int, list[ConsumedRecord]] = defaultdict(list)
    for record in seen:
        per_partition[record.partition].append(record)
    committed = {}
    for batch in per_partition.values():
        half = batch[len(batch) // 2]
        committed[half.topic_partition] = half.offset
    await first.commit(committed)
    await first.stop()
    expected_again = {
        (r.partition, r.offset) for r in seen if r.offset >= committed[r.topic_partition]
    }

    second_run = await read_records(bus, [topic], group, len(expected_again))

    assert {(r.partition, r.offset) for r in second_run} == expected_again


async def test_each_consumer_group_sees_every_record(bus: EventBus) -> None:
    topic = unique("groups")
    await bus.ensure_topics([topic])
    records = _records(topic, keys=5, per_key=6)
    await bus.publish_batch(records)

    a, b = await asyncio.gather(
        read_records(bus, [topic], unique("ga"), len(records)),
        read_records(bus, [topic], unique("gb"), len(records)),
    )

    assert sorted(r.value for r in a) == sorted(r.value for r in records)
    assert sorted(r.value for r in b) == sorted(r.value for r in records)


async def test_members_of_one_group_share_the_partitions(bus: EventBus) -> None:
    topic, group = unique("share"), unique("g")
    await bus.ensure_topics([topic])
    records = _records(topic, keys=12, per_key=5)
    await bus.publish_batch(records)
    one, two = (
        bus.consumer([topic], group, max_records=500),
        bus.consumer([topic], group, max_records=500),
    )
    await asyncio.gather(one.start(), two.start())
    try:
        got: list[ConsumedRecord] = []

        async def read_both() -> int:
            for consumer in (one, two):
                batches = await consumer.getmany(timeout_ms=100, max_records=500)
                for tp, batch in batches.items():
                    got.extend(batch)
                    await consumer.commit({tp: batch[-1].offset + 1})
            return len(got)

        await poll_until(
            read_both, lambda n: n >= len(records), within=60, what="both members to read"
        )
    finally:
        await asyncio.gather(one.stop(), two.stop())
    # exactly once each, although two members read (no rebalance happened after the start)
    assert sorted(r.value for r in got) == sorted(r.value for r in records)


async def test_headers_round_trip(bus: EventBus) -> None:
    topic = unique("headers")
    await bus.ensure_topics([topic])
    event = Event(
        key="agg-1",
        message=wrappers_pb2.StringValue(value="hello"),
        source="urn:test",
        subject="s-1",
    )
    record = event.to_record(topic)
    binary = ("x-binary", bytes(range(256)))
    await bus.publish_batch(
        [OutgoingRecord(topic, record.key, record.value, (*record.headers, binary))]
    )

    [got] = await read_records(bus, [topic], unique("g"), 1)

    assert got.key == b"agg-1"
    assert got.header("x-binary") == bytes(range(256))
    decoded = EventTypeRegistry([wrappers_pb2.StringValue]).decode(got)
    assert decoded.id == event.id
    assert decoded.type == "google.protobuf.StringValue"
    assert decoded.source == "urn:test"
    assert decoded.subject == "s-1"
    assert decoded.time == event.time
    assert decoded.message == wrappers_pb2.StringValue(value="hello")
    assert got.header("ce_specversion") == b"1.0"
    assert got.header("content-type") == b"application/protobuf"


async def test_failing_and_poison_records_go_to_the_dlq_and_the_partition_keeps_flowing(
    bus: EventBus,
) -> None:
    topic, group = unique("dlq"), unique("g")
    await bus.ensure_topics([topic, dlq_topic(topic)])
    # one key → one partition: bad records sit in front of good ones
    values = [b"ok-0", b"fail", b"ok-1", b"poison", b"x" * 5000, b"ok-2"]
    await bus.publish_batch([OutgoingRecord(topic, b"same-key", v) for v in values])
    attempts: dict[bytes, int] = defaultdict(int)
    handled: list[bytes] = []

    async def handler(records: Sequence[ConsumedRecord]) -> Sequence[Rejection]:
        for record in records:
            attempts[record.value] += 1
            if record.value == b"fail":
                raise RuntimeError("simulated handler failure")
            if record.value == b"poison":
                raise PoisonMessage("cannot decode", error_type="undecodable")
        handled.extend(r.value for r in records)
        return []

    options = RunnerOptions(max_retries=2, backoff_seconds=0.01, max_message_bytes=4096)
    runner = bus.subscribe([topic], group, handler, options)
    await runner.start()
    try:
        dead = await read_records(bus, [dlq_topic(topic)], unique("dlq-reader"), 3, within=60)
        await poll_until(
            lambda: asyncio.sleep(0, len(set(handled))),
            lambda n: n >= 3,
            within=30,
            what="good records",
        )
    finally:
        await runner.stop()

    assert {b"ok-0", b"ok-1", b"ok-2"} <= set(handled)
    assert attempts[b"fail"] == 1 + 1 + 2  # once in the batch, then 1 + max_retries alone
    assert attempts[b"poison"] <= 2  # in the batch, then once alone: no retries
    assert b"x" * 5000 not in attempts  # over the size limit: never handed to the handler
    by_value = {r.value: r for r in dead}
    fail = by_value[b"fail"]
    assert fail.header("ler_error_type") == b"RuntimeError"
    assert b"simulated handler failure" in (fail.header("ler_error") or b"")
    assert by_value[b"poison"].header("ler_error") == b"cannot decode"
    big = by_value[b"x" * 5000]
    assert big.header("ler_error_type") == b"message_too_large"
    assert b"5000 bytes, over the 4096-byte limit" in (big.header("ler_error") or b"")
    assert big.header("ler_original_topic") == topic.encode()
    assert big.key == b"same-key"
    assert int(big.header("ler_original_offset") or b"-1") >= 0
    # everything was committed: the group does not see these records again
    again = bus.consumer([topic], group, max_records=500)
    await again.start()
    try:
        leftover = await again.getmany(timeout_ms=1500, max_records=500)
    finally:
        await again.stop()
    assert not any(leftover.values())


async def test_trace_continues_from_producer_to_consumer(
    bus: EventBus, spans: InMemorySpanExporter
) -> None:
    topic, group = unique("trace"), unique("g")
    await bus.ensure_topics([topic])
    with tracer().start_as_current_span("request") as request_span:
        headers: list[tuple[str, bytes]] = []
        with producer_span(topic, headers, key="k"):
            await bus.publish(topic, b"k", b"v", headers)
    trace_id = request_span.get_span_context().trace_id
    seen_trace_ids: list[int] = []

    async def handle(record: ConsumedRecord) -> None:
        from opentelemetry import trace

        seen_trace_ids.append(trace.get_current_span().get_span_context().trace_id)

    runner = bus.subscribe([topic], group, each_record(handle, group))
    await runner.start()
    try:
        await poll_until(
            lambda: asyncio.sleep(0, len(seen_trace_ids)), bool, within=60, what="the record"
        )
    finally:
        await runner.stop()

    assert seen_trace_ids == [trace_id]
    finished = {s.name: s for s in spans.get_finished_spans()}
    publish, process = finished[f"{topic} publish"], finished[f"{topic} process"]
    assert publish.kind == SpanKind.PRODUCER and process.kind == SpanKind.CONSUMER
    assert process.context.trace_id == trace_id
    assert process.parent is not None and process.parent.span_id == publish.context.span_id
