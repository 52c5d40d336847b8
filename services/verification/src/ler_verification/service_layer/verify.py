"""The verify use cases: run ``ler_crypto``'s verifier with the tenant's trust list and policy,
state the report in the contract's terms, check the challenge (single use), and announce
``VerificationCompleted`` through the outbox.

Bad input never raises here except for what the contract makes an INVALID_ARGUMENT
(empty or oversized input, missing challenge/domain); everything else — garbage bytes
included — is a report with a failed check.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ler_crypto import verifier as crypto
from ler_crypto.did import DidResolver
from ler_crypto.report import Outcome as CryptoOutcome
from ler_crypto.report import VerificationReport as CryptoReport
from ler_crypto.vc_model import Policy as CryptoPolicy

from ler_verification.domain.errors import InputRejected
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
from ler_verification.domain.summary import CredentialSummary, summarize
from ler_verification.service_layer.trust import TrustListCache
from ler_verification.service_layer.unit_of_work import UnitOfWorkFactory

MAX_CREDENTIAL_BYTES = 1024 * 1024
MAX_PRESENTATION_BYTES = 4 * 1024 * 1024
MAX_CHALLENGE_LENGTH = 256


@dataclass(frozen=True, slots=True)
class VerifyCredential:
    """Command: verify one credential for ``verifier_id``."""

    verifier_id: str
    data: bytes
    format: Format = Format.UNKNOWN
    policy: Policy = field(default_factory=Policy)


@dataclass(frozen=True, slots=True)
class VerifyPresentation:
    """Command: verify a presentation bound to ``challenge`` and ``domain``."""

    verifier_id: str
    data: bytes
    challenge: str
    domain: str
    format: Format = Format.UNKNOWN
    policy: Policy = field(default_factory=Policy)


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


def _document(data: bytes, parsed: _Parsed, crypto_report: CryptoReport) -> Any:
    """The JSON document, once ler_crypto's bounded parser has accepted it (else ``None``)."""
    if parsed.format is not Format.LDP_VC or crypto_report.malformed:
        return None
    parse = crypto_report.check("parse")
    if parse is None or parse.outcome is not CryptoOutcome.PASS:
        return None
    # safe to load plainly: within ler_crypto's size, depth and duplicate-key limits
    return json.loads(data)


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


class VerificationService:
    """The verify use cases, with their collaborators injected by the composition root."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        *,
        resolver: DidResolver,
        status_fetcher: crypto.StatusListFetcher | None,
        trust: TrustListCache,
        publish: Callable[[VerificationCompleted], Awaitable[None]] | None = None,
        clock_skew: timedelta = timedelta(seconds=60),
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._uow_factory = uow_factory
        self._resolver = resolver
        self._status_fetcher = status_fetcher
        self._trust = trust
        self._publish = publish
        self._clock_skew = clock_skew
        self._now = now

    async def _common(self, verifier_id: str, policy: Policy) -> dict[str, Any]:
        trust_list = await self._trust.get(verifier_id)
        return {
            "resolver": self._resolver,
            "status_fetcher": self._status_fetcher,
            "now": self._now(),
            "clock_skew": self._clock_skew,
            "trusted_issuers": trust_list.trusted_ids(policy.required_accreditations),
            "policy": CryptoPolicy(allow_v1=policy.accept_vc_v1),
        }

    async def verify_credential(self, cmd: VerifyCredential) -> Verification:
        """Verify one credential and report every check (VerifyCredential)."""
        _require(cmd.data, "credential", MAX_CREDENTIAL_BYTES)
        started = time.perf_counter()
        options = await self._common(cmd.verifier_id, cmd.policy)
        parsed = _parse(cmd.data, cmd.format)
        issuers: tuple[str, ...] = ()
        document: Any = None
        if parsed.mismatch is not None:
            report = syntax_failure(parsed.mismatch)
        else:
            crypto_report = await crypto.verify_credential(parsed.payload, **options)
            document = _document(cmd.data, parsed, crypto_report)
            report = apply_policy(from_crypto(crypto_report, document), cmd.policy)
            issuers = _issuers(crypto_report)
        summary = summarize(document)
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
        options = await self._common(cmd.verifier_id, cmd.policy)
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
            document = _document(cmd.data, parsed, crypto_report)
            report = apply_policy(from_crypto(crypto_report, document), cmd.policy)
            issuers = _issuers(crypto_report)
            summaries, holder = _presentation_parts(document)
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
