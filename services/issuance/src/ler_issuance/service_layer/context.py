"""What every use case needs besides its arguments: units of work, keys, URLs and a clock."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from ler_crypto import dataintegrity
from ler_crypto.keys import KeyPair

from ler_issuance.domain.model import Cryptosuite, Issuer, SigningKey
from ler_issuance.service_layer.unit_of_work import UnitOfWork


class KeyStore(Protocol):
    """Generates signing keys and opens their encrypted private halves (KMS interface)."""

    def generate(self) -> tuple[KeyPair, bytes]:
        """A new Ed25519 key pair and its private key encrypted for storage."""
        ...

    def signer(self, key: SigningKey) -> KeyPair:
        """The key pair of a stored key (decrypted, possibly cached in memory)."""
        ...


@dataclass(frozen=True)
class SignJob:
    """One unsigned OB 3.0 credential to check and sign with ``cryptosuite``."""

    document: dict[str, Any]
    cryptosuite: str


@dataclass(frozen=True)
class Rejected:
    """A job whose document failed the OB 3.0 data-model check (the message says why)."""

    message: str


class BatchSigner(Protocol):
    """Checks and signs many credentials at once, off the event loop (e.g. on other cores)."""

    async def sign(
        self, encrypted_key: bytes, verification_method: str, jobs: Sequence[SignJob]
    ) -> list[bytes | Rejected]:
        """The signed credentials as JSON bytes (or why one was refused), in job order."""
        ...


@dataclass(frozen=True)
class PublicUrls:
    """Where this service is reachable from outside; did:web ids and status list URLs use it."""

    base_url: str

    @property
    def did_web_host(self) -> str:
        """``host%3Aport`` as a did:web method-specific id starts (did:web §3.1)."""
        netloc = urlsplit(self.base_url).netloc
        return quote(netloc, safe="")

    def issuer_did_web(self, issuer_id: str) -> str:
        """``did:web:<host%3Aport>:issuers:<id>``, resolved to ``/issuers/<id>/did.json``."""
        return f"did:web:{self.did_web_host}:issuers:{issuer_id}"

    def status_list_url(self, issuer_id: str, list_id: str) -> str:
        """URL of a status list credential."""
        return f"{self.base_url.rstrip('/')}/issuers/{issuer_id}/status-lists/{list_id}"


@dataclass(frozen=True)
class Context:
    """Dependencies of the use cases (built by the composition root)."""

    uow: Callable[[], UnitOfWork]
    keys: KeyStore
    urls: PublicUrls
    suspension_enabled: bool = True
    batch_max_items: int = 10_000
    # where batches of LDP credentials are signed; None: in this process, one by one
    batch_signer: BatchSigner | None = None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    # the public achievement catalog (SearchAchievementTemplates); None: not offered
    catalog: Any = None
    # Where status entries are allocated: None, in the issuing transaction; a unit-of-work
    # factory, in a short transaction of their own (see ``status.allocate_entries``).
    status_uow: Callable[[], UnitOfWork] | None = None

    def sign(
        self, document: dict[str, Any], issuer: Issuer, suite: Cryptosuite, key: SigningKey | None
    ) -> dict[str, Any]:
        """Add a Data Integrity proof by ``key`` (default: the active key) with ``suite``."""
        signing_key = key or issuer.active_key
        return dataintegrity.sign(
            document,
            self.keys.signer(signing_key),
            cryptosuite=suite.value,
            verification_method=signing_key.verification_method,
        )
