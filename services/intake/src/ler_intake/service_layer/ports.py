"""What the use cases need from the outside world, as protocols (adapters implement them,
unit tests fake them under ``tests/``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ler_intake.domain.application import Evidence, Report
from ler_intake.domain.model import VerificationPolicy


@dataclass(frozen=True, slots=True)
class IssuedChallenge:
    """A challenge from VerificationService.CreateChallenge."""

    challenge: str
    domain: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Verified:
    """A verification report with the evidence summaries it covers (in input order)."""

    report: Report
    evidence: tuple[Evidence, ...]


class VerificationClient(Protocol):
    """VerificationService, acting for a provider (its verifier tenant and trust list).

    Raises ``VerificationUnavailable`` when the service cannot be reached in time.
    """

    async def create_challenge(self, verifier_id: str, domain: str) -> IssuedChallenge: ...

    async def verify_presentation(
        self,
        verifier_id: str,
        presentation: bytes,
        *,
        challenge: str,
        domain: str,
        policy: VerificationPolicy,
        trusted_issuer_ids: Sequence[str] = (),
    ) -> Verified:
        """Verify a presentation; ``trusted_issuer_ids`` (an opportunity's own trusted issuers)
        are trusted for this call in addition to the provider's trust list."""
        ...

    async def verify_credential(
        self,
        verifier_id: str,
        credential: bytes,
        *,
        policy: VerificationPolicy,
        status_fresh_after: datetime | None = None,
        trusted_issuer_ids: Sequence[str] = (),
    ) -> Verified:
        """Verify one credential; with ``status_fresh_after`` (a status event's time) the
        service refetches status lists it cached before that instant."""
        ...


class ShareLinkResolver(Protocol):
    """Fetches a wallet share link as the verifier; returns each credential's signed text.

    Raises ``ShareLinkUnresolvable`` (expired, revoked, refused, too big, malformed) or
    ``VerificationUnavailable`` when the wallet cannot be reached.
    """

    async def resolve(self, url: str, verifier_id: str) -> list[str]: ...


class ChangeNotifier(Protocol):
    """Wakes WatchApplications streams after a commit that recorded changes."""

    def notify(self) -> None: ...
