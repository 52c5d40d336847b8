"""Topics, record keys and the ce_type registry of ler_proto."""

from __future__ import annotations

import re
from typing import Any

import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from ler.intake.v1.events_pb2 import ApplicationSubmitted
from ler.issuance.v1.events_pb2 import ClrSpec, CredentialIssued, IssuanceRequested
from ler.issuance.v1.resources_pb2 import CredentialSpec
from ler.wallet.v1.events_pb2 import ConsentChanged
from ler_proto import registry
from ler_proto.errors import (
    EventDecodeError,
    LerProtoError,
    MissingEventKey,
    UnknownEventType,
    WrongTopic,
)
from ler_proto.events import ALL_TOPICS, intake, issuance, verification, wallet
from ler_proto.topics import Topic, dead_letter_topic, event_type

# The topics DESIGN.md names, and the events the contracts define for them.
EXPECTED_TOPICS = {
    "ler.issuance.requests.v1": {"ler.issuance.v1.IssuanceRequested"},
    "ler.issuance.requests.v1.dlq": {"ler.issuance.v1.IssuanceRequested"},
    "ler.issuance.results.v1": {"ler.issuance.v1.IssuanceRequestResult"},
    "ler.credentials.issued.v1": {"ler.issuance.v1.CredentialIssued"},
    "ler.credentials.status.v1": {"ler.issuance.v1.CredentialStatusChanged"},
    "ler.wallet.events.v1": {
        "ler.wallet.v1.CredentialStored",
        "ler.wallet.v1.CredentialShared",
        "ler.wallet.v1.ShareLinkAccessed",
        "ler.wallet.v1.ConsentChanged",
        "ler.wallet.v1.AccountDeleted",
    },
    "ler.verifications.v1": {"ler.verification.v1.VerificationCompleted"},
    "ler.applications.v1": {
        "ler.intake.v1.ApplicationSubmitted",
        "ler.intake.v1.ApplicationVerified",
        "ler.intake.v1.ApplicationFlagged",
        "ler.intake.v1.OutcomeRecorded",
    },
}


def test_topics_and_their_events_are_as_designed() -> None:
    assert {t.name: set(t.ce_types) for t in ALL_TOPICS} == EXPECTED_TOPICS


def test_topic_name_constants() -> None:
    assert issuance.ISSUANCE_REQUESTS_TOPIC == "ler.issuance.requests.v1"
    assert issuance.ISSUANCE_REQUESTS_DLQ_TOPIC == "ler.issuance.requests.v1.dlq"
    assert issuance.ISSUANCE_RESULTS_TOPIC == "ler.issuance.results.v1"
    assert issuance.CREDENTIALS_ISSUED_TOPIC == "ler.credentials.issued.v1"
    assert issuance.CREDENTIALS_STATUS_TOPIC == "ler.credentials.status.v1"
    assert wallet.WALLET_EVENTS_TOPIC == "ler.wallet.events.v1"
    assert verification.VERIFICATIONS_TOPIC == "ler.verifications.v1"
    assert intake.APPLICATIONS_TOPIC == "ler.applications.v1"
    assert dead_letter_topic("ler.applications.v1") == "ler.applications.v1.dlq"


def test_every_event_comes_from_its_contexts_events_proto() -> None:
    for topic in ALL_TOPICS:
        for cls in topic.event_types:
            file_name = cls.DESCRIPTOR.file.name
            assert re.fullmatch(r"ler/[a-z]+/v1/events\.proto", file_name), (topic.name, file_name)


def _field(message: type[Message], path: str) -> Any:
    """The field descriptor at a dotted path of ``message``."""
    descriptor: Any = message.DESCRIPTOR
    field: Any = None
    for name in path.split("."):
        field = descriptor.fields_by_name[name]
        descriptor = field.message_type
    return field


@pytest.mark.parametrize("topic", ALL_TOPICS, ids=lambda t: t.name)
def test_key_fields_are_singular_strings_of_every_event(topic: Topic) -> None:
    for cls in topic.event_types:
        for alternatives in topic.key_fields:
            for path in alternatives.split("|"):
                field = _field(cls, path)
                assert field.type == FieldDescriptor.TYPE_STRING, (cls, path)
                assert not field.is_repeated, (cls, path)


def test_key_is_built_from_the_aggregate_fields() -> None:
    request = IssuanceRequested(issuer_id="iss_1", spec=CredentialSpec(record_id="r-9"))
    assert issuance.ISSUANCE_REQUESTS.key_for(request) == "iss_1:r-9"
    transcript = IssuanceRequested(issuer_id="iss_1", clr=ClrSpec(record_id="t-1"))
    assert issuance.ISSUANCE_REQUESTS.key_for(transcript) == "iss_1:t-1"
    issued = CredentialIssued(credential_id="urn:uuid:7", issuer_id="iss_1")
    assert issuance.CREDENTIALS_ISSUED.key_for(issued) == "urn:uuid:7"
    assert wallet.WALLET_EVENTS.key_for(ConsentChanged(account_id="acc_3")) == "acc_3"


def test_key_for_refuses_an_event_of_another_topic() -> None:
    with pytest.raises(
        WrongTopic, match=r"CredentialIssued does not go on topic 'ler\.issuance\.requests\.v1'"
    ):
        issuance.ISSUANCE_REQUESTS.key_for(CredentialIssued(credential_id="urn:uuid:7"))


def test_key_for_refuses_an_event_missing_its_key() -> None:
    with pytest.raises(MissingEventKey, match=r"empty 'spec\.record_id\|clr\.record_id'") as caught:
        issuance.ISSUANCE_REQUESTS.key_for(IssuanceRequested(issuer_id="iss_1"))
    assert caught.value.field_path == "spec.record_id|clr.record_id"


def test_carries() -> None:
    assert intake.APPLICATIONS.carries(ApplicationSubmitted)
    assert not intake.APPLICATIONS.carries(CredentialIssued())


def test_registry_maps_every_event_type_by_full_name() -> None:
    expected = set().union(*EXPECTED_TOPICS.values())
    assert set(registry.REGISTRY) == expected
    assert len(registry.REGISTRY) == len(expected)
    for ce_type in expected:
        cls = registry.message_class(ce_type)
        assert event_type(cls) == ce_type
        assert registry.REGISTRY[ce_type] is cls


@pytest.mark.parametrize("ce_type", sorted(set().union(*EXPECTED_TOPICS.values())))
def test_decode_round_trips_every_event(ce_type: str) -> None:
    cls = registry.message_class(ce_type)
    original = cls()
    # Fill every singular string field so the round trip carries real content.
    for field in cls.DESCRIPTOR.fields:
        if field.type == FieldDescriptor.TYPE_STRING and not field.is_repeated:
            setattr(original, field.name, f"{field.name}-value")
    decoded = registry.decode(ce_type, original.SerializeToString())
    assert type(decoded) is cls
    assert decoded == original


def test_decode_of_a_full_credential_issued_keeps_the_signed_bytes() -> None:
    signed = b'{"@context":["https://www.w3.org/ns/credentials/v2"],"proof":{}}'
    event = CredentialIssued(credential_id="urn:uuid:1", signed_credential=signed)
    decoded = registry.decode("ler.issuance.v1.CredentialIssued", event.SerializeToString())
    assert isinstance(decoded, CredentialIssued)
    assert decoded.signed_credential == signed


def test_decode_unknown_type_names_it_and_the_known_ones() -> None:
    with pytest.raises(UnknownEventType) as caught:
        registry.decode("ler.issuance.v1.CredentialBurned", b"")
    assert isinstance(caught.value, LerProtoError)
    assert caught.value.ce_type == "ler.issuance.v1.CredentialBurned"
    assert "'ler.issuance.v1.CredentialBurned'" in str(caught.value)
    assert "ler.issuance.v1.CredentialIssued" in str(caught.value)


def test_decode_refuses_non_event_messages() -> None:
    # A real message type, but not an event: it must not decode as one.
    with pytest.raises(UnknownEventType):
        registry.decode("ler.issuance.v1.CredentialSpec", b"")


@pytest.mark.parametrize(
    "payload",
    [b"\x0a\x05ab", b"\x0a\x01\xff", b"\xff\xff\xff\xff"],
    ids=["truncated", "invalid-utf8-string", "bad-tag"],
)
def test_decode_refuses_malformed_payloads(payload: bytes) -> None:
    with pytest.raises(
        EventDecodeError, match=r"is not a valid ler\.issuance\.v1\.CredentialIssued"
    ):
        registry.decode("ler.issuance.v1.CredentialIssued", payload)


def test_a_registry_can_be_built_for_some_topics_only() -> None:
    only_wallet = registry.EventRegistry.from_topics(wallet.TOPICS)
    assert "ler.wallet.v1.ConsentChanged" in only_wallet
    with pytest.raises(UnknownEventType):
        only_wallet.decode("ler.issuance.v1.CredentialIssued", b"")
