"""Topics of the issuance context and the events on them (protos/ler/issuance/v1/events.proto)."""

from __future__ import annotations

from ler.issuance.v1.events_pb2 import (
    CredentialIssued,
    CredentialStatusChanged,
    IssuanceRequested,
    IssuanceRequestResult,
)

from ler_proto.topics import Topic, dead_letter_topic

ISSUANCE_REQUESTS_TOPIC = "ler.issuance.requests.v1"
ISSUANCE_REQUESTS_DLQ_TOPIC = dead_letter_topic(ISSUANCE_REQUESTS_TOPIC)
ISSUANCE_RESULTS_TOPIC = "ler.issuance.results.v1"
CREDENTIALS_ISSUED_TOPIC = "ler.credentials.issued.v1"
CREDENTIALS_STATUS_TOPIC = "ler.credentials.status.v1"

ISSUANCE_REQUESTS = Topic(
    ISSUANCE_REQUESTS_TOPIC,
    (IssuanceRequested,),
    key_fields=("issuer_id", "spec.record_id|clr.record_id"),
    description="Institutions' issuance requests; consumed by issuance.",
)
ISSUANCE_REQUESTS_DLQ = Topic(
    ISSUANCE_REQUESTS_DLQ_TOPIC,
    (IssuanceRequested,),
    key_fields=("issuer_id", "spec.record_id|clr.record_id"),
    description="Requests that could not be processed, unchanged, with the reason in a header.",
)
ISSUANCE_RESULTS = Topic(
    ISSUANCE_RESULTS_TOPIC,
    (IssuanceRequestResult,),
    key_fields=("issuer_id",),
    description="The outcome of each request, for its institution.",
)
CREDENTIALS_ISSUED = Topic(
    CREDENTIALS_ISSUED_TOPIC,
    (CredentialIssued,),
    key_fields=("credential_id",),
    description="Newly signed credentials; consumed by wallet.",
)
CREDENTIALS_STATUS = Topic(
    CREDENTIALS_STATUS_TOPIC,
    (CredentialStatusChanged,),
    key_fields=("credential_id",),
    description="Revocations, suspensions, reinstatements; read by wallet, verification, intake.",
)

TOPICS: tuple[Topic, ...] = (
    ISSUANCE_REQUESTS,
    ISSUANCE_REQUESTS_DLQ,
    ISSUANCE_RESULTS,
    CREDENTIALS_ISSUED,
    CREDENTIALS_STATUS,
)
