"""What the use cases need besides the unit of work: keys, verification, clock, ids."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from ler_crypto.keys import KeyPair

from ler_wallet.service_layer.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class HolderKey:
    """A fresh holder key: the pair (in memory only), its DID, method and encrypted blob."""

    pair: KeyPair
    did: str
    verification_method: str
    encrypted: bytes = field(repr=False)


class HolderKeyStore(Protocol):
    """Generates holder keys and opens encrypted ones (``ler_wallet.adapters.keystore``)."""

    def generate(self) -> HolderKey: ...
    def open(self, encrypted: bytes) -> KeyPair: ...


@dataclass(frozen=True)
class Receipt:
    """The verification made on receipt: the full report (JSON form) and its verdict."""

    report: dict[str, object]
    verified: bool
    failed_checks: tuple[str, ...] = ()
    first_failure: str = ""


class ReceiptVerifier(Protocol):
    """Verifies a received credential (JSON text or compact SD-JWT)."""

    async def verify(self, credential: str) -> Receipt: ...


class OfferCollector(Protocol):
    """Collects the credentials of an OID4VCI offer (``ler_wallet.adapters.oid4vci``)."""

    async def collect(
        self, offer_uri: str, tx_code: str, holder: KeyPair, verification_method: str
    ) -> list[str]: ...


class OpportunityLookup(Protocol):
    """Reads an intake opportunity's public posting (``ler_wallet.adapters.careers``)."""

    async def requirements(self, opportunity_id: str) -> list[Any]:
        """The posting's skill requirements (``planning.Requirement``)."""
        ...


class AchievementCatalog(Protocol):
    """Searches the achievements registered institutions offer, by skill."""

    async def search(self, skills: list[Any]) -> list[Any]:
        """Catalog entries (``planning.Offer``) aligned to any of ``skills``."""
        ...


class Pseudonymizer:
    """Stable per (learner, study), unlinkable across studies: HMAC-SHA256 under a secret."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def __call__(self, account_id: str, study_id: str) -> str:
        mac = hmac.new(self._secret, f"{study_id}\x00{account_id}".encode(), hashlib.sha256)
        return "psn_" + mac.hexdigest()[:32]

    def __repr__(self) -> str:
        return "Pseudonymizer(<secret>)"


def new_id(prefix: str) -> str:
    """A random id with a type prefix, e.g. ``acc_3f9c...``."""
    return f"{prefix}_{secrets.token_hex(12)}"


def utc_now() -> datetime:
    """The current instant, timezone-aware."""
    return datetime.now(UTC)


@dataclass
class Context:
    """Dependencies of the use cases (built by ``ler_wallet.bootstrap``)."""

    uow: Callable[[], UnitOfWork]
    keys: HolderKeyStore
    verifier: ReceiptVerifier
    pseudonyms: Pseudonymizer
    share_base_url: str
    offers: OfferCollector | None = None
    clock: Callable[[], datetime] = utc_now
    # OpenID4VP transport (ler_wallet.adapters.oid4vp.Oid4vpClient); None: not offered
    presentation_requests: object | None = None
    # career planning: intake postings and the issuance catalog (None: not configured)
    opportunities: OpportunityLookup | None = None
    catalog: AchievementCatalog | None = None
