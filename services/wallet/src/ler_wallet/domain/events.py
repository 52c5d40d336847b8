"""Domain events of the wallet, published on ``ler.wallet.events.v1`` through the outbox.

They say what happened, never what a credential contains. ``study_pseudonyms`` are the
learner's pseudonyms in the studies they are opted into at the time of the event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

Pseudonyms = tuple[tuple[str, str], ...]  # (study_id, pseudonym)


@dataclass(frozen=True)
class CredentialStored:
    """A credential was added to a wallet."""

    account_id: str
    credential_id: str
    issuer_id: str
    kind: str
    format: str
    source: str
    stored_at: datetime
    study_pseudonyms: Pseudonyms = ()


@dataclass(frozen=True)
class CredentialShared:
    """Credentials were shared through a share link or a presentation."""

    account_id: str
    channel: str  # "share_link" | "presentation" | "openid4vp"
    credential_ids: tuple[str, ...]
    shared_at: datetime
    share_link_id: str = ""
    domain: str = ""
    study_pseudonyms: Pseudonyms = ()


@dataclass(frozen=True)
class ShareLinkAccessed:
    """Someone used a share link (granted or refused)."""

    account_id: str
    share_link_id: str
    outcome: str
    verifier_id: str
    accessed_at: datetime
    study_pseudonyms: Pseudonyms = ()


@dataclass(frozen=True)
class ConsentChanged:
    """A learner opted into or out of a study."""

    account_id: str
    study_id: str
    opted_in: bool
    study_pseudonym: str
    changed_at: datetime


@dataclass(frozen=True)
class AccountDeleted:
    """A learner deleted their wallet."""

    account_id: str
    deleted_at: datetime
    study_pseudonyms: Pseudonyms = ()


DomainEvent = (
    CredentialStored | CredentialShared | ShareLinkAccessed | ConsentChanged | AccountDeleted
)
