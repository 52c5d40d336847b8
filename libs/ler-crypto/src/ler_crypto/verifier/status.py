"""Checklist 16-19: fetching, verifying and reading Bitstring Status List credentials."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ler_crypto import dataintegrity, status_list, vc_model
from ler_crypto.errors import CryptoError
from ler_crypto.limits import check_document, parse_json
from ler_crypto.report import Outcome, VerificationReport
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

    async def fetch(self, url: str) -> Any:
        """The cached list for ``url`` if still fresh, else a fresh fetch."""
        now = self._clock()
        hit = self._cache.get(url)
        if hit is not None and hit[0] > now:
            return hit[1]
        raw = await self.inner.fetch(url)
        document = raw if isinstance(raw, dict) else parse_json(raw)
        if isinstance(document, dict):
            if len(self._cache) >= self.max_entries:
                self._cache.pop(next(iter(self._cache)))
            self._cache[url] = (now + self._ttl_of(document), document)
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


async def verify_list_credential(
    list_credential: dict[str, Any], issuer: str | None, opts: VerifyOptions
) -> None:
    """Checklist 18: the list is a valid VC from the same issuer with a verifying proof."""

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
