"""Event envelope details: event ids and the one-pass header decoding."""

from __future__ import annotations

import uuid

import pytest
from google.protobuf import wrappers_pb2
from ler_platform.events import Event, EventTypeRegistry
from ler_platform.events.envelope import new_event_id
from ler_platform.events.records import ConsumedRecord
from ler_platform.events.runner import PoisonMessage


def test_event_ids_are_random_version_4_uuids_in_canonical_text() -> None:
    ids = [new_event_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text  # lower-case, hyphenated: what uuid4() printed
    # every one of the 122 random bits varies (none stuck at 0 or 1 by the masking)
    values = [uuid.UUID(text).int for text in ids]
    fixed = (0xF000 << 64) | (0xC000 << 48)
    ones = zeros = 0
    for value in values:
        ones |= value
        zeros |= ~value
    assert (ones & zeros) | fixed == (1 << 128) - 1
    assert (
        Event(key="k", message=wrappers_pb2.StringValue(), source="urn:t").id
        != Event(key="k", message=wrappers_pb2.StringValue(), source="urn:t").id
    )


def _record(headers: list[tuple[str, bytes]], value: bytes = b"") -> ConsumedRecord:
    return ConsumedRecord("t", 0, 7, b"agg-1", value, tuple(headers), 0)


def test_decode_round_trips_attributes_and_keeps_only_trace_headers() -> None:
    sent = Event(
        key="agg-1",
        message=wrappers_pb2.StringValue(value="hello"),
        source="urn:src",
        subject="sub/1",
        trace_headers=(
            ("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            ("tracestate", b"v=1"),
        ),
    )
    record = sent.to_record("t")
    extra = [("x-other", b"\xff not utf-8")]
    got = EventTypeRegistry([wrappers_pb2.StringValue]).decode(
        _record([*record.headers, *extra], record.value)
    )
    assert (got.id, got.key, got.source, got.subject, got.time) == (
        sent.id,
        sent.key,
        sent.source,
        sent.subject,
        sent.time,
    )
    assert got.message == sent.message
    assert got.trace_headers == sent.trace_headers


@pytest.mark.parametrize(
    ("headers", "value", "error_type", "reason"),
    [
        ([("ce_type", b"google.protobuf.StringValue")], b"", "missing_header", "ce_id, ce_source"),
        (
            [("ce_id", b"1"), ("ce_source", b"s"), ("ce_type", b"nope.Unknown")],
            b"",
            "unknown_type",
            "unknown ce_type 'nope.Unknown'",
        ),
        (
            [("ce_id", b"1"), ("ce_source", b"s"), ("ce_type", b"google.protobuf.StringValue")],
            b"\xff\xff\xff",
            "undecodable",
            "not a valid google.protobuf.StringValue",
        ),
        (
            [
                ("ce_id", b"1"),
                ("ce_source", b"s"),
                ("ce_type", b"google.protobuf.StringValue"),
                ("ce_time", b"yesterday"),
            ],
            b"",
            "bad_header",
            "not an RFC 3339 timestamp",
        ),
    ],
)
def test_undecodable_records_are_poison_with_a_reason(
    headers: list[tuple[str, bytes]], value: bytes, error_type: str, reason: str
) -> None:
    with pytest.raises(PoisonMessage, match=reason) as raised:
        EventTypeRegistry([wrappers_pb2.StringValue]).decode(_record(headers, value))
    assert raised.value.error_type == error_type
