"""What a Kafka topic carries and how its records are keyed.

The key is the aggregate id, so that one aggregate's events land on one partition and stay in
order (DESIGN.md "Contracts"). Keys are built here from the event's own fields, never assembled
at call sites.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import Message

from ler_proto.errors import MissingEventKey, WrongTopic

DLQ_SUFFIX = ".dlq"
KEY_SEPARATOR = ":"


def event_type(message: Message | type[Message]) -> str:
    """The CloudEvents ``type`` of an event: its protobuf full name.

    >>> from ler.issuance.v1.events_pb2 import CredentialIssued
    >>> event_type(CredentialIssued)
    'ler.issuance.v1.CredentialIssued'
    """
    return str(message.DESCRIPTOR.full_name)


def dead_letter_topic(topic: str) -> str:
    """The dead-letter topic where poison records of ``topic`` go, e.g. ``ler.x.v1.dlq``."""
    return topic + DLQ_SUFFIX


@dataclass(frozen=True, slots=True)
class Topic:
    """A Kafka topic: its name, the event messages it carries and the fields of its key.

    ``key_fields`` are dotted field paths into the event message (``"spec.record_id"``); the
    record key is their values joined with ``":"``. Every event type of the topic has them. A
    key field may name alternatives, ``"spec.record_id|clr.record_id"``: the first non-empty one
    is the value (a request carries either a single achievement or a transcript).
    """

    name: str
    event_types: tuple[type[Message], ...]
    key_fields: tuple[str, ...]
    description: str = ""

    @property
    def ce_types(self) -> frozenset[str]:
        """The ``ce_type`` of every event this topic carries."""
        return frozenset(event_type(cls) for cls in self.event_types)

    def carries(self, message: Message | type[Message]) -> bool:
        """Whether events of this message type go on this topic."""
        return event_type(message) in self.ce_types

    def key_for(self, message: Message) -> str:
        """The record key for ``message`` on this topic.

        Raises ``WrongTopic`` if the message type does not go on this topic, and
        ``MissingEventKey`` if a key field is empty.
        """
        ce_type = event_type(message)
        if ce_type not in self.ce_types:
            raise WrongTopic(self.name, ce_type, sorted(self.ce_types))
        parts = []
        for path in self.key_fields:
            value = next((v for v in (_field_value(message, p) for p in path.split("|")) if v), "")
            if not value:
                raise MissingEventKey(self.name, ce_type, path)
            parts.append(value)
        return KEY_SEPARATOR.join(parts)


def _field_value(message: Message, path: str) -> str:
    """The string value at a dotted field path (e.g. ``"spec.record_id"``)."""
    value: object = message
    for name in path.split("."):
        value = getattr(value, name)
    return str(value)
