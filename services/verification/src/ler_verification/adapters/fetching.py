"""Safe caches for what verification fetches: did:web documents and status list credentials.

Both are bounded (entries), expire (TTL; a status list's own ``ttl`` is honoured, capped),
and can be dropped by issuer the moment a ``CredentialStatusChanged`` event says that
issuer's list changed, so a revocation is seen at once rather than after the TTL.

Fetches themselves go through ``ler_crypto``'s ``HttpsWebFetcher``: HTTPS only, bounded in
size and time, private addresses refused unless configured.

Two races are closed here:

* a fetch that started before an invalidation of its URL or of its issuer must not put the
  old document back: invalidations are numbered (the epoch), the latest epoch of each
  invalidated URL and issuer is remembered (bounded), and a result is stored only if
  neither its URL nor its issuer was invalidated after the fetch began;
* concurrent verifications needing the same URL share one fetch ("single flight"), keyed
  by epoch so nobody joins a fetch that started before an invalidation.

A third is closed by the caller: the status event that tells this service to drop a list
also tells other services (intake) to re-verify, and their request may arrive before this
service has consumed the event. Invalidation alone therefore depends on event ordering.
So a request may say how fresh the status information must be (``fresh_after``: the status
event's time, a wall-clock instant): an entry fetched before that instant — or a fetch in
flight that started before it — is not used, and the list is fetched again from the
issuer's endpoint, which is always current. This is correct under any event ordering,
keeps caching on for everyone else, and still shares one fetch among concurrent callers.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ler_crypto import vc_model
from ler_crypto.did import WebFetcher, did_web_to_url
from ler_crypto.errors import CryptoError, ResolutionError
from ler_crypto.limits import parse_json
from ler_crypto.token_status_list import compact_jwt_text, unverified_issuer, unverified_ttl
from ler_crypto.verifier import StatusListFetcher

Clock = Callable[[], float]


@dataclass(slots=True)
class _Entry:
    expires: float
    value: Any
    issuer: str | None
    fetched_at: float  # wall clock when the fetch began: the document is at least this fresh


class InvalidatingCache:
    """A TTL + LRU-bounded cache of fetched documents, invalidatable by URL or issuer."""

    def __init__(
        self,
        *,
        max_entries: int,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        max_remembered: int = 10_000,
    ) -> None:
        self._max = max_entries
        self._clock = clock
        self._wall = wall_clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        # (url, epoch) → (wall clock when the fetch began, its result)
        self._inflight: dict[tuple[str, int], tuple[float, asyncio.Future[Any]]] = {}
        # epoch of the latest invalidation of each URL / issuer ("u:" / "i:" prefixed keys)
        self._invalidated: OrderedDict[str, int] = OrderedDict()
        self._max_remembered = max_remembered
        self._forgotten_before = 0  # invalidations older than this epoch are no longer known
        self.epoch = 0
        self.fetches = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, url: str, *, fresh_after: float | None = None) -> Any | None:
        """The cached value, if fresh (and fetched no earlier than ``fresh_after``, wall clock)."""
        entry = self._entries.get(url)
        if entry is None:
            return None
        if entry.expires <= self._clock():
            del self._entries[url]
            return None
        if fresh_after is not None and entry.fetched_at < fresh_after:
            return None  # older than the caller can accept: refetch (and replace it)
        self._entries.move_to_end(url)
        return entry.value

    def _put(self, url: str, value: Any, ttl: float, issuer: str | None, fetched_at: float) -> None:
        if ttl <= 0:
            return
        current = self._entries.get(url)
        if current is not None and current.fetched_at > fetched_at:
            return  # a fetch that began later already stored a newer document
        self._entries[url] = _Entry(self._clock() + ttl, value, issuer, fetched_at)
        self._entries.move_to_end(url)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    async def get_or_fetch(
        self,
        url: str,
        fetch: Callable[[], Awaitable[tuple[Any, float, str | None]]],
        *,
        fresh_after: float | None = None,
    ) -> Any:
        """The cached value, or ``fetch()`` → (value, ttl seconds, issuer), shared by callers.

        With ``fresh_after`` (wall-clock seconds), neither an entry fetched before it nor a
        fetch in flight that began before it is used.
        """
        cached = self.get(url, fresh_after=fresh_after)
        if cached is not None:
            return cached
        key = (url, self.epoch)
        pending = self._inflight.get(key)
        if pending is not None and (fresh_after is None or pending[0] >= fresh_after):
            return await asyncio.shield(pending[1])
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        began = self._wall()
        # later callers join this (newer) fetch rather than an older one still in flight
        self._inflight[key] = (began, future)
        started = self.epoch
        try:
            self.fetches += 1
            value, ttl, issuer = await fetch()
        except BaseException as err:
            future.set_exception(err)
            future.exception()  # mark retrieved: waiters may not exist
            raise
        else:
            if not self._invalidated_since(started, url, issuer):
                self._put(url, value, ttl, issuer, began)
            future.set_result(value)
            return value
        finally:
            if self._inflight.get(key, (0.0, None))[1] is future:
                del self._inflight[key]

    def _invalidated_since(self, epoch: int, url: str, issuer: str | None) -> bool:
        if epoch < self._forgotten_before:
            return True  # we no longer know what happened since: do not trust the result
        keys = [f"u:{url}"] + ([f"i:{issuer}"] if issuer else [])
        return any(self._invalidated.get(k, -1) > epoch for k in keys)

    def invalidate(self, *, url: str | None = None, issuer: str | None = None) -> int:
        """Drop the entry for ``url`` and every entry published by ``issuer``; returns how many."""
        self.epoch += 1
        for key in ([f"u:{url}"] if url else []) + ([f"i:{issuer}"] if issuer else []):
            self._invalidated[key] = self.epoch
            self._invalidated.move_to_end(key)
        while len(self._invalidated) > self._max_remembered:
            _, forgotten = self._invalidated.popitem(last=False)
            self._forgotten_before = max(self._forgotten_before, forgotten)
        doomed = [
            u
            for u, e in self._entries.items()
            if (url is not None and u == url) or (issuer and e.issuer == issuer)
        ]
        for u in doomed:
            del self._entries[u]
        return len(doomed)


class CachedDidWebFetcher:
    """The ``WebFetcher`` handed to ``DidResolver``: did:web documents through the cache."""

    def __init__(self, inner: WebFetcher, cache: InvalidatingCache, *, ttl: float) -> None:
        self._inner = inner
        self.cache = cache
        self._ttl = ttl

    async def fetch(self, url: str) -> bytes:
        """The document at ``url`` (bytes), from cache when fresh."""

        async def load() -> tuple[Any, float, str | None]:
            return await self._inner.fetch(url), self._ttl, None

        body: bytes = await self.cache.get_or_fetch(url, load)
        return body

    def invalidate_did(self, did: str) -> int:
        """Drop the cached document of a did:web DID (no-op for other methods)."""
        if not did.startswith("did:web:"):
            return 0
        try:
            return self.cache.invalidate(url=did_web_to_url(did))
        except ResolutionError:
            return 0


class CachedStatusListFetcher:
    """The ``StatusListFetcher`` handed to the verifier: status lists, cached.

    A Bitstring Status List credential (JSON) is returned parsed; its TTL is the list's own
    ``ttl`` (milliseconds, Bitstring Status List §2.2) when given. A Token Status List Token
    (a compact JWT, served as ``application/statuslist+jwt``) is returned as its text; its TTL
    is the token's ``ttl`` claim (seconds, TSL §5.1), read without verifying the token (the
    verifier checks its signature on every use, so a forged ``ttl`` can at most keep a forged
    token cached, and never beyond ``max_ttl``). Otherwise ``default_ttl``; never more than
    ``max_ttl`` seconds.
    """

    def __init__(
        self, inner: WebFetcher, cache: InvalidatingCache, *, default_ttl: float, max_ttl: float
    ) -> None:
        self._inner = inner
        self.cache = cache
        self._default_ttl = default_ttl
        self._max_ttl = max_ttl

    def _ttl_of(self, document: dict[str, Any]) -> float:
        subject = document.get("credentialSubject")
        ttl = subject.get("ttl") if isinstance(subject, dict) else None
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl < 0:
            return min(self._default_ttl, self._max_ttl)
        return min(ttl / 1000.0, self._max_ttl)

    def _token_ttl(self, token: str) -> float:
        ttl = unverified_ttl(token)
        return min(self._default_ttl if ttl is None else ttl, self._max_ttl)

    def fresh_after(self, instant: float | None) -> StatusListFetcher:
        """A view for one verification that refetches lists cached before ``instant``
        (wall-clock seconds); ``None`` is this fetcher itself."""
        return self if instant is None else _FreshStatusLists(self, instant)

    async def fetch(self, url: str, *, fresh_after: float | None = None) -> Any:
        """The list credential at ``url`` as parsed JSON, or the Status List Token there as
        text (the verifier checks either)."""

        async def load() -> tuple[Any, float, str | None]:
            body = await self._inner.fetch(url)
            token = compact_jwt_text(body)
            if token is not None:
                return token, self._token_ttl(token), unverified_issuer(token)
            try:
                document = parse_json(body)
            except CryptoError as err:
                raise ResolutionError(f"status list at {url} is not JSON: {err}") from err
            if not isinstance(document, dict):
                raise ResolutionError(f"status list at {url} is not a JSON object")
            return document, self._ttl_of(document), vc_model.issuer_id(document)

        return await self.cache.get_or_fetch(url, load, fresh_after=fresh_after)


class _FreshStatusLists:
    """``CachedStatusListFetcher`` bound to one verification's freshness requirement."""

    def __init__(self, inner: CachedStatusListFetcher, instant: float) -> None:
        self._inner = inner
        self._instant = instant

    async def fetch(self, url: str) -> Any:
        """The list at ``url``, fetched no earlier than the bound instant."""
        return await self._inner.fetch(url, fresh_after=self._instant)
