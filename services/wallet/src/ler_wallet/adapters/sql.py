"""SQLAlchemy repositories and the unit of work (outbox written in the same commit)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ler_platform.unit_of_work import OutboxItem
from ler_platform.unit_of_work import SqlUnitOfWork as PlatformUnitOfWork
from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ler_wallet import tables as t
from ler_wallet.adapters.proto import event_message
from ler_wallet.domain.errors import EmailTaken
from ler_wallet.domain.events import DomainEvent
from ler_wallet.domain.model import (
    AccessLogEntry,
    AccessOutcome,
    Account,
    CredentialFormat,
    CredentialSummary,
    Curation,
    HeldCredential,
    ResearchConsent,
    SelfAssertedSkill,
    ShareLink,
    Skill,
    Source,
    StatusState,
)
from ler_wallet.service_layer.unit_of_work import (
    AccessLogRepository,
    AccountRepository,
    ConsentRepository,
    CredentialRepository,
    ShareLinkRepository,
    SkillRepository,
)


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes: they were written in UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _req_utc(moment: datetime) -> datetime:
    value = _utc(moment)
    if value is None:  # pragma: no cover - NOT NULL columns
        raise ValueError("missing timestamp")
    return value


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _from_iso(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def skill_to_json(skill: Skill) -> dict[str, str]:
    """JSON form of a skill."""
    return {
        "label": skill.label,
        "url": skill.url,
        "framework": skill.framework,
        "code": skill.code,
        "description": skill.description,
        "target_type": skill.target_type,
    }


def skill_from_json(data: dict[str, Any]) -> Skill:
    """A skill from its JSON form."""
    return Skill(**{k: str(data.get(k, "")) for k in skill_to_json(Skill("")).keys()})


def summary_to_json(s: CredentialSummary) -> dict[str, Any]:
    """JSON form of a summary."""
    return {
        "credential_id": s.credential_id,
        "kind": s.kind,
        "types": list(s.types),
        "issuer_id": s.issuer_id,
        "issuer_name": s.issuer_name,
        "subject_id": s.subject_id,
        "achievement_name": s.achievement_name,
        "achievement_type": s.achievement_type,
        "skills": [skill_to_json(k) for k in s.skills],
        "valid_from": _iso(s.valid_from),
        "valid_until": _iso(s.valid_until),
        "awarded_at": _iso(s.awarded_at),
        "embedded_credential_ids": list(s.embedded_credential_ids),
    }


def summary_from_json(d: dict[str, Any]) -> CredentialSummary:
    """A summary from its JSON form."""
    return CredentialSummary(
        credential_id=d["credential_id"],
        kind=d["kind"],
        types=tuple(d["types"]),
        issuer_id=d["issuer_id"],
        issuer_name=d.get("issuer_name", ""),
        subject_id=d.get("subject_id", ""),
        achievement_name=d.get("achievement_name", ""),
        achievement_type=d.get("achievement_type", ""),
        skills=tuple(skill_from_json(k) for k in d.get("skills", [])),
        valid_from=_from_iso(d.get("valid_from")),
        valid_until=_from_iso(d.get("valid_until")),
        awarded_at=_from_iso(d.get("awarded_at")),
        embedded_credential_ids=tuple(d.get("embedded_credential_ids", [])),
    )


def _account(row: Row[Any]) -> Account:
    return Account(
        account_id=row.account_id,
        display_name=row.display_name,
        email=row.email,
        holder_did=row.holder_did,
        holder_verification_method=row.holder_verification_method,
        encrypted_holder_key=bytes(row.encrypted_holder_key),
        api_key_hash=row.api_key_hash,
        created_at=_req_utc(row.created_at),
        idempotency_key=row.idempotency_key or "",
    )


def _credential(row: Row[Any]) -> HeldCredential:
    return HeldCredential(
        account_id=row.account_id,
        credential_id=row.credential_id,
        format=CredentialFormat(row.format),
        media_type=row.media_type,
        signed=bytes(row.signed),
        bytes_hash=row.bytes_hash,
        summary=summary_from_json(row.summary),
        receipt_report=row.receipt_report,
        verified=row.verified,
        source=Source(row.source),
        stored_at=_req_utc(row.stored_at),
        status=StatusState(row.status),
        curation=Curation(row.hidden, row.featured, tuple(row.tags), row.sort_order),
    )


def _link(row: Row[Any]) -> ShareLink:
    return ShareLink(
        share_link_id=row.share_link_id,
        account_id=row.account_id,
        token_hash=row.token_hash,
        credential_ids=tuple(row.credential_ids),
        label=row.label,
        created_at=_req_utc(row.created_at),
        expires_at=_req_utc(row.expires_at),
        max_accesses=row.max_accesses,
        access_count=row.access_count,
        revoked_at=_utc(row.revoked_at),
        audience=row.audience,
    )


class SqlAccounts:
    """``AccountRepository`` on SQLAlchemy."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def _one(self, *where: Any) -> Account | None:
        row = (await self._s.execute(select(t.accounts).where(*where))).first()
        return _account(row) if row else None

    async def add(self, account: Account) -> None:
        try:
            await self._insert_account(account)
        except IntegrityError as err:
            # a concurrent CreateAccount won the race for this email (or idempotency key)
            raise EmailTaken() from err

    async def _insert_account(self, account: Account) -> None:
        await self._s.execute(
            insert(t.accounts).values(
                account_id=account.account_id,
                display_name=account.display_name,
                email=account.email,
                holder_did=account.holder_did,
                holder_verification_method=account.holder_verification_method,
                encrypted_holder_key=account.encrypted_holder_key,
                api_key_hash=account.api_key_hash,
                idempotency_key=account.idempotency_key or None,
                created_at=account.created_at,
            )
        )

    async def get(self, account_id: str) -> Account | None:
        return await self._one(t.accounts.c.account_id == account_id)

    async def by_email(self, email: str) -> Account | None:
        return await self._one(t.accounts.c.email == email)

    async def by_idempotency_key(self, key: str) -> Account | None:
        return await self._one(t.accounts.c.idempotency_key == key)

    async def by_holder_did(self, did: str) -> Account | None:
        return await self._one(t.accounts.c.holder_did == did)

    async def by_api_key_hash(self, key_hash: str) -> Account | None:
        return await self._one(t.accounts.c.api_key_hash == key_hash)

    async def save_api_key_hash(self, account_id: str, key_hash: str) -> None:
        await self._s.execute(
            update(t.accounts)
            .where(t.accounts.c.account_id == account_id)
            .values(api_key_hash=key_hash)
        )

    async def delete_everything(self, account_id: str) -> int:
        counted = await self._s.execute(
            delete(t.credentials).where(t.credentials.c.account_id == account_id)
        )
        for table in (
            t.self_asserted_skills,
            t.share_links,
            t.access_log,
            t.research_consents,
            t.accounts,
        ):
            await self._s.execute(delete(table).where(table.c.account_id == account_id))
        return int(getattr(counted, "rowcount", 0) or 0)


class SqlCredentials:
    """``CredentialRepository`` on SQLAlchemy."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, c: HeldCredential) -> None:
        await self._s.execute(
            insert(t.credentials).values(
                account_id=c.account_id,
                credential_id=c.credential_id,
                format=c.format.value,
                media_type=c.media_type,
                signed=c.signed,
                bytes_hash=c.bytes_hash,
                summary=summary_to_json(c.summary),
                receipt_report=c.receipt_report,
                verified=c.verified,
                source=c.source.value,
                status=c.status.value,
                stored_at=c.stored_at,
                hidden=c.curation.hidden,
                featured=c.curation.featured,
                tags=list(c.curation.tags),
                sort_order=c.curation.sort_order,
            )
        )

    async def get(self, account_id: str, credential_id: str) -> HeldCredential | None:
        row = (
            await self._s.execute(
                select(t.credentials).where(
                    t.credentials.c.account_id == account_id,
                    t.credentials.c.credential_id == credential_id,
                )
            )
        ).first()
        return _credential(row) if row else None

    async def find_duplicate(
        self, account_id: str, credential_id: str, bytes_hash: str
    ) -> HeldCredential | None:
        c = t.credentials.c
        row = (
            await self._s.execute(
                select(t.credentials).where(
                    c.account_id == account_id,
                    (c.credential_id == credential_id) | (c.bytes_hash == bytes_hash),
                )
            )
        ).first()
        return _credential(row) if row else None

    async def for_account(self, account_id: str) -> list[HeldCredential]:
        rows = await self._s.execute(
            select(t.credentials).where(t.credentials.c.account_id == account_id)
        )
        return [_credential(r) for r in rows]

    async def by_credential_id(self, credential_id: str) -> list[HeldCredential]:
        rows = await self._s.execute(
            select(t.credentials).where(t.credentials.c.credential_id == credential_id)
        )
        return [_credential(r) for r in rows]

    async def save(self, c: HeldCredential) -> None:
        await self._s.execute(
            update(t.credentials)
            .where(
                t.credentials.c.account_id == c.account_id,
                t.credentials.c.credential_id == c.credential_id,
            )
            .values(
                status=c.status.value,
                hidden=c.curation.hidden,
                featured=c.curation.featured,
                tags=list(c.curation.tags),
                sort_order=c.curation.sort_order,
            )
        )


class SqlSkills:
    """``SkillRepository`` on SQLAlchemy."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def upsert(self, skill: SelfAssertedSkill) -> None:
        values = {
            "account_id": skill.account_id,
            "skill_key": "|".join(skill.skill.key),
            "skill": skill_to_json(skill.skill),
            "narrative": skill.narrative,
            "asserted_at": skill.asserted_at,
        }
        dialect = self._s.bind.dialect.name if self._s.bind is not None else "sqlite"
        stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(t.self_asserted_skills)
        await self._s.execute(
            stmt.values(**values).on_conflict_do_update(
                index_elements=["account_id", "skill_key"],
                set_={
                    "skill": values["skill"],
                    "narrative": values["narrative"],
                    "asserted_at": values["asserted_at"],
                },
            )
        )

    async def for_account(self, account_id: str) -> list[SelfAssertedSkill]:
        rows = await self._s.execute(
            select(t.self_asserted_skills).where(t.self_asserted_skills.c.account_id == account_id)
        )
        return [
            SelfAssertedSkill(
                r.account_id, skill_from_json(r.skill), r.narrative, _req_utc(r.asserted_at)
            )
            for r in rows
        ]


class SqlShareLinks:
    """``ShareLinkRepository`` on SQLAlchemy."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, link: ShareLink) -> None:
        await self._s.execute(
            insert(t.share_links).values(
                share_link_id=link.share_link_id,
                account_id=link.account_id,
                token_hash=link.token_hash,
                credential_ids=list(link.credential_ids),
                label=link.label,
                created_at=link.created_at,
                expires_at=link.expires_at,
                max_accesses=link.max_accesses,
                access_count=link.access_count,
                revoked_at=link.revoked_at,
                audience=link.audience,
            )
        )

    async def get(self, account_id: str, share_link_id: str) -> ShareLink | None:
        row = (
            await self._s.execute(
                select(t.share_links).where(
                    t.share_links.c.account_id == account_id,
                    t.share_links.c.share_link_id == share_link_id,
                )
            )
        ).first()
        return _link(row) if row else None

    async def by_token_hash(self, token_hash: str) -> ShareLink | None:
        # FOR UPDATE: two concurrent views must not both take the last allowed access
        # (SQLite ignores it; its BEGIN IMMEDIATE already serialises writers)
        row = (
            await self._s.execute(
                select(t.share_links)
                .where(t.share_links.c.token_hash == token_hash)
                .with_for_update()
            )
        ).first()
        return _link(row) if row else None

    async def save(self, link: ShareLink) -> None:
        await self._s.execute(
            update(t.share_links)
            .where(t.share_links.c.share_link_id == link.share_link_id)
            .values(access_count=link.access_count, revoked_at=link.revoked_at)
        )

    async def for_account(self, account_id: str) -> list[ShareLink]:
        rows = await self._s.execute(
            select(t.share_links).where(t.share_links.c.account_id == account_id)
        )
        return [_link(r) for r in rows]


class SqlAccessLog:
    """``AccessLogRepository`` on SQLAlchemy."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, e: AccessLogEntry) -> None:
        await self._s.execute(
            insert(t.access_log).values(
                entry_id=e.entry_id,
                account_id=e.account_id,
                share_link_id=e.share_link_id,
                accessed_at=e.accessed_at,
                outcome=e.outcome.value,
                verifier_id=e.verifier_id,
                client_network=e.client_network,
                user_agent=e.user_agent,
                seen_credential_ids=list(e.seen_credential_ids),
                channel=e.channel,
                seen_claims={cid: list(paths) for cid, paths in e.seen_claims},
            )
        )

    async def for_account(self, account_id: str) -> list[AccessLogEntry]:
        rows = await self._s.execute(
            select(t.access_log).where(t.access_log.c.account_id == account_id)
        )
        return [
            AccessLogEntry(
                r.entry_id,
                r.account_id,
                r.share_link_id,
                _req_utc(r.accessed_at),
                AccessOutcome(r.outcome),
                r.verifier_id,
                r.client_network,
                r.user_agent,
                tuple(r.seen_credential_ids),
                r.channel,
                tuple((cid, tuple(paths)) for cid, paths in (r.seen_claims or {}).items()),
            )
            for r in rows
        ]


class SqlConsents:
    """``ConsentRepository`` on SQLAlchemy."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self, account_id: str, study_id: str) -> ResearchConsent | None:
        row = (
            await self._s.execute(
                select(t.research_consents).where(
                    t.research_consents.c.account_id == account_id,
                    t.research_consents.c.study_id == study_id,
                )
            )
        ).first()
        return self._consent(row) if row else None

    @staticmethod
    def _consent(r: Row[Any]) -> ResearchConsent:
        return ResearchConsent(
            r.account_id, r.study_id, r.opted_in, r.pseudonym, _req_utc(r.updated_at)
        )

    async def save(self, c: ResearchConsent) -> None:
        await self._s.execute(
            delete(t.research_consents).where(
                t.research_consents.c.account_id == c.account_id,
                t.research_consents.c.study_id == c.study_id,
            )
        )
        await self._s.execute(
            insert(t.research_consents).values(
                account_id=c.account_id,
                study_id=c.study_id,
                opted_in=c.opted_in,
                pseudonym=c.pseudonym,
                updated_at=c.updated_at,
            )
        )

    async def for_account(self, account_id: str) -> list[ResearchConsent]:
        rows = await self._s.execute(
            select(t.research_consents).where(t.research_consents.c.account_id == account_id)
        )
        return [self._consent(r) for r in rows]


class SqlUnitOfWork(PlatformUnitOfWork[DomainEvent]):
    """One transaction of the wallet's repositories (see ``ler_platform.unit_of_work``)."""

    accounts: AccountRepository
    credentials: CredentialRepository
    skills: SkillRepository
    share_links: ShareLinkRepository
    access_log: AccessLogRepository
    consents: ConsentRepository

    def _bind(self, session: AsyncSession) -> None:
        self._session = session
        self.accounts = SqlAccounts(session)
        self.credentials = SqlCredentials(session)
        self.skills = SqlSkills(session)
        self.share_links = SqlShareLinks(session)
        self.access_log = SqlAccessLog(session)
        self.consents = SqlConsents(session)

    def _outbox_items(self, events: Sequence[DomainEvent]) -> list[OutboxItem]:
        # keyed by account: one learner's events stay in order
        return [(e.account_id, event_message(e), e.account_id) for e in events]
