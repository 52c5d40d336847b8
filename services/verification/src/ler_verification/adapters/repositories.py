"""SQLAlchemy repositories over the service's tables (used inside a unit of work's session)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, exists, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from ler_verification.domain.model import Challenge, TenantKind, TrustedIssuer
from ler_verification.tables import (
    challenges,
    tenants,
    trusted_issuer_accreditations,
    trusted_issuers,
)


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; everything is stored in UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class TenantRepository:
    """Verifier tenants, looked up by the hash of their API key."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, tenant_id: str, name: str, kind: TenantKind, key_hash: str, now: datetime
    ) -> None:
        """Register a tenant."""
        await self._session.execute(
            insert(tenants).values(
                tenant_id=tenant_id,
                name=name,
                kind=kind.value,
                api_key_hash=key_hash,
                created_at=now,
            )
        )

    async def kind_of(self, tenant_id: str) -> TenantKind | None:
        """The tenant's kind, or None when it is not registered."""
        row = await self._session.execute(
            select(tenants.c.kind).where(tenants.c.tenant_id == tenant_id)
        )
        kind = row.scalar_one_or_none()
        return None if kind is None else TenantKind(kind)

    async def replace_key(self, tenant_id: str, key_hash: str) -> None:
        """Give the tenant a new API key (hash); the old key stops working."""
        await self._session.execute(
            update(tenants).where(tenants.c.tenant_id == tenant_id).values(api_key_hash=key_hash)
        )

    async def exists(self, tenant_id: str) -> bool:
        """Whether the tenant is registered."""
        row = await self._session.execute(
            select(tenants.c.tenant_id).where(tenants.c.tenant_id == tenant_id)
        )
        return row.first() is not None

    async def by_key_hash(self, key_hash: str) -> tuple[str, TenantKind] | None:
        """(tenant_id, kind) of the tenant holding the key with this hash."""
        row = (
            await self._session.execute(
                select(tenants.c.tenant_id, tenants.c.kind).where(
                    tenants.c.api_key_hash == key_hash
                )
            )
        ).first()
        return None if row is None else (row.tenant_id, TenantKind(row.kind))


class ChallengeRepository:
    """Issued challenges; consumed atomically."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, challenge: Challenge) -> None:
        """Store a newly issued challenge."""
        await self._session.execute(
            insert(challenges).values(
                challenge=challenge.value,
                verifier_id=challenge.verifier_id,
                domain=challenge.domain,
                created_at=challenge.created_at,
                expires_at=challenge.expires_at,
            )
        )

    async def consume(
        self, value: str, verifier_id: str, now: datetime
    ) -> tuple[Challenge | None, bool]:
        """Mark the challenge used; returns (challenge, first_use).

        The conditional UPDATE is the atomic step: of two concurrent presentations with one
        challenge exactly one sees ``used_at IS NULL`` and wins; the other is a replay.
        """
        result = await self._session.execute(
            update(challenges)
            .where(
                challenges.c.challenge == value,
                challenges.c.verifier_id == verifier_id,
                challenges.c.used_at.is_(None),
            )
            .values(used_at=now)
        )
        first_use = (result.rowcount or 0) == 1  # type: ignore[attr-defined]
        row = (
            await self._session.execute(
                select(challenges).where(
                    challenges.c.challenge == value, challenges.c.verifier_id == verifier_id
                )
            )
        ).first()
        if row is None:
            return None, False
        challenge = Challenge(
            value=row.challenge,
            verifier_id=row.verifier_id,
            domain=row.domain,
            created_at=_utc(row.created_at) or now,
            expires_at=_utc(row.expires_at) or now,
            used_at=_utc(row.used_at),
        )
        return challenge, first_use

    async def prune_expired(self, now: datetime) -> int:
        """Delete expired challenges (a replay of one then fails as unknown)."""
        result = await self._session.execute(
            delete(challenges).where(challenges.c.expires_at < now)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class TrustRepository:
    """Each verifier's trust list."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def put(self, verifier_id: str, issuer: TrustedIssuer, now: datetime) -> bool:
        """Insert or replace the entry; returns True when it was new."""
        key = and_(
            trusted_issuers.c.verifier_id == verifier_id,
            trusted_issuers.c.issuer_id == issuer.issuer_id,
        )
        result = await self._session.execute(
            update(trusted_issuers)
            .where(key)
            .values(name=issuer.name, note=issuer.note, updated_at=now)
        )
        created = (result.rowcount or 0) == 0  # type: ignore[attr-defined]
        if created:
            await self._session.execute(
                insert(trusted_issuers).values(
                    verifier_id=verifier_id,
                    issuer_id=issuer.issuer_id,
                    name=issuer.name,
                    note=issuer.note,
                    updated_at=now,
                )
            )
        else:
            await self._session.execute(
                delete(trusted_issuer_accreditations).where(
                    trusted_issuer_accreditations.c.verifier_id == verifier_id,
                    trusted_issuer_accreditations.c.issuer_id == issuer.issuer_id,
                )
            )
        if issuer.accreditations:
            await self._session.execute(
                insert(trusted_issuer_accreditations),
                [
                    {"verifier_id": verifier_id, "issuer_id": issuer.issuer_id, "label": label}
                    for label in issuer.accreditations
                ],
            )
        return created

    async def remove(self, verifier_id: str, issuer_id: str) -> bool:
        """Delete the entry (labels cascade); returns False when it was not there."""
        await self._session.execute(
            delete(trusted_issuer_accreditations).where(
                trusted_issuer_accreditations.c.verifier_id == verifier_id,
                trusted_issuer_accreditations.c.issuer_id == issuer_id,
            )
        )
        result = await self._session.execute(
            delete(trusted_issuers).where(
                trusted_issuers.c.verifier_id == verifier_id,
                trusted_issuers.c.issuer_id == issuer_id,
            )
        )
        return (result.rowcount or 0) == 1  # type: ignore[attr-defined]

    async def page(
        self, verifier_id: str, *, after: str | None, limit: int, accreditation: str = ""
    ) -> list[TrustedIssuer]:
        """Up to ``limit`` entries ordered by issuer id, after ``after``, optionally by label."""
        query = select(trusted_issuers).where(trusted_issuers.c.verifier_id == verifier_id)
        if after is not None:
            query = query.where(trusted_issuers.c.issuer_id > after)
        if accreditation:
            query = query.where(
                exists().where(
                    trusted_issuer_accreditations.c.verifier_id == trusted_issuers.c.verifier_id,
                    trusted_issuer_accreditations.c.issuer_id == trusted_issuers.c.issuer_id,
                    trusted_issuer_accreditations.c.label == accreditation,
                )
            )
        rows = (
            await self._session.execute(query.order_by(trusted_issuers.c.issuer_id).limit(limit))
        ).all()
        return await self._with_labels(verifier_id, rows)

    async def all(self, verifier_id: str) -> list[TrustedIssuer]:
        """The whole list (trust lists are small: tens to hundreds of issuers)."""
        rows = (
            await self._session.execute(
                select(trusted_issuers).where(trusted_issuers.c.verifier_id == verifier_id)
            )
        ).all()
        return await self._with_labels(verifier_id, rows)

    async def _with_labels(self, verifier_id: str, rows: Sequence[Row[Any]]) -> list[TrustedIssuer]:
        if not rows:
            return []
        ids = [r.issuer_id for r in rows]
        label_rows = (
            await self._session.execute(
                select(
                    trusted_issuer_accreditations.c.issuer_id, trusted_issuer_accreditations.c.label
                )
                .where(
                    trusted_issuer_accreditations.c.verifier_id == verifier_id,
                    trusted_issuer_accreditations.c.issuer_id.in_(ids),
                )
                .order_by(trusted_issuer_accreditations.c.label)
            )
        ).all()
        labels: dict[str, list[str]] = {}
        for row in label_rows:
            labels.setdefault(row.issuer_id, []).append(row.label)
        return [
            TrustedIssuer(
                issuer_id=r.issuer_id,
                name=r.name,
                accreditations=tuple(labels.get(r.issuer_id, ())),
                note=r.note,
                updated_at=_utc(r.updated_at),
            )
            for r in rows
        ]
