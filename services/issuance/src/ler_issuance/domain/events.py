"""Domain events of the issuance service (mapped to protobuf by ``adapters.proto``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ler_issuance.domain.model import (
    CredentialKind,
    CredentialRecord,
    CredentialState,
    StatusEntryRef,
)


@dataclass(frozen=True)
class CredentialIssued:
    """A credential was signed and stored."""

    credential: CredentialRecord


@dataclass(frozen=True)
class CredentialStatusChanged:
    """A credential's status changed (one event per flipped list bit)."""

    credential_id: str
    issuer_id: str
    issuer_did: str
    entry: StatusEntryRef
    previous_state: CredentialState
    new_state: CredentialState
    reason: str
    changed_at: datetime


@dataclass(frozen=True)
class IssuanceRequestProcessed:
    """The outcome of one streamed issuance request, reported back to its institution."""

    issuer_id: str
    record_id: str
    outcome: str  # "issued" | "replayed" | "rejected"
    credential_id: str
    error_reason: str
    error_field: str
    error_message: str
    processed_at: datetime
    request_id: str = ""  # the institution's correlation id, echoed
    kind: CredentialKind | None = None  # what was requested; None when undecodable
    issued_credential_ids: tuple[str, ...] = ()  # a CLR's AchievementCredentials


DomainEvent = CredentialIssued | CredentialStatusChanged | IssuanceRequestProcessed
