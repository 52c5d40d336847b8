"""Issuing CLR 2.0 ``ClrCredential``s: a learner's achievements bundled into one record.

Existing AchievementCredentials are embedded exactly as signed; new ones are issued in the
same transaction (each idempotent on its own record id). The CLR itself is idempotent on its
record id like any other credential.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import orjson
from ler_platform.errors import FieldViolation

from ler_issuance.domain.credentials import build_clr_credential
from ler_issuance.domain.errors import (
    CredentialNotFound,
    CredentialRevoked,
    InvalidSpec,
    IssuerNotFound,
    RecordIdConflict,
    RecordNotIssued,
    StatusTransitionNotAllowed,
    invalid,
)
from ler_issuance.domain.events import CredentialIssued
from ler_issuance.domain.model import (
    Achievement,
    CredentialFormat,
    CredentialKind,
    CredentialRecord,
    CredentialSpec,
    CredentialState,
    Cryptosuite,
    Evidence,
    Result,
    Subject,
)
from ler_issuance.domain.validation import record_id_violations, subject_violations
from ler_issuance.service_layer.context import Context
from ler_issuance.service_layer.issuing import MEDIA_TYPE_LDP, BatchIssuer, Outcome
from ler_issuance.service_layer.status import allocate_entries
from ler_issuance.service_layer.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class ClrItem:
    """One achievement to issue now and embed."""

    record_id: str
    template_id: str = ""
    achievement: Achievement | None = None
    results: tuple[Result, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    awarded_at: datetime | None = None
    credits_earned: float = 0.0


@dataclass(frozen=True)
class ClrRequest:
    """What IssueClr asks for."""

    record_id: str
    subject: Subject
    name: str
    description: str = ""
    partial: bool = False
    credential_ids: tuple[str, ...] = ()
    achievements: tuple[ClrItem, ...] = ()
    format: CredentialFormat | None = None
    cryptosuite: Cryptosuite | None = None


@dataclass(frozen=True)
class ClrOutcome:
    """The CLR, whether it was a replay, and the AchievementCredentials issued for it."""

    credential: CredentialRecord
    replayed: bool
    issued_credential_ids: tuple[str, ...]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _fingerprint(req: ClrRequest) -> str:
    body = json.dumps(_jsonable(asdict(req)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def _violations(req: ClrRequest) -> list[FieldViolation]:
    out = record_id_violations(req.record_id, "record_id")
    out.extend(subject_violations(req.subject, "subject"))
    if not req.name.strip():
        out.append(FieldViolation("name", "is required"))
    if not req.credential_ids and not req.achievements:
        out.append(
            FieldViolation(
                "credential_ids", "the bundle is empty: give credential_ids or achievements"
            )
        )
    if req.format is CredentialFormat.SD_JWT_VC:
        out.append(FieldViolation("format", "a CLR is issued as LDP_VC"))
    return out


def _same_subject(a: Subject, b: Subject) -> bool:
    if a.did and b.did:
        return a.did == b.did
    return bool(a.email) and a.email.strip().lower() == b.email.strip().lower()


async def _embeddable(uow: UnitOfWork, issuer_id: str, req: ClrRequest) -> list[CredentialRecord]:
    """The existing credentials to embed, each checked (own, achievement, subject, not revoked)."""
    embedded: list[CredentialRecord] = []
    for i, cid in enumerate(req.credential_ids):
        record = await uow.credentials.get(issuer_id, cid)
        if record is None:
            raise CredentialNotFound(cid)
        if record.kind is not CredentialKind.ACHIEVEMENT:
            raise invalid(f"credential_ids[{i}]", "only AchievementCredentials can be bundled")
        if not _same_subject(record.subject, req.subject):
            raise StatusTransitionNotAllowed(
                f"credential {cid} was issued to another subject than the CLR's"
            )
        if record.status is CredentialState.REVOKED:
            raise CredentialRevoked(f"credential {cid} is revoked and cannot be bundled")
        embedded.append(record)
    return embedded


async def issue_clr(ctx: Context, issuer_id: str, req: ClrRequest) -> ClrOutcome:
    """See the module docstring: IssueClr, in a transaction of its own."""
    _check(req)
    async with ctx.uow() as uow:
        return await issue_clr_in(ctx, uow, issuer_id, req)


def _check(req: ClrRequest) -> None:
    violations = _violations(req)
    if violations:
        raise InvalidSpec(violations)


async def credential_ids_for(
    uow: UnitOfWork, issuer_id: str, record_ids: tuple[str, ...]
) -> tuple[str, ...]:
    """The ids of the credentials this issuer issued under ``record_ids`` (in order), for
    streamed CLRs, which reference earlier credentials by the institution's record ids."""
    if not record_ids:
        return ()
    if await uow.issuers.get(issuer_id) is None:
        raise IssuerNotFound(issuer_id)
    found = await uow.credentials.by_record_ids(issuer_id, list(dict.fromkeys(record_ids)))
    ids: list[str] = []
    for i, rid in enumerate(record_ids):
        record = found.get(rid)
        if record is None:
            raise RecordNotIssued(rid, f"credential_record_ids[{i}]")
        ids.append(record.credential_id)
    return tuple(ids)


async def issue_clr_in(
    ctx: Context, uow: UnitOfWork, issuer_id: str, req: ClrRequest
) -> ClrOutcome:
    """Issue (or replay) a CLR inside the caller's unit of work — the one way to build a CLR,
    shared by IssueClr and the requests-topic consumer. On error the caller must roll back
    what this wrote (the consumer uses a savepoint per request)."""
    _check(req)
    fingerprint = _fingerprint(req)
    issuer = await uow.issuers.get(issuer_id)
    if issuer is None:
        raise IssuerNotFound(issuer_id)
    item_ids = [a.record_id for a in req.achievements]
    existing = await uow.credentials.by_record_ids(issuer_id, [req.record_id, *item_ids])
    earlier = existing.get(req.record_id)
    if earlier is not None:
        if earlier.fingerprint != fingerprint:
            raise RecordIdConflict(req.record_id, earlier.credential_id)
        issued = tuple(existing[r].credential_id for r in item_ids if r in existing)
        return ClrOutcome(earlier, True, issued)
    embedded = await _embeddable(uow, issuer_id, req)
    specs = [
        CredentialSpec(
            record_id=a.record_id,
            subject=req.subject,
            template_id=a.template_id,
            achievement=a.achievement,
            results=a.results,
            evidence=a.evidence,
            awarded_at=a.awarded_at,
            credits_earned=a.credits_earned,
            cryptosuite=req.cryptosuite,
        )
        for a in req.achievements
    ]
    results = await BatchIssuer(ctx, uow, issuer_id).run(specs) if specs else []
    new_ids: list[str] = []
    for i, result in enumerate(results):
        if result.outcome is Outcome.REJECTED or result.credential is None:
            error = result.error
            if isinstance(error, InvalidSpec):
                raise InvalidSpec(
                    [
                        FieldViolation(
                            f"achievements[{i}].{v.field.removeprefix('spec.')}", v.description
                        )
                        for v in error.violations
                    ]
                )
            raise error or invalid(f"achievements[{i}]", "could not be issued")
        embedded.append(result.credential)
        new_ids.append(result.credential.credential_id)
    (entries,) = await allocate_entries(ctx, uow, issuer, 1)
    now = ctx.now()
    credential_id = f"urn:uuid:{uuid.uuid4()}"
    document = build_clr_credential(
        issuer=issuer,
        subject=req.subject,
        name=req.name,
        description=req.description,
        partial=req.partial,
        credentials=[json.loads(r.signed_credential) for r in embedded],
        credential_id=credential_id,
        status_entries=entries,
        now=now,
    )
    suite = req.cryptosuite or issuer.default_cryptosuite
    signed = ctx.sign(document, issuer, suite, None)
    skills = tuple(dict.fromkeys(s for r in embedded for s in r.skills))
    record = CredentialRecord(
        credential_id=credential_id,
        issuer_id=issuer_id,
        issuer_did=issuer.did,
        record_id=req.record_id,
        fingerprint=fingerprint,
        subject=req.subject,
        kind=CredentialKind.CLR,
        format=CredentialFormat.LDP_VC,
        cryptosuite=suite,
        template_id="",
        achievement_name=req.name,
        achievement_type="",
        skills=skills,
        status=CredentialState.ACTIVE,
        status_reason="",
        status_entries=entries,
        issued_at=now,
        valid_from=now,
        valid_until=None,
        signed_credential=orjson.dumps(signed),
        media_type=MEDIA_TYPE_LDP,
        embedded_credential_ids=tuple(r.credential_id for r in embedded),
    )
    await uow.credentials.add_many([record])
    uow.publish(CredentialIssued(record))
    return ClrOutcome(record, False, tuple(new_ids))
