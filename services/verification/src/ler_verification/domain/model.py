"""Entities and value objects: verifier tenants, challenges and trust lists."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from ler_verification.domain.errors import InvalidRequest

MAX_ISSUER_ID = 1024
MAX_LABEL = 100
MAX_LABELS = 32
MAX_NAME = 200
MAX_NOTE = 2000
MAX_DOMAIN = 253
MAX_CHALLENGE_TTL = timedelta(days=1)
DEFAULT_CHALLENGE_TTL = timedelta(minutes=10)

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
_TENANT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class TenantKind(StrEnum):
    """What an authenticated caller is: a verifier, or a service acting for verifiers (intake)."""

    VERIFIER = "verifier"
    SERVICE = "service"


def validate_tenant_id(tenant_id: str, field_name: str = "tenant_id") -> str:
    """Tenant ids are opaque, short and printable."""
    if not _TENANT_ID.match(tenant_id):
        raise InvalidRequest(field_name, "must be 1-64 characters of letters, digits, '_.:-'")
    return tenant_id


@dataclass(frozen=True, slots=True)
class Challenge:
    """A single-use nonce a presentation must be bound to (VC DI §2.1 ``challenge``)."""

    value: str
    verifier_id: str
    domain: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


class ChallengeProblem(StrEnum):
    """Why a presented challenge is not acceptable (the error codes of ``presentation.replay``)."""

    UNKNOWN = "UNKNOWN_CHALLENGE"
    REPLAYED = "CHALLENGE_REPLAYED"
    EXPIRED = "CHALLENGE_EXPIRED"
    WRONG_DOMAIN = "CHALLENGE_DOMAIN_MISMATCH"


def judge_challenge(
    challenge: Challenge | None, *, first_use: bool, domain: str, now: datetime
) -> tuple[ChallengeProblem | None, str]:
    """The replay check: issued to this verifier, unused before now, unexpired, same domain."""
    if challenge is None:
        return ChallengeProblem.UNKNOWN, "the challenge was not issued by this verifier"
    if not first_use:
        return ChallengeProblem.REPLAYED, "the challenge was already used: this is a replay"
    if now >= challenge.expires_at:
        return (
            ChallengeProblem.EXPIRED,
            f"the challenge expired at {challenge.expires_at.isoformat()}",
        )
    if challenge.domain != domain:
        return (
            ChallengeProblem.WRONG_DOMAIN,
            f"the challenge was issued for domain {challenge.domain!r}, not {domain[:200]!r}",
        )
    return None, "the challenge was issued by this verifier and is used for the first time"


def validate_challenge_request(domain: str, ttl: timedelta | None) -> timedelta:
    """CreateChallenge rules (proto): a domain, and 0 < ttl <= 1 day (default 10 minutes)."""
    if not domain or not domain.strip():
        raise InvalidRequest("domain", "is required")
    if len(domain) > MAX_DOMAIN or any(c.isspace() for c in domain):
        raise InvalidRequest("domain", f"must be at most {MAX_DOMAIN} characters, no spaces")
    if ttl is None:
        return DEFAULT_CHALLENGE_TTL
    if ttl <= timedelta(0) or ttl > MAX_CHALLENGE_TTL:
        raise InvalidRequest("ttl", "must be positive and at most 1 day")
    return ttl


@dataclass(frozen=True, slots=True)
class TrustedIssuer:
    """An issuer a verifier accepts, with the accreditation labels it gives it."""

    issuer_id: str
    name: str = ""
    accreditations: tuple[str, ...] = ()
    note: str = ""
    updated_at: datetime | None = None

    @classmethod
    def create(
        cls, issuer_id: str, name: str, accreditations: Iterable[str], note: str
    ) -> TrustedIssuer:
        """Validate an entry (PutTrustedIssuer: issuer_id a DID or URL, labels non-empty)."""
        if not issuer_id or len(issuer_id) > MAX_ISSUER_ID or not _SCHEME.match(issuer_id):
            raise InvalidRequest("issuer.issuer_id", "must be a DID or URL")
        labels = list(dict.fromkeys(accreditations))
        if len(labels) > MAX_LABELS:
            raise InvalidRequest("issuer.accreditations", f"at most {MAX_LABELS} labels")
        for i, label in enumerate(labels):
            if not label.strip() or len(label) > MAX_LABEL:
                raise InvalidRequest(
                    f"issuer.accreditations[{i}]", f"must be 1-{MAX_LABEL} non-blank characters"
                )
        if len(name) > MAX_NAME:
            raise InvalidRequest("issuer.name", f"at most {MAX_NAME} characters")
        if len(note) > MAX_NOTE:
            raise InvalidRequest("issuer.note", f"at most {MAX_NOTE} characters")
        return cls(issuer_id, name, tuple(labels), note)


@dataclass(frozen=True, slots=True)
class TrustList:
    """A verifier's trust list. Empty means the verifier keeps no list."""

    entries: Sequence[TrustedIssuer] = field(default_factory=tuple)

    def trusted_ids(self, required_accreditations: Sequence[str] = ()) -> frozenset[str] | None:
        """Issuer ids to trust under a policy; ``None`` when there is no list to check against.

        With required accreditations only issuers carrying one of them count, and a verifier
        without a list trusts nobody (the policy asks for labels only a list can give).
        """
        required = set(required_accreditations)
        if required:
            return frozenset(e.issuer_id for e in self.entries if required & set(e.accreditations))
        if not self.entries:
            return None
        return frozenset(e.issuer_id for e in self.entries)
