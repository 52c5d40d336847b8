"""The verify use cases: run ``ler_crypto``'s verifier with the tenant's trust list and policy,
state the report in the contract's terms, check the challenge (single use), and announce
``VerificationCompleted`` through the outbox.

Bad input never raises here except for what the contract makes an INVALID_ARGUMENT
(empty or oversized input, missing challenge/domain); everything else — garbage bytes
included — is a report with a failed check.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from ler_crypto import verifier as crypto
from ler_crypto.did import DidResolver
from ler_crypto.errors import CryptoError
from ler_crypto.report import Outcome as CryptoOutcome
from ler_crypto.report import VerificationReport as CryptoReport
from ler_crypto.sdjwt.core import parse_sd_jwt, reconstruct
from ler_crypto.vc_model import Policy as CryptoPolicy

from ler_verification.domain.errors import InputRejected, InvalidRequest
from ler_verification.domain.events import Format, Kind, VerificationCompleted
from ler_verification.domain.model import judge_challenge
from ler_verification.domain.report import (
    Outcome,
    Policy,
    Report,
    ReportCheck,
    apply_policy,
    from_crypto,
    syntax_failure,
)
from ler_verification.domain.summary import CredentialSummary, summarize, summarize_sd_jwt_vc
from ler_verification.service_layer.trust import TrustListCache
from ler_verification.service_layer.unit_of_work import UnitOfWorkFactory

MAX_CREDENTIAL_BYTES = 1024 * 1024
MAX_PRESENTATION_BYTES = 4 * 1024 * 1024
MAX_CHALLENGE_LENGTH = 256
MAX_EXTRA_TRUSTED = 100
MAX_ISSUER_ID_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class VerifyCredential:
    """Command: verify one credential for ``verifier_id``."""

    verifier_id: str
    data: bytes
    format: Format = Format.UNKNOWN
    policy: Policy = field(default_factory=Policy)
    # status lists cached before this instant are refetched (see ``status_fresh_after``)
    status_fresh_after: datetime | None = None
    # trusted for this call in addition to the verifier's trust list
    trusted_issuer_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class VerifyPresentation:
    """Command: verify a presentation bound to ``challenge`` and ``domain``."""

    verifier_id: str
    data: bytes
    challenge: str
    domain: str
    format: Format = Format.UNKNOWN
    policy: Policy = field(default_factory=Policy)
    status_fresh_after: datetime | None = None
    trusted_issuer_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Verification:
    """The result of a verify use case."""

    verification_id: str
    verified_at: datetime
    report: Report
    format: Format
    summaries: tuple[CredentialSummary, ...] = ()
    holder_id: str = ""


def detect_format(data: bytes) -> Format:
    """JSON object → Data Integrity (``ldp_vc``); ``a.b.c`` / ``a.b.c~d~`` → SD-JWT VC."""
    head = data.lstrip()[:1]
    if head == b"{":
        return Format.LDP_VC
    if head and head not in b'["' and data.count(b".") >= 2:
        return Format.SD_JWT_VC
    return Format.UNKNOWN


@dataclass(frozen=True, slots=True)
class _Parsed:
    """What the crypto verifier gets, and the declared-vs-detected format outcome."""

    payload: Any
    format: Format
    mismatch: str | None = None


def _parse(data: bytes, declared: Format) -> _Parsed:
    detected = detect_format(data)
    if (
        declared is not Format.UNKNOWN
        and detected is not Format.UNKNOWN
        and detected is not declared
    ):
        mismatch = f"declared format {declared.value} but the input is {detected.value}"
        return _Parsed(data, declared, mismatch)
    if detected is Format.SD_JWT_VC:
        try:
            return _Parsed(data.decode("utf-8").strip(), detected)
        except UnicodeDecodeError:
            return _Parsed(data, detected)
    # JSON goes to ler_crypto as bytes: its bounded parser is the one that judges the input
    return _Parsed(data, declared if declared is not Format.UNKNOWN else detected)


def _document(data: bytes, parsed: _Parsed, crypto_report: CryptoReport, prepared: Any) -> Any:
    """The JSON document, once ler_crypto's bounded parser has accepted it (else ``None``).

    ``prepared``: the document the offline phase parsed, if any (not parsed again)."""
    if parsed.format is not Format.LDP_VC or crypto_report.malformed:
        return None
    parse = crypto_report.check("parse")
    if parse is None or parse.outcome is not CryptoOutcome.PASS:
        return None
    if isinstance(prepared, dict):
        return prepared
    # safe to load plainly: within ler_crypto's size, depth and duplicate-key limits
    return json.loads(data)


def _sd_jwt_summary(parsed: _Parsed, crypto_report: CryptoReport) -> CredentialSummary | None:
    """The summary of an SD-JWT VC from the claims its disclosures reveal (RFC 9901 §7.1
    processing), once its signature and disclosures have been checked; else ``None``."""
    if parsed.format is not Format.SD_JWT_VC or not isinstance(parsed.payload, str):
        return None
    proof = crypto_report.check("proof")
    if proof is None or proof.outcome is not CryptoOutcome.PASS:
        return None  # unchecked claims would be whatever the sender wrote
    try:
        sd_jwt = parse_sd_jwt(parsed.payload)
        claims, _ = reconstruct(sd_jwt)
    except CryptoError:
        return None
    digest = hashlib.sha256(sd_jwt.issuer_jwt.encode("ascii")).hexdigest()
    return summarize_sd_jwt_vc(claims, fallback_id=f"urn:sd-jwt:sha-256:{digest}")


def _check_extra_trusted(ids: tuple[str, ...]) -> None:
    if len(ids) > MAX_EXTRA_TRUSTED:
        raise InvalidRequest("trusted_issuer_ids", f"has more than {MAX_EXTRA_TRUSTED} entries")
    for i, issuer_id in enumerate(ids):
        if not issuer_id or len(issuer_id) > MAX_ISSUER_ID_LENGTH:
            raise InvalidRequest(
                f"trusted_issuer_ids[{i}]",
                f"must be a DID or URL of 1 to {MAX_ISSUER_ID_LENGTH} characters",
            )


def _require(data: bytes, field_name: str, limit: int) -> None:
    if not data:
        raise InputRejected(field_name, "is empty")
    if len(data) > limit:
        raise InputRejected(field_name, f"is larger than {limit // (1024 * 1024)} MiB")


def _issuers(crypto_report: CryptoReport) -> tuple[str, ...]:
    """Issuer ids for the event: DIDs or web URLs of institutions (public actors) only, so
    an attacker-chosen ``issuer`` string cannot smuggle arbitrary text into the event."""
    found = [crypto_report.issuer] + [r.issuer for r in crypto_report.credentials]
    return tuple(
        dict.fromkeys(
            i
            for i in found
            if isinstance(i, str) and len(i) <= 1024 and i.startswith(("did:", "https://"))
        )
    )


class CredentialPreparer(Protocol):
    """Runs the offline phase of credential verification (``ler_crypto``'s
    ``prepare_credential``: parse, data model, JSON-LD, profile, and the proofs and issuer key
    when their DIDs resolve offline) — in this process or on worker processes
    (``adapters.prepare_pool``)."""

    async def prepare(
        self, data: Any, policy: CryptoPolicy, now: datetime
    ) -> crypto.PreparedCredential:
        """The prepared credential for ``data`` (bytes of JSON, or an SD-JWT VC string),
        its proofs (if checked offline) as of ``now``."""
        ...


@runtime_checkable
class FreshnessAwareStatusLists(Protocol):
    """A status list fetcher that can refetch lists cached before a given instant."""

    async def fetch(self, url: str) -> Any:
        """The list credential at ``url`` as parsed JSON."""

    def fresh_after(self, instant: float | None) -> crypto.StatusListFetcher:
        """A fetcher for one verification accepting nothing fetched before ``instant``."""


class VerificationService:
    """The verify use cases, with their collaborators injected by the composition root."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        *,
        resolver: DidResolver,
        status_fetcher: FreshnessAwareStatusLists | crypto.StatusListFetcher | None,
        trust: TrustListCache,
        publish: Callable[[VerificationCompleted], Awaitable[None]] | None = None,
        clock_skew: timedelta = timedelta(seconds=60),
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        preparer: CredentialPreparer | None = None,
    ) -> None:
        self._uow_factory = uow_factory
        self._preparer = preparer  # None: the offline phase always runs in this process
        self._resolver = resolver
        self._status_fetcher = status_fetcher
        self._trust = trust
        self._publish = publish
        self._clock_skew = clock_skew
        self._now = now
        # credential verifications under way in this process (see ``_prepare``)
        self._verifying = 0

    def _status_lists(
        self, fresh_after: datetime | None, now: datetime
    ) -> crypto.StatusListFetcher | None:
        """The status fetcher for one verification. A caller reacting to a status event states
        the event's time, so lists cached before it are refetched whatever the order in which
        this service and the caller consume that event (a future instant counts as now, so a
        caller cannot switch the cache off for later verifications)."""
        fetcher = self._status_fetcher
        if fresh_after is None or not isinstance(fetcher, FreshnessAwareStatusLists):
            return fetcher
        # The event's time comes from the issuer's clock, which may be behind ours: a list we
        # fetched up to ``clock_skew`` after it may still predate the change, so it is refetched
        # too (erring towards one extra fetch, never towards a stale answer).
        # min(fresh_after + skew, now), written so a far-future instant cannot overflow
        instant = min(fresh_after, now - self._clock_skew) + self._clock_skew
        return fetcher.fresh_after(instant.timestamp())

    async def _common(
        self,
        verifier_id: str,
        policy: Policy,
        fresh_after: datetime | None = None,
        extra_trusted: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        _check_extra_trusted(extra_trusted)
        trust_list = await self._trust.get(verifier_id)
        trusted = trust_list.trusted_ids(policy.required_accreditations)
        if extra_trusted and not policy.required_accreditations:
            # the caller acts for the verifier: naming issuers for one call is the verifier's
            # own decision, like its list (accreditation policies need the list's labels)
            trusted = (trusted or frozenset()) | frozenset(extra_trusted)
        now = self._now()
        return {
            "resolver": self._resolver,
            "status_fetcher": self._status_lists(fresh_after, now),
            "now": now,
            "clock_skew": self._clock_skew,
            "trusted_issuers": trusted,
            "policy": CryptoPolicy(allow_v1=policy.accept_vc_v1),
        }

    async def _prepare(
        self, parsed: _Parsed, policy: CryptoPolicy, now: datetime
    ) -> crypto.PreparedCredential:
        """The offline phase. SD-JWT VCs have none worth moving (ler_crypto verifies them
        whole online). A verification alone in the process is prepared here too: handing it
        to a worker process costs more time (pickling, pipes, the executor's threads: 2-3 ms
        measured for one call at a time) than the ~1 ms of work, and there is nothing else
        for this process to do meanwhile; with others under way, the workers take it."""
        if self._preparer is None or parsed.format is Format.SD_JWT_VC or self._verifying <= 1:
            return crypto.prepare_credential(parsed.payload, policy=policy, proofs_as_of=now)
        return await self._preparer.prepare(parsed.payload, policy, now)

    async def verify_credential(self, cmd: VerifyCredential) -> Verification:
        """Verify one credential and report every check (VerifyCredential)."""
        _require(cmd.data, "credential", MAX_CREDENTIAL_BYTES)
        self._verifying += 1
        try:
            return await self._verify_credential(cmd)
        finally:
            self._verifying -= 1

    async def _verify_credential(self, cmd: VerifyCredential) -> Verification:
        started = time.perf_counter()
        options = await self._common(
            cmd.verifier_id, cmd.policy, cmd.status_fresh_after, cmd.trusted_issuer_ids
        )
        parsed = _parse(cmd.data, cmd.format)
        issuers: tuple[str, ...] = ()
        document: Any = None
        sd_jwt_summary: CredentialSummary | None = None
        if parsed.mismatch is not None:
            report = syntax_failure(parsed.mismatch)
        else:
            # the offline phase (parse, data model, profile; keys that resolve offline) may
            # run on a worker process
            prepared = await self._prepare(parsed, options["policy"], options["now"])
            offline_document = prepared.document  # taken first: completing consumes it
            crypto_report = await crypto.complete_credential(prepared, **options)
            document = _document(cmd.data, parsed, crypto_report, offline_document)
            report = apply_policy(from_crypto(crypto_report, document), cmd.policy)
            issuers = _issuers(crypto_report)
            sd_jwt_summary = _sd_jwt_summary(parsed, crypto_report)
        summary = summarize(document) or sd_jwt_summary
        result = Verification(
            str(uuid.uuid4()), options["now"], report, parsed.format, (summary,) if summary else ()
        )
        event = self._event(cmd.verifier_id, Kind.CREDENTIAL, result, issuers, 1, started)
        if self._publish is not None:
            await self._publish(event)  # group commit with concurrent verifications
        else:
            async with self._uow_factory() as uow:
                uow.publish(event)
        return result

    async def verify_presentation(self, cmd: VerifyPresentation) -> Verification:
        """Verify a presentation, its holder binding, challenge (single use) and domain."""
        _require(cmd.data, "presentation", MAX_PRESENTATION_BYTES)
        for name, value in (("expected_challenge", cmd.challenge), ("expected_domain", cmd.domain)):
            if not value:
                raise InputRejected(name, "is required")
            if len(value) > MAX_CHALLENGE_LENGTH:
                raise InputRejected(name, f"is longer than {MAX_CHALLENGE_LENGTH} characters")
        started = time.perf_counter()
        options = await self._common(
            cmd.verifier_id, cmd.policy, cmd.status_fresh_after, cmd.trusted_issuer_ids
        )
        parsed = _parse(cmd.data, cmd.format)
        issuers: tuple[str, ...] = ()
        summaries: tuple[CredentialSummary, ...] = ()
        holder = ""
        if parsed.mismatch is not None:
            report = syntax_failure(parsed.mismatch)
        else:
            if parsed.format is Format.SD_JWT_VC:
                # an SD-JWT presentation is the SD-JWT VC with a Key Binding JWT whose nonce and
                # aud are the challenge and domain (SD-JWT §4.3)
                crypto_report = await crypto.verify_credential(
                    parsed.payload, challenge=cmd.challenge, domain=cmd.domain, **options
                )
            else:
                crypto_report = await crypto.verify_presentation(
                    parsed.payload, challenge=cmd.challenge, domain=cmd.domain, **options
                )
            document = _document(cmd.data, parsed, crypto_report, None)
            report = apply_policy(from_crypto(crypto_report, document), cmd.policy)
            issuers = _issuers(crypto_report)
            summaries, holder = _presentation_parts(document)
            sd_jwt_summary = _sd_jwt_summary(parsed, crypto_report)
            if sd_jwt_summary is not None:
                # holder_id stays empty: key binding proves control of ``cnf``, not of a DID
                summaries = (sd_jwt_summary,)
        now = options["now"]
        result_id = str(uuid.uuid4())
        async with self._uow_factory() as uow:
            # spent by its first use, whatever the verdict (contract: VerifyPresentation)
            challenge, first_use = await uow.challenges.consume(cmd.challenge, cmd.verifier_id, now)
            problem, reason = judge_challenge(
                challenge, first_use=first_use, domain=cmd.domain, now=now
            )
            report.checks.append(
                ReportCheck(
                    "presentation.replay",
                    "Challenge issued here and not used before",
                    Outcome.FAIL if problem else Outcome.PASS,
                    reason,
                    problem.value if problem else "",
                )
            )
            result = Verification(result_id, now, report, parsed.format, summaries, holder)
            count = max(len(summaries), 1 if parsed.format is Format.SD_JWT_VC else 0)
            uow.publish(
                self._event(cmd.verifier_id, Kind.PRESENTATION, result, issuers, count, started)
            )
        return result

    def _event(
        self,
        verifier_id: str,
        kind: Kind,
        result: Verification,
        issuers: tuple[str, ...],
        count: int,
        started: float,
    ) -> VerificationCompleted:
        return VerificationCompleted.of(
            verification_id=result.verification_id,
            verifier_id=verifier_id,
            kind=kind,
            fmt=result.format,
            report=result.report,
            issuer_ids=issuers,
            credential_count=count,
            completed_at=self._now(),
            duration=timedelta(seconds=time.perf_counter() - started),
        )


def _presentation_parts(document: Any) -> tuple[tuple[CredentialSummary, ...], str]:
    if not isinstance(document, dict):
        return (), ""
    holder = document.get("holder")
    if isinstance(holder, dict):
        holder = holder.get("id")
    vcs = document.get("verifiableCredential", [])
    summaries = tuple(
        s for s in (summarize(vc) for vc in (vcs if isinstance(vcs, list) else [vcs])) if s
    )
    return summaries, holder if isinstance(holder, str) else ""
