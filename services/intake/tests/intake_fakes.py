"""In-memory fakes of the unit of work and the outside services (tests only)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

from ler_intake.domain.application import (
    Application,
    ApplicationState,
    Check,
    CheckOutcome,
    Evidence,
    Report,
    Verdict,
)
from ler_intake.domain.errors import DomainTaken, ShareLinkUnresolvable, VerificationUnavailable
from ler_intake.domain.events import DomainEvent
from ler_intake.domain.model import Opportunity, Provider, VerificationPolicy
from ler_intake.service_layer.ports import IssuedChallenge, Verified
from ler_intake.service_layer.unit_of_work import Change, Delivery


@dataclass
class Store:
    """Committed state shared by every FakeUnitOfWork of one test."""

    providers: dict[str, Provider] = field(default_factory=dict)
    opportunities: dict[str, tuple[Opportunity, str]] = field(default_factory=dict)
    applications: dict[str, Application] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    webhooks: list[Delivery] = field(default_factory=list)
    events: list[DomainEvent] = field(default_factory=list)
    commits: int = 0
    open_units: int = 0  # units of work (transactions) open right now
    challenges: dict[str, str] = field(default_factory=dict)


class _Providers:
    def __init__(self, s: dict[str, Provider]) -> None:
        self.s = s

    async def add(self, p: Provider) -> None:
        if any(o.domain == p.domain for o in self.s.values()):
            raise DomainTaken(p.domain)
        self.s[p.provider_id] = p

    async def get(self, provider_id: str) -> Provider | None:
        return self.s.get(provider_id)

    async def by_api_key_hash(self, key_hash: str) -> Provider | None:
        return next((p for p in self.s.values() if p.api_key_hash == key_hash), None)


class _Opportunities:
    def __init__(self, s: dict[str, tuple[Opportunity, str]]) -> None:
        self.s = s

    async def add(self, o: Opportunity, key: str) -> Opportunity:
        for other, k in self.s.values():
            if other.provider_id == o.provider_id and k == key:
                return other
        self.s[o.opportunity_id] = (o, key)
        return o

    async def get(self, opportunity_id: str) -> Opportunity | None:
        got = self.s.get(opportunity_id)
        return got[0] if got else None

    async def list(self, provider_id: str | None) -> list[Opportunity]:
        items = [o for o, _ in self.s.values() if provider_id in (None, o.provider_id)]
        return sorted(items, key=lambda o: o.created_at, reverse=True)


class _Applications:
    def __init__(self, s: dict[str, Application]) -> None:
        self.s = s

    async def add(self, a: Application) -> Application:
        twin = await self.by_key(a.opportunity_id, a.idempotency_key)
        if twin is not None:
            return twin
        self.s[a.application_id] = a
        return a

    async def get(self, application_id: str) -> Application | None:
        return self.s.get(application_id)

    async def by_key(self, opportunity_id: str, key: str) -> Application | None:
        return next(
            (
                a
                for a in self.s.values()
                if a.opportunity_id == opportunity_id and a.idempotency_key == key
            ),
            None,
        )

    async def save(self, a: Application) -> None:
        self.s[a.application_id] = a

    async def for_opportunity(
        self, opportunity_id: str, state: ApplicationState | None
    ) -> list[Application]:
        return [
            a
            for a in self.s.values()
            if a.opportunity_id == opportunity_id and state in (None, a.state)
        ]

    async def due_for_verification(self, now: datetime, limit: int) -> list[Application]:
        due = [
            a
            for a in self.s.values()
            if a.state is ApplicationState.SUBMITTED
            and (a.next_verify_at is None or a.next_verify_at <= now)
        ]
        return sorted(due, key=lambda a: a.submitted_at)[:limit]

    async def with_credential(self, credential_id: str) -> list[Application]:
        return [a for a in self.s.values() if a.evidence_by_id(credential_id) is not None]


class _Changes:
    def __init__(self, s: list[Change]) -> None:
        self.s = s

    async def add(
        self, provider_id: str, opportunity_id: str, application_id: str, change: str, at: datetime
    ) -> None:
        self.s.append(
            Change(len(self.s) + 1, provider_id, opportunity_id, application_id, change, at)
        )

    async def after(self, provider_id: str, seq: int, limit: int) -> list[Change]:
        return [c for c in self.s if c.provider_id == provider_id and c.seq > seq][:limit]

    async def last_seq(self) -> int:
        return len(self.s)


class _Webhooks:
    def __init__(self, s: list[Delivery]) -> None:
        self.s = s
        self._ids = itertools.count(1)

    async def enqueue(self, provider_id: str, event_type: str, body: bytes, at: datetime) -> None:
        self.s.append(Delivery(f"whd_{len(self.s) + 1}", provider_id, event_type, body, 0, at))

    async def due(self, now: datetime, limit: int) -> list[Delivery]:
        return [d for d in self.s if d.next_attempt_at <= now][:limit]

    async def lease(self, delivery_id: str, until: datetime) -> None:
        self.s[:] = [
            replace(d, next_attempt_at=until) if d.delivery_id == delivery_id else d for d in self.s
        ]

    async def delivered(self, delivery_id: str, at: datetime) -> None:
        self.s[:] = [d for d in self.s if d.delivery_id != delivery_id]

    async def retry_later(self, delivery_id: str, attempts: int, at: datetime, error: str) -> None:
        self.s[:] = [
            replace(d, attempts=attempts, next_attempt_at=at) if d.delivery_id == delivery_id else d
            for d in self.s
        ]

    async def give_up(self, delivery_id: str, attempts: int, error: str) -> None:
        await self.delivered(delivery_id, datetime.min)


class _Challenges:
    def __init__(self, s: dict[str, str]) -> None:
        self.s = s

    async def record(self, challenge: str, opportunity_id: str, expires_at: datetime) -> None:
        self.s[challenge] = opportunity_id

    async def opportunity_of(self, challenge: str) -> str | None:
        return self.s.get(challenge)


class FakeUnitOfWork:
    """Works on copies of the store; commits them back on a clean exit (like a transaction)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def publish(self, event: DomainEvent) -> None:
        self._events.append(event)

    async def __aenter__(self) -> Self:
        st = self._store
        st.open_units += 1
        self._work = Store(
            dict(st.providers),
            dict(st.opportunities),
            dict(st.applications),
            list(st.changes),
            list(st.webhooks),
        )
        self.providers = _Providers(self._work.providers)
        self.opportunities = _Opportunities(self._work.opportunities)
        self.applications = _Applications(self._work.applications)
        self.changes = _Changes(self._work.changes)
        self.webhooks = _Webhooks(self._work.webhooks)
        self._work.challenges = dict(st.challenges)
        self.challenges = _Challenges(self._work.challenges)
        self._events: list[DomainEvent] = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._store.open_units -= 1
        if exc_type is not None:
            return
        st, w = self._store, self._work
        st.providers, st.opportunities, st.applications = (
            w.providers,
            w.opportunities,
            w.applications,
        )
        st.changes, st.webhooks = w.changes, w.webhooks
        st.challenges = w.challenges
        st.events.extend(self._events)
        st.commits += 1


def credential_text(credential_id: str) -> str:
    return f'{{"id": "{credential_id}"}}'


@dataclass
class FakeVerification:
    """Answers from a table: each credential id maps to its evidence and failing checks."""

    evidence: dict[str, Evidence] = field(default_factory=dict)
    failing: dict[str, list[Check]] = field(default_factory=dict)
    presentation_failures: list[Check] = field(default_factory=list)
    unavailable: bool = False
    calls: list[tuple[str, str]] = field(default_factory=list)
    fresh_after: list[datetime | None] = field(default_factory=list)
    challenges: list[tuple[str, str]] = field(default_factory=list)
    now: datetime = datetime(2026, 11, 28, 12, 0)

    def _check(self) -> None:
        if self.unavailable:
            raise VerificationUnavailable("verification service unreachable")

    async def create_challenge(self, verifier_id: str, domain: str) -> IssuedChallenge:
        self._check()
        self.calls.append(("challenge", verifier_id))
        return IssuedChallenge(f"ch-{len(self.calls)}", domain, self.now + timedelta(minutes=5))

    def _one(self, cid: str, target: str) -> tuple[list[Check], Evidence]:
        fails = [replace(c, target=target) for c in self.failing.get(cid, [])]
        ok = Check("proof", CheckOutcome.PASS, target=target)
        ev = replace(self.evidence[cid], verified=not fails, signed=credential_text(cid))
        return [ok, *fails], ev

    async def verify_presentation(
        self,
        verifier_id: str,
        presentation: bytes,
        *,
        challenge: str,
        domain: str,
        policy: VerificationPolicy,
        trusted_issuer_ids: Sequence[str] = (),
    ) -> Verified:
        import json

        self._check()
        self.calls.append(("presentation", verifier_id))
        self.challenges.append((challenge, domain))
        ids = [c["id"] for c in json.loads(presentation)["verifiableCredential"]]
        checks = list(self.presentation_failures)
        evidence = []
        for i, cid in enumerate(ids):
            cs, ev = self._one(cid, f"$.verifiableCredential[{i}]")
            checks += cs
            evidence.append(replace(ev, verified=ev.verified and not self.presentation_failures))
        verdict = (
            Verdict.FAILED
            if any(c.outcome is CheckOutcome.FAIL for c in checks)
            else Verdict.VERIFIED
        )
        return Verified(Report(verdict, tuple(checks), self.now, "ver_1"), tuple(evidence))

    async def verify_credential(
        self,
        verifier_id: str,
        credential: bytes,
        *,
        policy: VerificationPolicy,
        status_fresh_after: datetime | None = None,
        trusted_issuer_ids: Sequence[str] = (),
    ) -> Verified:
        import json

        self._check()
        self.calls.append(("credential", verifier_id))
        self.fresh_after.append(status_fresh_after)
        cid = json.loads(credential)["id"]
        checks, ev = self._one(cid, "$")
        verdict = Verdict.FAILED if not ev.verified else Verdict.VERIFIED
        return Verified(Report(verdict, tuple(checks), self.now, "ver_2"), (ev,))


@dataclass
class FakeShareLinks:
    """Share link URL -> credential texts, or a refusal."""

    links: dict[str, list[str]] = field(default_factory=dict)
    seen: list[tuple[str, str]] = field(default_factory=list)

    async def resolve(self, url: str, verifier_id: str) -> list[str]:
        self.seen.append((url, verifier_id))
        if url not in self.links:
            raise ShareLinkUnresolvable("the wallet answered 410 (expired)")
        return self.links[url]


def vp(*credential_ids: str) -> bytes:
    import json

    return json.dumps({"verifiableCredential": [{"id": c} for c in credential_ids]}).encode()


def as_kw(**kw: Any) -> dict[str, Any]:
    return kw
