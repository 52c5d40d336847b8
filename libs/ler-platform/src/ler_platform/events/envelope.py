"""Events on the wire: a protobuf message as the Kafka value, CloudEvents attributes as headers.

Binary content mode of the CloudEvents Kafka protocol binding (§3.2): every context
attribute travels as a header named ``ce_<attribute>``, ``datacontenttype`` as
``content-type``. The key is the aggregate id so one aggregate's events stay in order
(DESIGN.md "Contracts"). W3C ``traceparent``/``tracestate`` ride along as headers too.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, TypeVar

from google.protobuf.message import DecodeError, Message

from ler_platform.events.records import ConsumedRecord, Headers, OutgoingRecord
from ler_platform.events.runner import PoisonMessage

M = TypeVar("M", bound=Message)

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/protobuf"
H_ID, H_TYPE, H_SOURCE, H_SUBJECT, H_TIME, H_SPECVERSION, H_CONTENT_TYPE = (
    "ce_id",
    "ce_type",
    "ce_source",
    "ce_subject",
    "ce_time",
    "ce_specversion",
    "content-type",
)
TRACE_HEADERS = ("traceparent", "tracestate")
_SPEC_VERSION_BYTES = SPEC_VERSION.encode()
_CONTENT_TYPE_BYTES = CONTENT_TYPE.encode()


# RFC 9562 §5.4 (UUIDv4): version bits 0100 and variant bits 10 over 122 random bits
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_event_id() -> str:
    """A random UUID (version 4) string, the CloudEvents ``id`` of a new event.

    Same randomness (``os.urandom``) and text as ``str(uuid.uuid4())`` without building a
    ``UUID`` object, which cost more than the rest of staging an event in the outbox.
    """
    digits = f"{(int.from_bytes(os.urandom(16)) & _UUID4_CLEAR) | _UUID4_SET:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def rfc3339(moment: datetime) -> str:
    """``moment`` as an RFC 3339 UTC timestamp with microseconds (CloudEvents ``time``)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def event_type(message: Message | type[Message]) -> str:
    """The CloudEvents ``type`` of a message: its protobuf full name.

    For example ``ler.issuance.v1.CredentialIssued``.
    """
    return message.DESCRIPTOR.full_name


def cloud_event_headers(
    ce_id: str,
    ce_type: str,
    source: str,
    time: str,
    subject: str | None,
    traceparent: str | None,
    tracestate: str | None,
) -> list[tuple[str, bytes]]:
    """Kafka headers for the CloudEvents attributes (binary mode, §3.2) and trace context."""
    headers = [
        (H_ID, ce_id.encode()),
        (H_TYPE, ce_type.encode()),
        (H_SOURCE, source.encode()),
        (H_SPECVERSION, _SPEC_VERSION_BYTES),
        (H_TIME, time.encode()),
        (H_CONTENT_TYPE, _CONTENT_TYPE_BYTES),
    ]
    if subject:
        headers.append((H_SUBJECT, subject.encode()))
    if traceparent:
        headers.append(("traceparent", traceparent.encode()))
    if tracestate:
        headers.append(("tracestate", tracestate.encode()))
    return headers


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


@dataclass(frozen=True, slots=True)
class Event(Generic[M]):
    """One event: its aggregate key, protobuf payload and CloudEvents attributes."""

    key: str
    message: M
    source: str
    subject: str | None = None
    id: str = field(default_factory=new_event_id)
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    trace_headers: Headers = ()

    @property
    def type(self) -> str:
        """``ce_type``: the message's protobuf full name."""
        return event_type(self.message)

    def headers(self) -> list[tuple[str, bytes]]:
        """The Kafka headers carrying this event's attributes (and trace context)."""
        trace = dict(self.trace_headers)
        return cloud_event_headers(
            self.id,
            self.type,
            self.source,
            rfc3339(self.time),
            self.subject,
            _text(trace.get("traceparent")),
            _text(trace.get("tracestate")),
        )

    def to_record(self, topic: str) -> OutgoingRecord:
        """The record to publish on ``topic``."""
        return OutgoingRecord(
            topic, self.key.encode(), self.message.SerializeToString(), tuple(self.headers())
        )


class EventTypeRegistry:
    """Maps ``ce_type`` to the protobuf class that decodes it (supplied by each consumer)."""

    def __init__(self, message_classes: Iterable[type[Message]] = ()) -> None:
        self._classes: dict[str, type[Message]] = {}
        for cls in message_classes:
            self.register(cls)

    def register(self, message_class: type[Message]) -> None:
        """Accept events of ``message_class``."""
        self._classes[event_type(message_class)] = message_class

    def __contains__(self, ce_type: str) -> bool:
        return ce_type in self._classes

    def decode(self, record: ConsumedRecord) -> Event[Message]:
        """Decode a record into an ``Event``.

        Raises ``PoisonMessage`` with a reason a person can read when it cannot be decoded.
        """
        # one pass over the headers: the CloudEvents attributes decoded, the trace context
        # kept as bytes for the consumer span (this runs once per consumed event)
        headers: dict[str, str] = {}
        trace_headers: list[tuple[str, bytes]] = []
        for name, value in record.headers:
            if name in TRACE_HEADERS:
                trace_headers.append((name, value))
            headers[name] = value.decode("utf-8", errors="replace")
        missing = [h for h in (H_ID, H_TYPE, H_SOURCE) if h not in headers]
        if missing:
            raise PoisonMessage(
                f"required CloudEvents header(s) missing: {', '.join(missing)}",
                error_type="missing_header",
            )
        ce_type = headers[H_TYPE]
        cls = self._classes.get(ce_type)
        if cls is None:
            known = ", ".join(sorted(self._classes)) or "none"
            raise PoisonMessage(
                f"unknown ce_type {ce_type!r}: no decoder is registered for it (known: {known})",
                error_type="unknown_type",
            )
        try:
            message = cls.FromString(record.value)
        except DecodeError as err:
            raise PoisonMessage(
                f"value is not a valid {ce_type} protobuf message"
                f" ({len(record.value)} bytes): {err}",
                error_type="undecodable",
            ) from err
        try:
            time = _parse_time(headers.get(H_TIME))
        except ValueError as err:
            raise PoisonMessage(
                f"ce_time {headers.get(H_TIME)!r} is not an RFC 3339 timestamp",
                error_type="bad_header",
            ) from err
        if record.key is None:
            raise PoisonMessage("record has no key (the aggregate id)", error_type="missing_key")
        return Event(
            key=record.key.decode(errors="replace"),
            message=message,
            source=headers[H_SOURCE],
            subject=headers.get(H_SUBJECT),
            id=headers[H_ID],
            time=time,
            trace_headers=tuple(trace_headers),
        )


def _parse_time(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
