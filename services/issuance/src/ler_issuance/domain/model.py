"""Entities and value objects of the issuance domain.

The value objects mirror the ``ler.issuance.v1`` resources (the protobuf mapping lives in
``ler_issuance.adapters.proto``) so that use cases and rules never touch transport types.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime


class DidMethod(enum.StrEnum):
    """DID method of an issuer's identifier."""

    WEB = "web"
    KEY = "key"


class CredentialFormat(enum.StrEnum):
    """How a credential is secured."""

    LDP_VC = "ldp_vc"
    SD_JWT_VC = "dc+sd-jwt"


class Cryptosuite(enum.StrEnum):
    """Data Integrity cryptosuites (VC-DI-EDDSA §3.2, §3.3)."""

    EDDSA_RDFC_2022 = "eddsa-rdfc-2022"
    EDDSA_JCS_2022 = "eddsa-jcs-2022"


class CredentialKind(enum.StrEnum):
    """Achievement or CLR."""

    ACHIEVEMENT = "achievement"
    CLR = "clr"


class CredentialState(enum.StrEnum):
    """A credential's status as published in its status lists."""

    ACTIVE = "active"
    REVOKED = "revoked"
    SUSPENDED = "suspended"


class StatusPurpose(enum.StrEnum):
    """Bitstring Status List ``statusPurpose`` values we publish (BSL §2.1)."""

    REVOCATION = "revocation"
    SUSPENSION = "suspension"


class StatusAction(enum.StrEnum):
    """A requested status change."""

    REVOKE = "revoke"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"


# --- issuers -----------------------------------------------------------------------------------


@dataclass
class SigningKey:
    """One of an issuer's Ed25519 keys; the private half only as an encrypted blob."""

    number: int
    verification_method: str
    public_key_multibase: str
    encrypted_private_key: bytes = field(repr=False)
    created_at: datetime
    retired_at: datetime | None = None


def hash_secret(secret: str, salt: bytes) -> bytes:
    """Salted SHA-256 of a high-entropy secret (API keys are 256-bit random strings)."""
    return hashlib.sha256(salt + secret.encode()).digest()


@dataclass
class Issuer:
    """An institution registered to issue credentials (a tenant)."""

    issuer_id: str
    did: str
    did_method: DidMethod
    name: str
    url: str
    email: str
    description: str
    image_url: str
    default_format: CredentialFormat
    default_cryptosuite: Cryptosuite
    suspension_enabled: bool
    created_at: datetime
    api_key_salt: bytes = field(repr=False)
    api_key_hash: bytes = field(repr=False)
    keys: list[SigningKey] = field(default_factory=list)

    @property
    def active_key(self) -> SigningKey:
        """The key new credentials are signed with."""
        return next(k for k in self.keys if k.retired_at is None)

    @property
    def retired_keys(self) -> list[SigningKey]:
        """Earlier keys, most recent first."""
        return sorted(
            (k for k in self.keys if k.retired_at is not None),
            key=lambda k: k.number,
            reverse=True,
        )

    def check_api_key(self, api_key: str) -> bool:
        """Constant-time comparison of ``api_key`` with the stored salted hash."""
        return hmac.compare_digest(hash_secret(api_key, self.api_key_salt), self.api_key_hash)

    def profile(self) -> dict[str, object]:
        """The OB 3.0 ``Profile`` written as the credential ``issuer`` (OB 3.0 §B.1.9)."""
        profile: dict[str, object] = {"id": self.did, "type": ["Profile"], "name": self.name}
        if self.url:
            profile["url"] = self.url
        if self.email:
            profile["email"] = self.email
        if self.description:
            profile["description"] = self.description
        if self.image_url:
            profile["image"] = {"id": self.image_url, "type": "Image"}
        return profile

    def did_document(self) -> dict[str, object]:
        """The DID document (DID Core §5) listing every key, retired ones included.

        Retired keys stay under ``assertionMethod`` so that credentials and status lists they
        signed keep verifying; only the active key authenticates.
        """
        methods = [
            {
                "id": k.verification_method,
                "type": "Multikey",
                "controller": self.did,
                "publicKeyMultibase": k.public_key_multibase,
            }
            for k in sorted(self.keys, key=lambda k: k.number)
        ]
        return {
            "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
            "id": self.did,
            "verificationMethod": methods,
            "assertionMethod": [m["id"] for m in methods],
            "authentication": [self.active_key.verification_method],
        }


# --- achievements ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alignment:
    """An alignment to a skill in a public framework (OB 3.0 §B.1.3)."""

    url: str
    label: str
    framework: str = ""
    code: str = ""
    description: str = ""
    target_type: str = ""  # OB AlignmentTargetType term, "" when unset


@dataclass(frozen=True)
class ResultDescription:
    """A possible result of an achievement (OB 3.0 §B.1.18)."""

    id: str
    name: str
    result_type: str  # OB ResultType term
    allowed_values: tuple[str, ...] = ()
    required_value: str = ""
    value_min: str = ""
    value_max: str = ""
    alignments: tuple[Alignment, ...] = ()


@dataclass(frozen=True)
class Achievement:
    """What is recognised (OB 3.0 §B.1.1)."""

    id: str
    name: str
    description: str
    achievement_type: str = ""  # OB AchievementType term, "" when unset
    criteria_narrative: str = ""
    criteria_url: str = ""
    image_url: str = ""
    alignments: tuple[Alignment, ...] = ()
    result_descriptions: tuple[ResultDescription, ...] = ()
    credits_available: float = 0.0
    field_of_study: str = ""
    specialization: str = ""
    human_code: str = ""
    tags: tuple[str, ...] = ()
    in_language: str = ""

    def skills(self) -> tuple[Alignment, ...]:
        """Alignments of the achievement and of its result descriptions."""
        found = list(self.alignments)
        for rd in self.result_descriptions:
            found.extend(rd.alignments)
        return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class AchievementTemplate:
    """An issuer's reusable achievement definition."""

    template_id: str
    issuer_id: str
    achievement: Achievement
    created_at: datetime


# --- specs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """The learner: a DID and/or an email (never written into a credential in clear)."""

    did: str = ""
    email: str = ""
    name: str = ""


@dataclass(frozen=True)
class Result:
    """A learner's result for one result description (OB 3.0 §B.1.17)."""

    result_description_id: str = ""
    value: str = ""
    status: str = ""  # OB ResultStatusType term
    achieved_level: str = ""
    alignments: tuple[Alignment, ...] = ()


@dataclass(frozen=True)
class Evidence:
    """Evidence supporting the award (OB 3.0 §B.1.8)."""

    url: str = ""
    name: str = ""
    description: str = ""
    narrative: str = ""
    genre: str = ""
    audience: str = ""


@dataclass(frozen=True)
class CredentialSpec:
    """What to issue to whom; ``record_id`` is the idempotency key."""

    record_id: str
    subject: Subject
    template_id: str = ""
    achievement: Achievement | None = None
    results: tuple[Result, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    awarded_at: datetime | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    credits_earned: float = 0.0
    format: CredentialFormat | None = None
    cryptosuite: Cryptosuite | None = None


# --- credentials -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusEntryRef:
    """A credential's entry in one status list."""

    purpose: StatusPurpose
    list_id: str
    list_url: str
    index: int


@dataclass
class CredentialRecord:
    """An issued credential as the service records it."""

    credential_id: str
    issuer_id: str
    issuer_did: str
    record_id: str
    fingerprint: str
    subject: Subject
    kind: CredentialKind
    format: CredentialFormat
    cryptosuite: Cryptosuite | None
    template_id: str
    achievement_name: str
    achievement_type: str
    skills: tuple[Alignment, ...]
    status: CredentialState
    status_reason: str
    status_entries: tuple[StatusEntryRef, ...]
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime | None
    signed_credential: bytes = field(repr=False)
    media_type: str
    embedded_credential_ids: tuple[str, ...] = ()

    def entry(self, purpose: StatusPurpose) -> StatusEntryRef | None:
        """The credential's entry for ``purpose``, if it has one."""
        return next((e for e in self.status_entries if e.purpose is purpose), None)
