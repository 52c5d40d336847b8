"""Issuing AchievementCredentials: one, a batch, or a batch of streamed requests.

Every item is idempotent on (issuer, record id): a record id already issued with the same spec
returns its credential (REPLAYED, nothing signed); with a different spec it is a
``RecordIdConflict``. A batch runs in ONE transaction: existing records are looked up with one
query, status entries are allocated under one lock per list, credentials are inserted together
and their ``CredentialIssued`` events go to the outbox in the same commit.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson
from ler_crypto.did import DidDocument
from ler_crypto.did.methods import resolve_did_jwk, resolve_did_key
from ler_crypto.errors import CryptoError
from ler_crypto.keys import PublicKey
from ler_crypto.sdjwt import issue_sd_jwt_vc
from ler_platform.errors import DomainError

from ler_issuance.domain.credentials import (
    SD_JWT_VCT,
    build_achievement_credential,
    not_valid_ob3,
    result_description_id,
    sd_jwt_claims,
    spec_fingerprint,
)
from ler_issuance.domain.errors import (
    BatchTooLarge,
    InvalidSpec,
    IssuerNotFound,
    RecordIdConflict,
    TemplateNotFound,
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
    Issuer,
    StatusEntryRef,
    StatusPurpose,
)
from ler_issuance.domain.status_lists import token_url
from ler_issuance.domain.validation import result_violations, spec_violations
from ler_issuance.service_layer.context import Context, Rejected, SignJob
from ler_issuance.service_layer.status import allocate_entries
from ler_issuance.service_layer.unit_of_work import DuplicateRecord, UnitOfWork

MEDIA_TYPE_LDP = "application/vc+ld+json"
MEDIA_TYPE_SD_JWT = "application/dc+sd-jwt"


class Outcome(enum.StrEnum):
    """What became of one item."""

    ISSUED = "issued"
    REPLAYED = "replayed"
    REJECTED = "rejected"


@dataclass(frozen=True)
class ItemResult:
    """The result of one item of a batch."""

    index: int
    record_id: str
    outcome: Outcome
    credential: CredentialRecord | None = None
    error: DomainError | None = None


@dataclass
class _Pending:
    index: int
    spec: CredentialSpec
    fingerprint: str
    achievement: Achievement | None = None


@dataclass
class _Draft:
    """A credential on its way: ``document`` waits for the batch signer, ``signed`` is done."""

    item: _Pending
    status_entries: tuple[StatusEntryRef, ...]
    credential_id: str
    moment: datetime
    fmt: CredentialFormat
    suite: Cryptosuite | None
    document: dict[str, Any] | None = None
    signed: bytes | None = None
    error: DomainError | None = None


def new_achievement_id() -> str:
    """Ids for achievements that came without one."""
    return f"urn:uuid:{uuid.uuid4()}"


def with_ids(achievement: Achievement) -> Achievement:
    """The achievement with its id (and its result descriptions' ids) assigned where empty."""
    if achievement.id and all(rd.id for rd in achievement.result_descriptions):
        return achievement  # the usual case: nothing to assign, no copy
    aid = achievement.id or new_achievement_id()
    rds = tuple(
        rd if rd.id else replace(rd, id=f"rd{i + 1}")
        for i, rd in enumerate(achievement.result_descriptions)
    )
    return replace(achievement, id=aid, result_descriptions=rds)


async def _achievement_for(
    uow: UnitOfWork, issuer_id: str, spec: CredentialSpec, cache: dict[str, Achievement]
) -> Achievement:
    if spec.achievement is not None:
        return with_ids(spec.achievement)
    template_id = spec.template_id
    if template_id not in cache:
        template = await uow.templates.get(issuer_id, template_id)
        if template is None:
            raise TemplateNotFound(template_id)
        cache[template_id] = template.achievement
    return cache[template_id]


def _holder_key(subject_did: str) -> PublicKey | None:
    """The learner's key for SD-JWT key binding (``cnf``), when the DID carries it."""
    if not subject_did.startswith(("did:key:", "did:jwk:")):
        return None
    try:
        document = DidDocument(
            resolve_did_key(subject_did)
            if subject_did.startswith("did:key:")
            else resolve_did_jwk(subject_did)
        )
        methods = document.data.get("verificationMethod") or []
        return document.public_key(methods[0]["id"])
    except (CryptoError, LookupError, TypeError) as err:
        raise invalid("spec.subject.did", f"is not a resolvable {subject_did[:8]}: {err}") from err


class BatchIssuer:
    """Issues a batch of specs inside a given unit of work (see the module docstring)."""

    def __init__(self, ctx: Context, uow: UnitOfWork, issuer_id: str) -> None:
        self._ctx = ctx
        self._uow = uow
        self._issuer_id = issuer_id

    async def run(self, specs: Sequence[CredentialSpec]) -> list[ItemResult]:
        """One ``ItemResult`` per spec, in order."""
        results: dict[int, ItemResult] = {}
        issuer = await self._uow.issuers.get(self._issuer_id)
        if issuer is None:
            err = IssuerNotFound(self._issuer_id)
            return [
                ItemResult(i, s.record_id, Outcome.REJECTED, error=err) for i, s in enumerate(specs)
            ]
        pending: list[_Pending] = []
        for i, spec in enumerate(specs):
            violations = spec_violations(spec)
            if violations:
                results[i] = ItemResult(
                    i, spec.record_id, Outcome.REJECTED, error=InvalidSpec(violations)
                )
            else:
                pending.append(_Pending(i, spec, spec_fingerprint(spec)))
        existing = await self._uow.credentials.by_record_ids(
            self._issuer_id, list(dict.fromkeys(p.spec.record_id for p in pending))
        )
        to_issue = await self._resolve(pending, existing, results)
        if to_issue:
            await self._issue(issuer, to_issue, results)
        return [results[i] for i in range(len(specs))]

    async def _resolve(
        self,
        pending: list[_Pending],
        existing: dict[str, CredentialRecord],
        results: dict[int, ItemResult],
    ) -> list[_Pending]:
        """Split into replays/conflicts (decided now) and items to issue."""
        templates: dict[str, Achievement] = {}
        first_new: dict[str, _Pending] = {}
        to_issue: list[_Pending] = []
        for item in pending:
            rid = item.spec.record_id
            earlier = existing.get(rid)
            if earlier is not None:
                results[item.index] = self._replay(item, earlier.fingerprint, earlier)
                continue
            if rid in first_new:  # the same record twice in one batch: decided after issuing
                to_issue.append(item)
                continue
            try:
                item.achievement = await _achievement_for(
                    self._uow, self._issuer_id, item.spec, templates
                )
                violations = result_violations(item.spec, item.achievement)
                if violations:
                    raise InvalidSpec(violations)
            except DomainError as err:
                results[item.index] = ItemResult(item.index, rid, Outcome.REJECTED, error=err)
                continue
            first_new[rid] = item
            to_issue.append(item)
        return to_issue

    def _replay(self, item: _Pending, fingerprint: str, earlier: CredentialRecord) -> ItemResult:
        if fingerprint != item.fingerprint:
            return ItemResult(
                item.index,
                item.spec.record_id,
                Outcome.REJECTED,
                error=RecordIdConflict(item.spec.record_id, earlier.credential_id),
            )
        return ItemResult(item.index, item.spec.record_id, Outcome.REPLAYED, earlier)

    async def _issue(
        self,
        issuer: Issuer,
        items: list[_Pending],
        results: dict[int, ItemResult],
    ) -> None:
        fresh = [i for i in items if i.achievement is not None]
        entries = await allocate_entries(
            self._ctx,
            self._uow,
            issuer,
            len(fresh),
            aligned=[
                (i.spec.format or issuer.default_format) is CredentialFormat.SD_JWT_VC
                for i in fresh
            ],
        )
        issued: dict[str, CredentialRecord] = {}
        records: list[CredentialRecord] = []
        drafts: list[_Draft] = []
        for item, status_entries in zip(fresh, entries, strict=True):
            try:
                drafts.append(self._draft(issuer, item, status_entries))
            except DomainError as err:
                results[item.index] = ItemResult(
                    item.index, item.spec.record_id, Outcome.REJECTED, error=err
                )
        await self._sign_pooled(issuer, drafts)
        for draft in drafts:
            item = draft.item
            if draft.error is not None:
                results[item.index] = ItemResult(
                    item.index, item.spec.record_id, Outcome.REJECTED, error=draft.error
                )
                continue
            record = self._record(issuer, draft)
            issued[item.spec.record_id] = record
            records.append(record)
            results[item.index] = ItemResult(
                item.index, item.spec.record_id, Outcome.ISSUED, record
            )
        for item in items:
            if item.achievement is None:  # a repeat of a record first seen in this batch
                first = issued.get(item.spec.record_id)
                if first is None:
                    results[item.index] = ItemResult(
                        item.index,
                        item.spec.record_id,
                        Outcome.REJECTED,
                        error=invalid(
                            "spec.record_id", "an earlier item with this record id failed"
                        ),
                    )
                else:
                    results[item.index] = self._replay(item, first.fingerprint, first)
        if records:
            await self._uow.credentials.add_many(records)
            for record in records:
                self._uow.publish(CredentialIssued(record))

    def _draft(
        self,
        issuer: Issuer,
        item: _Pending,
        status_entries: tuple[StatusEntryRef, ...],
    ) -> _Draft:
        """The credential of ``item``: signed already, or (with a batch signer) built and
        waiting for ``_sign_pooled``."""
        spec = item.spec
        achievement = item.achievement
        if achievement is None:  # pragma: no cover - filtered by the caller
            raise invalid("spec", "no achievement")
        fmt = spec.format or issuer.default_format
        credential_id = f"urn:uuid:{uuid.uuid4()}"
        moment = self._ctx.now()
        draft = _Draft(item, status_entries, credential_id, moment, fmt, None)
        if fmt is CredentialFormat.SD_JWT_VC:
            draft.signed = self._sd_jwt(issuer, item, achievement, status_entries, moment)
            return draft
        draft.suite = spec.cryptosuite or issuer.default_cryptosuite
        # Every LDP credential goes to the batch signer when there is one, JCS too: the OB 3.0
        # check, the proof and the JSON encoding are ~40% of this process's CPU per JCS
        # credential, and with two request-consumer members the wait for the workers overlaps
        # with the other member's batch (bench/issuance.py, same run: JCS 1,080/s in-process,
        # 1,104-1,285/s pooled; this process's CPU per credential 0.58 -> 0.38 ms).
        pooled = self._ctx.batch_signer is not None
        document = build_achievement_credential(
            issuer=issuer,
            spec=spec,
            achievement=achievement,
            credential_id=credential_id,
            status_entries=status_entries,
            now=moment,
            validate=not pooled,  # the pool's workers run the OB 3.0 check before signing
        )
        if pooled:
            draft.document = document
        else:
            draft.signed = orjson.dumps(self._ctx.sign(document, issuer, draft.suite, None))
        return draft

    async def _sign_pooled(self, issuer: Issuer, drafts: list[_Draft]) -> None:
        """Check and sign the drafts built for the batch signer, all in one call."""
        waiting = [d for d in drafts if d.document is not None and d.suite is not None]
        signer = self._ctx.batch_signer
        if not waiting or signer is None:
            return
        key = issuer.active_key
        signed = await signer.sign(
            key.encrypted_private_key,
            key.verification_method,
            [SignJob(d.document, d.suite.value) for d in waiting if d.document and d.suite],
        )
        for draft, outcome in zip(waiting, signed, strict=True):
            draft.document = None
            if isinstance(outcome, Rejected):
                draft.error = not_valid_ob3(outcome.message)
            else:
                draft.signed = outcome

    def _record(self, issuer: Issuer, draft: _Draft) -> CredentialRecord:
        item, spec = draft.item, draft.item.spec
        achievement = item.achievement
        if achievement is None or draft.signed is None:  # pragma: no cover - see _issue
            raise invalid("spec", "nothing was signed")
        fmt, moment, suite = draft.fmt, draft.moment, draft.suite
        status_entries, signed_bytes = draft.status_entries, draft.signed
        media_type = MEDIA_TYPE_SD_JWT if fmt is CredentialFormat.SD_JWT_VC else MEDIA_TYPE_LDP
        return CredentialRecord(
            credential_id=draft.credential_id,
            issuer_id=issuer.issuer_id,
            issuer_did=issuer.did,
            record_id=spec.record_id,
            fingerprint=item.fingerprint,
            subject=spec.subject,
            kind=CredentialKind.ACHIEVEMENT,
            format=fmt,
            cryptosuite=suite,
            template_id=spec.template_id,
            achievement_name=achievement.name,
            achievement_type=achievement.achievement_type,
            skills=achievement.skills() + tuple(a for r in spec.results for a in r.alignments),
            status=CredentialState.ACTIVE,
            status_reason="",
            status_entries=status_entries,
            issued_at=moment,
            valid_from=spec.valid_from or moment,
            valid_until=spec.valid_until,
            signed_credential=signed_bytes,
            media_type=media_type,
        )

    def _sd_jwt(
        self,
        issuer: Issuer,
        item: _Pending,
        achievement: Achievement,
        status_entries: tuple[StatusEntryRef, ...],
        moment: datetime,
    ) -> bytes:
        """An SD-JWT VC whose ``status`` claim names its index in the Token Status List view
        of its revocation list (SD-JWT VC §3.2.2.2, draft-ietf-oauth-status-list §6.2); its
        entries are aligned, see ``domain.status_lists``."""
        spec = item.spec
        key = issuer.active_key
        revocation = next(e for e in status_entries if e.purpose is StatusPurpose.REVOCATION)
        try:
            compact = issue_sd_jwt_vc(
                issuer=issuer.did,
                vct=SD_JWT_VCT,
                claims=sd_jwt_claims(issuer=issuer, spec=spec, achievement=achievement, now=moment),
                signer=self._ctx.keys.signer(key),
                holder_key=_holder_key(spec.subject.did),
                kid=key.verification_method,
                iat=int(moment.timestamp()),
                nbf=int(spec.valid_from.timestamp()) if spec.valid_from else None,
                exp=int(spec.valid_until.timestamp()) if spec.valid_until else None,
                # issuer-signed and never selectively disclosable (SD-JWT VC §3.2.2.2)
                status={
                    "status_list": {"idx": revocation.index, "uri": token_url(revocation.list_url)}
                },
            )
        except CryptoError as err:
            raise invalid("spec", f"cannot be issued as an SD-JWT VC: {err}") from err
        return compact.encode()


async def issue_batch(
    ctx: Context, issuer_id: str, specs: Sequence[CredentialSpec]
) -> list[ItemResult]:
    """Issue ``specs`` in one transaction; retried once if a concurrent writer won a record."""
    if len(specs) > ctx.batch_max_items:
        raise BatchTooLarge(f"a batch holds at most {ctx.batch_max_items} items")
    try:
        async with ctx.uow() as uow:
            return await BatchIssuer(ctx, uow, issuer_id).run(specs)
    except DuplicateRecord:
        # a concurrent call stored one of these record ids first: run again, it now replays
        async with ctx.uow() as uow:
            return await BatchIssuer(ctx, uow, issuer_id).run(specs)


async def issue_credential(
    ctx: Context, issuer_id: str, spec: CredentialSpec
) -> tuple[CredentialRecord, bool]:
    """Issue one credential; returns it and whether it was a replay. Raises on rejection."""
    (result,) = await issue_batch(ctx, issuer_id, [spec])
    if result.error is not None:
        raise result.error
    if result.credential is None:  # pragma: no cover - non-rejected results carry one
        raise invalid("spec", "nothing was issued")
    return result.credential, result.outcome is Outcome.REPLAYED


__all__ = [
    "BatchIssuer",
    "ItemResult",
    "Outcome",
    "issue_batch",
    "issue_credential",
    "result_description_id",
    "with_ids",
]
