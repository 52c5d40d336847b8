"""CloudEvents ``ce_type`` -> protobuf event message class, and decoding by ``ce_type``.

An event's ``ce_type`` is its message's protobuf full name (``ler.issuance.v1.CredentialIssued``);
the registry knows every event message of every topic in ``ler_proto.events``.

>>> from ler.issuance.v1.events_pb2 import CredentialIssued
>>> payload = CredentialIssued(credential_id="urn:uuid:1").SerializeToString()
>>> decode("ler.issuance.v1.CredentialIssued", payload).credential_id
'urn:uuid:1'
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from google.protobuf.message import DecodeError, Message

from ler_proto.errors import EventDecodeError, UnknownEventType
from ler_proto.events import ALL_TOPICS
from ler_proto.topics import Topic, event_type


class EventRegistry(Mapping[str, type[Message]]):
    """A read-only mapping of ``ce_type`` to event message class."""

    def __init__(self, message_classes: Iterable[type[Message]]) -> None:
        self._classes: dict[str, type[Message]] = {}
        for cls in message_classes:
            self._classes[event_type(cls)] = cls

    @classmethod
    def from_topics(cls, topics: Iterable[Topic]) -> EventRegistry:
        """A registry of every event type carried by ``topics``."""
        return cls(message_class for topic in topics for message_class in topic.event_types)

    def __getitem__(self, ce_type: str) -> type[Message]:
        return self.message_class(ce_type)

    def __iter__(self) -> Iterator[str]:
        return iter(self._classes)

    def __len__(self) -> int:
        return len(self._classes)

    def __contains__(self, ce_type: object) -> bool:
        return ce_type in self._classes

    def message_class(self, ce_type: str) -> type[Message]:
        """The message class of ``ce_type``; raises ``UnknownEventType`` if none is registered."""
        try:
            return self._classes[ce_type]
        except KeyError:
            raise UnknownEventType(ce_type, sorted(self._classes)) from None

    def decode(self, ce_type: str, payload: bytes) -> Message:
        """Parse ``payload`` as the message ``ce_type`` names.

        Raises ``UnknownEventType`` for an unregistered ``ce_type`` and ``EventDecodeError`` when
        the bytes are not a valid encoding of that message.
        """
        message = self.message_class(ce_type)()
        try:
            message.ParseFromString(payload)
        except DecodeError as err:
            raise EventDecodeError(ce_type, len(payload), str(err)) from err
        return message


REGISTRY = EventRegistry.from_topics(ALL_TOPICS)
"""Every event type of the system."""


def message_class(ce_type: str) -> type[Message]:
    """The message class of ``ce_type`` in the system registry (``UnknownEventType`` if none)."""
    return REGISTRY.message_class(ce_type)


def decode(ce_type: str, payload: bytes) -> Message:
    """Decode ``payload`` as the event ``ce_type`` names, using the system registry."""
    return REGISTRY.decode(ce_type, payload)


__all__ = ["REGISTRY", "EventRegistry", "decode", "event_type", "message_class"]
