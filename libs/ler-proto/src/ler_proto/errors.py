"""Errors of the ler_proto library."""

from __future__ import annotations


class LerProtoError(Exception):
    """Base class of every error raised by ler_proto."""


class UnknownEventType(LerProtoError):
    """A ``ce_type`` names no registered event message."""

    def __init__(self, ce_type: str, known: list[str]) -> None:
        self.ce_type = ce_type
        shown = ", ".join(known) if known else "none"
        super().__init__(
            f"unknown event type {ce_type!r}: no event message is registered for it"
            f" (known: {shown})"
        )


class EventDecodeError(LerProtoError):
    """A payload is not a valid encoding of the message its ``ce_type`` names."""

    def __init__(self, ce_type: str, size: int, detail: str) -> None:
        self.ce_type = ce_type
        super().__init__(f"payload of {size} bytes is not a valid {ce_type} message: {detail}")


class WrongTopic(LerProtoError):
    """An event message was offered to a topic that does not carry its type."""

    def __init__(self, topic: str, ce_type: str, allowed: list[str]) -> None:
        self.topic = topic
        self.ce_type = ce_type
        super().__init__(
            f"{ce_type} does not go on topic {topic!r} (it carries: {', '.join(allowed)})"
        )


class MissingEventKey(LerProtoError):
    """An event lacks a field its topic's record key is made of."""

    def __init__(self, topic: str, ce_type: str, field_path: str) -> None:
        self.topic = topic
        self.ce_type = ce_type
        self.field_path = field_path
        super().__init__(
            f"{ce_type} for topic {topic!r} has an empty {field_path!r}, which its record key needs"
        )
