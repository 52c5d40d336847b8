"""Trust list use cases, and a short-lived cache of each verifier's list for the verify path."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from dataclasses import dataclass
from datetime import datetime

from ler_verification.domain.errors import InvalidRequest, TrustedIssuerNotFound
from ler_verification.domain.model import TrustedIssuer, TrustList
from ler_verification.service_layer.unit_of_work import UnitOfWorkFactory

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


class TrustListCache:
    """Each verifier's trust list, re-read after ``ttl`` seconds or when it changes here.

    Changes made through this process invalidate at once; other replicas see them within
    ``ttl`` (trust lists change rarely and a few seconds of lag is acceptable). When an
    entry expires under load, the verifications waiting for it share one read (a stampede
    of concurrent reads at every expiry cost a database round trip per verification in
    flight).
    """

    def __init__(
        self, uow_factory: UnitOfWorkFactory, *, ttl: float = 5.0, max_entries: int = 10_000
    ) -> None:
        self._uow_factory = uow_factory
        self._ttl = ttl
        self._max = max_entries
        self._lists: dict[str, tuple[float, TrustList]] = {}
        self._loading: dict[str, asyncio.Future[TrustList]] = {}
        self._changes = 0  # invalidations so far: a read older than one is not cached

    async def get(self, verifier_id: str) -> TrustList:
        """The verifier's current list."""
        hit = self._lists.get(verifier_id)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        loading = self._loading.get(verifier_id)
        if loading is None:
            loading = asyncio.ensure_future(self._load(verifier_id))
            self._loading[verifier_id] = loading
            loading.add_done_callback(lambda done: self._loaded(verifier_id, done))
        # shielded: one caller giving up (a cancelled RPC) must not cancel the others' read
        return await asyncio.shield(loading)

    async def _load(self, verifier_id: str) -> TrustList:
        started, changes = time.monotonic(), self._changes
        async with self._uow_factory() as uow:
            entries = await uow.trust.all(verifier_id)
        trust = TrustList(tuple(entries))
        if changes == self._changes:  # no list changed here meanwhile
            if len(self._lists) >= self._max:
                self._lists.clear()
            self._lists[verifier_id] = (started + self._ttl, trust)
        return trust

    def _loaded(self, verifier_id: str, done: asyncio.Future[TrustList]) -> None:
        if self._loading.get(verifier_id) is done:
            del self._loading[verifier_id]
        if not done.cancelled():
            done.exception()  # retrieved: every waiter has seen it already

    def invalidate(self, verifier_id: str) -> None:
        """Forget the cached list (a read in flight is not cached either)."""
        self._changes += 1
        self._lists.pop(verifier_id, None)
        self._loading.pop(verifier_id, None)


async def put_trusted_issuer(
    uow_factory: UnitOfWorkFactory,
    cache: TrustListCache,
    verifier_id: str,
    issuer: TrustedIssuer,
    now: datetime,
) -> tuple[TrustedIssuer, bool]:
    """Add or replace an entry; returns it as stored and whether it was new."""
    async with uow_factory() as uow:
        created = await uow.trust.put(verifier_id, issuer, now)
    cache.invalidate(verifier_id)
    return TrustedIssuer(
        issuer.issuer_id, issuer.name, issuer.accreditations, issuer.note, now
    ), created


async def remove_trusted_issuer(
    uow_factory: UnitOfWorkFactory, cache: TrustListCache, verifier_id: str, issuer_id: str
) -> None:
    """Remove an entry; NOT_FOUND if it is not on the list."""
    async with uow_factory() as uow:
        removed = await uow.trust.remove(verifier_id, issuer_id)
        if not removed:
            raise TrustedIssuerNotFound(issuer_id)
    cache.invalidate(verifier_id)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a trust list."""

    issuers: list[TrustedIssuer]
    next_page_token: str


def _decode_token(token: str, accreditation: str) -> str | None:
    if not token:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as err:
        raise InvalidRequest("page.page_token", "is not a token this service issued") from err
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("after"), str)
        or data.get("f") != accreditation
    ):
        raise InvalidRequest("page.page_token", "was issued for a different filter or is malformed")
    after: str = data["after"]
    return after


def _encode_token(after: str, accreditation: str) -> str:
    raw = json.dumps({"after": after, "f": accreditation}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def list_trusted_issuers(
    uow_factory: UnitOfWorkFactory,
    verifier_id: str,
    *,
    page_size: int,
    page_token: str,
    accreditation: str,
) -> Page:
    """A page of the list ordered by issuer id (AIP-158 cursor paging)."""
    if page_size < 0:
        raise InvalidRequest("page.page_size", "must not be negative")
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    after = _decode_token(page_token, accreditation)
    async with uow_factory() as uow:
        rows = await uow.trust.page(
            verifier_id, after=after, limit=size + 1, accreditation=accreditation
        )
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, _encode_token(rows[-1].issuer_id, accreditation) if more else "")
