"""Checklist 16-19: fetching, verifying and reading Bitstring Status List credentials."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from ler_crypto import dataintegrity, status_list, vc_model
from ler_crypto.contexts import ContextLoader
from ler_crypto.dataintegrity.datetimes import parse_datetimestamp
from ler_crypto.errors import CryptoError
from ler_crypto.limits import check_document, parse_json
from ler_crypto.report import Outcome, VerificationReport
from ler_crypto.token_status_list import compact_jwt_text, unverified_ttl
from ler_crypto.verifier.checks import proof_signers
from ler_crypto.verifier.options import VC_PURPOSE, StatusListFetcher, VerifyOptions


class CachingStatusListFetcher:
    """Wraps a :class:`StatusListFetcher` with a cache that honours the list's ``ttl``.

    BSL §2.2: ``ttl`` (milliseconds) on the list's ``credentialSubject`` says how long it may be
    cached; without one, ``default_ttl`` applies, and ``max_ttl`` caps what an issuer can ask
    for. Failures are not cached. ``clock`` is injectable for tests.
    """

    def __init__(
        self,
        inner: StatusListFetcher,
        *,
        default_ttl: float = 300.0,
        max_ttl: float = 86_400.0,
        max_entries: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self.default_ttl = default_ttl
        self.max_ttl = max_ttl
        self.max_entries = max_entries
        self._clock = clock
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}

    def _ttl_of(self, document: dict[str, Any]) -> float:
        subject = document.get("credentialSubject")
        ttl = subject.get("ttl") if isinstance(subject, dict) else None
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl < 0:
            return self.default_ttl
        return min(ttl / 1000.0, self.max_ttl)

    def _token_ttl(self, token: str) -> float:
        # TSL §5.1: a Status List Token's ``ttl`` is in seconds. Read unverified, which is safe
        # for caching alone: the verifier checks the token's signature on every use.
        ttl = unverified_ttl(token)
        return self.default_ttl if ttl is None else min(ttl, self.max_ttl)

    def _store(self, url: str, expires: float, value: Any) -> None:
        if len(self._cache) >= self.max_entries:
            self._cache.pop(next(iter(self._cache)))
        self._cache[url] = (expires, value)

    async def fetch(self, url: str) -> Any:
        """The cached list for ``url`` if still fresh, else a fresh fetch.

        A Bitstring list credential comes back as parsed JSON; a Token Status List Token
        (compact JWT) as its text.
        """
        now = self._clock()
        hit = self._cache.get(url)
        if hit is not None and hit[0] > now:
            return hit[1]
        raw = await self.inner.fetch(url)
        token = compact_jwt_text(raw)
        if token is not None:
            self._store(url, now + self._token_ttl(token), token)
            return token
        document = raw if isinstance(raw, dict) else parse_json(raw)
        if isinstance(document, dict):
            self._store(url, now + self._ttl_of(document), document)
        return document


async def fetch_list(url: str, opts: VerifyOptions) -> dict[str, Any]:
    """Checklist 17: fetch and parse a list credential; failures are STATUS_RETRIEVAL_ERROR."""
    if opts.status_fetcher is None:
        raise status_list.StatusCheckError(
            status_list.StatusErrorKind.STATUS_RETRIEVAL, "no status list fetcher configured"
        )
    try:
        raw = await opts.status_fetcher.fetch(url)
    except Exception as err:
        raise status_list.StatusCheckError(
            status_list.StatusErrorKind.STATUS_RETRIEVAL, f"cannot fetch {url}: {err}"
        ) from err
    try:
        parsed = raw if isinstance(raw, dict) else parse_json(raw)
        check_document(parsed)
    except CryptoError as err:
        raise status_list.StatusCheckError(
            status_list.StatusErrorKind.STATUS_RETRIEVAL, f"{url} is not JSON: {err}"
        ) from err
    if not isinstance(parsed, dict):
        raise status_list.StatusCheckError(
            status_list.StatusErrorKind.STATUS_RETRIEVAL, f"{url} is not a JSON object"
        )
    return parsed


@dataclass(frozen=True, slots=True)
class _ListKey:
    """What a list credential's verdict depends on, besides the clock."""

    digest: bytes  # SHA-256 of the list credential's JSON (sorted keys): its exact content
    issuer: str | None
    policy: vc_model.Policy
    loader: ContextLoader | None
    keys: tuple[tuple[str, bytes], ...]  # every proof's verification method and resolved key


class VerifiedListCache:
    """Bounded LRU of status list credentials whose checks and proofs all passed.

    Every credential that carries a status entry names the same few list credentials, and
    re-verifying a list's proof on every call costs as much as the credential's own proof.
    An entry is keyed by the list's exact content (a SHA-256 digest), so a changed list (a
    revocation re-signs it) misses the cache and is verified afresh; the key also holds the
    public key each proof's verification method resolves to *now* (resolution is cached by
    the resolver and invalidated with it), so a rotated or removed key is never trusted from
    here. The only clock-dependent proof check, ``expires``, is re-applied on every hit.
    Failures are not cached.
    """

    def __init__(self, max_entries: int = 256) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[_ListKey, datetime | None] = OrderedDict()
        self._lock = threading.Lock()  # verifications may run in several threads

    def get(self, key: _ListKey, now: datetime) -> bool:
        """True when ``key`` verified before and no proof of it has expired at ``now``."""
        with self._lock:
            if key not in self._entries:
                return False
            expires = self._entries[key]
            if expires is not None and expires <= now:
                del self._entries[key]
                return False
            self._entries.move_to_end(key)
            return True

    def put(self, key: _ListKey, expires: datetime | None) -> None:
        """Remember a list credential that verified; ``expires`` is its proofs' earliest."""
        with self._lock:
            self._entries[key] = expires
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()


#: Process-wide: the entries are keyed by content and resolved keys, so sharing is safe.
VERIFIED_LISTS = VerifiedListCache()


async def _list_key(
    list_credential: dict[str, Any], issuer: str | None, opts: VerifyOptions
) -> tuple[_ListKey, datetime | None] | None:
    """The cache key of a list credential and its proofs' earliest ``expires``; None when
    anything is unusual (the full verification then reports it)."""
    signed: list[tuple[str, bytes]] = []
    earliest: datetime | None = None
    for proof in vc_model.as_list(list_credential.get("proof", [])):
        vm = proof.get("verificationMethod") if isinstance(proof, dict) else None
        if not isinstance(vm, str):
            return None
        try:
            key = await opts.resolver.resolve_verification_method(vm, VC_PURPOSE)
            expires = proof.get("expires")
            if expires is not None:
                moment = parse_datetimestamp(expires)
                earliest = moment if earliest is None else min(earliest, moment)
        except Exception:  # whatever it was, the full verification below reports it
            return None
        signed.append((vm, key.curve.encode() + b":" + key.raw))
    if not signed:
        return None
    return _ListKey(
        _content_digest(list_credential), issuer, opts.policy, opts.loader, tuple(signed)
    ), earliest


def _content_digest(document: dict[str, Any]) -> bytes:
    """SHA-256 of the document's JSON with sorted keys: equal content, equal digest. orjson
    (about ten times faster on a list credential, whose encodedList is tens of KB) for plain
    JSON; the standard encoder for what orjson refuses (lone surrogates, integers beyond 64
    bits). Which encoder made a digest does not matter: it only has to tell contents apart."""
    try:
        body = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        body = b"json:" + text.encode("utf-8", "surrogatepass")
    return hashlib.sha256(body).digest()


async def verify_list_credential(
    list_credential: dict[str, Any], issuer: str | None, opts: VerifyOptions
) -> None:
    """Checklist 18: the list is a valid VC from the same issuer with a verifying proof.

    A list credential that verified before with the same content and keys is taken from
    :data:`VERIFIED_LISTS` (see :class:`VerifiedListCache`).
    """
    keyed = await _list_key(list_credential, issuer, opts)
    now = opts.moment()
    if keyed is not None and VERIFIED_LISTS.get(keyed[0], now):
        return
    await _verify_list_credential(list_credential, issuer, opts)
    if keyed is not None:
        VERIFIED_LISTS.put(*keyed)


async def _verify_list_credential(
    list_credential: dict[str, Any], issuer: str | None, opts: VerifyOptions
) -> None:
    """:func:`verify_list_credential` without the cache: every check, the proofs included."""

    def fail(message: str) -> status_list.StatusCheckError:
        return status_list.StatusCheckError(
            status_list.StatusErrorKind.STATUS_VERIFICATION, message
        )

    issues = vc_model.validate_credential(list_credential, opts.policy)
    if issues:
        raise fail("list credential: " + "; ".join(str(i) for i in issues))
    list_issuer = vc_model.issuer_id(list_credential)
    if list_issuer != issuer:
        raise fail(f"list issued by {list_issuer!r}, not by the credential's issuer {issuer!r}")
    if "proof" not in list_credential:
        raise fail("list credential has no proof")
    try:
        results = await dataintegrity.verify(
            list_credential,
            opts.resolver,
            expected_purpose=VC_PURPOSE,
            loader=opts.loader,
            now=opts.moment(),
        )
    except CryptoError as err:
        raise fail(f"list credential proof: {err}") from err
    bad = [r for r in results if not r.verified]
    if not results or bad:
        raise fail("list credential proof does not verify" + (f": {bad[0].error}" if bad else ""))
    for did in proof_signers(list_credential):
        if did != issuer:
            raise fail(f"list credential signed by {did}, not by the issuer")


async def check_status(
    doc: dict[str, Any], report: VerificationReport, opts: VerifyOptions
) -> None:
    """Checklist 16-19 for every BitstringStatusListEntry."""
    entries = vc_model.as_list(doc.get("credentialStatus", []))
    if not entries:
        report.add("status", "Not revoked or suspended", Outcome.SKIPPED, "no credentialStatus")
        return
    issuer = vc_model.issuer_id(doc)
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("type") != "BitstringStatusListEntry":
            kind = entry.get("type") if isinstance(entry, dict) else type(entry).__name__
            report.add(
                "status",
                "Not revoked or suspended",
                Outcome.WARNING,
                f"status type {kind!r} is not supported and was not checked",
            )
            continue
        try:
            parsed = status_list.parse_status_entry(entry)
        except status_list.StatusCheckError as err:
            report.add("status", "Not revoked or suspended", Outcome.FAIL, str(err))
            continue
        if opts.status_fetcher is None:
            report.add(
                "status",
                "Not revoked or suspended",
                Outcome.WARNING,
                f"{parsed.purpose} status at {parsed.list_url} was not checked "
                "(no status list fetcher; offline)",
            )
            continue
        try:
            list_credential = await fetch_list(parsed.list_url, opts)
            await verify_list_credential(list_credential, issuer, opts)
            result = status_list.check_status(entry, list_credential, now=opts.moment())
        except status_list.StatusCheckError as err:
            report.add("status", "Not revoked or suspended", Outcome.FAIL, str(err))
            continue
        where = f"{parsed.list_url} index {parsed.index}"
        if parsed.purpose in ("revocation", "suspension"):
            if result.active:
                state = "revoked" if parsed.purpose == "revocation" else "suspended"
                report.add(
                    "status",
                    "Not revoked or suspended",
                    Outcome.FAIL,
                    f"the credential is {state} ({where})",
                )
            else:
                report.add(
                    "status",
                    "Not revoked or suspended",
                    Outcome.PASS,
                    f"{parsed.purpose} bit is 0 ({where})",
                )
        else:
            message = result.message or f"value {result.value:#x}"
            outcome = Outcome.WARNING if result.active else Outcome.PASS
            report.add(
                "status",
                f"Status: {parsed.purpose}",
                outcome,
                f"{parsed.purpose} status is {message} ({where})",
            )
