"""Unit tests of the domain rules and the caches (no servers, no network)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ler_crypto.report import Outcome as CryptoOutcome
from ler_crypto.report import VerificationReport as CryptoReport
from ler_platform.auth import Tenant
from ler_platform.errors import InvalidArgument, PermissionDenied
from ler_verification.adapters.fetching import CachedStatusListFetcher, InvalidatingCache
from ler_verification.domain.events import Format
from ler_verification.domain.model import (
    Challenge,
    ChallengeProblem,
    TrustedIssuer,
    TrustList,
    judge_challenge,
    validate_challenge_request,
)
from ler_verification.domain.report import Outcome, Policy, Verdict, apply_policy, from_crypto
from ler_verification.service_layer.tenants import acting_for
from ler_verification.service_layer.verify import detect_format

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _crypto(*checks: tuple[str, CryptoOutcome, str]) -> CryptoReport:
    report = CryptoReport(kind="credential")
    for check_id, outcome, reason in checks:
        report.add(check_id, check_id.title(), outcome, reason)
    return report


def test_check_ids_codes_and_status_purposes_are_mapped() -> None:
    crypto = _crypto(
        ("parse", CryptoOutcome.PASS, "ok"),
        ("proof", CryptoOutcome.FAIL, "PROOF_VERIFICATION_ERROR: bad signature"),
        ("trust", CryptoOutcome.FAIL, "issuer 'x' is not on the trust list"),
        ("validity", CryptoOutcome.FAIL, "expired at 2021-01-01T00:00:00+00:00"),
        ("status", CryptoOutcome.FAIL, "STATUS_RETRIEVAL_ERROR: cannot fetch"),
        ("status", CryptoOutcome.FAIL, "the credential is suspended (url index 3)"),
    )
    doc = {"credentialStatus": [{"statusPurpose": "revocation"}, {"statusPurpose": "suspension"}]}
    report = from_crypto(crypto, doc)
    codes = {c.id: c.error_code for c in report.checks if c.outcome is Outcome.FAIL}
    assert codes == {
        "proof": "PROOF_VERIFICATION_ERROR",
        "issuer.trust": "UNTRUSTED_ISSUER",
        "validity.window": "CREDENTIAL_EXPIRED",
        "status.revocation": "STATUS_RETRIEVAL_ERROR",
        "status.suspension": "CREDENTIAL_SUSPENDED",
    }
    assert report.by_id("syntax") is not None and report.verdict is Verdict.FAILED


def test_policy_tolerates_only_what_it_names() -> None:
    crypto = _crypto(
        ("trust", CryptoOutcome.FAIL, "not on the list"),
        ("validity", CryptoOutcome.FAIL, "not valid until 2099-01-01"),
        ("status", CryptoOutcome.FAIL, "STATUS_RETRIEVAL_ERROR: 404"),
        ("status", CryptoOutcome.FAIL, "the credential is revoked (u index 1)"),
    )
    doc = {"credentialStatus": [{"statusPurpose": "suspension"}, {"statusPurpose": "revocation"}]}
    lenient = Policy(
        allow_untrusted_issuers=True, allow_expired=True, allow_unreachable_status=True
    )
    report = apply_policy(from_crypto(crypto, doc), lenient)
    outcomes = {c.id: c.outcome for c in report.checks}
    assert outcomes == {
        "issuer.trust": Outcome.WARNING,
        "validity.window": Outcome.WARNING,
        "status.suspension": Outcome.WARNING,
        "status.revocation": Outcome.FAIL,  # revoked is never tolerated
    }


def test_challenge_and_domain_are_split() -> None:
    crypto = CryptoReport(kind="presentation")
    crypto.add(
        "challenge", "c", CryptoOutcome.FAIL, "INVALID_DOMAIN_ERROR: proof domain 'a' is not 'b'"
    )
    report = from_crypto(crypto, {})
    assert {c.id: c.outcome for c in report.checks} == {
        "presentation.challenge": Outcome.PASS,
        "presentation.domain": Outcome.FAIL,
    }


def test_malformed_without_failed_check_still_fails() -> None:
    crypto = CryptoReport(kind="credential", malformed=True)
    assert from_crypto(crypto, None).verdict is Verdict.FAILED


def _challenge(**kw: Any) -> Challenge:
    values: dict[str, Any] = {
        "value": "c",
        "verifier_id": "v",
        "domain": "d.example",
        "created_at": NOW,
        "expires_at": NOW + timedelta(minutes=10),
    }
    values.update(kw)
    return Challenge(**values)


@pytest.mark.parametrize(
    ("challenge", "first_use", "domain", "now", "problem"),
    [
        (None, False, "d.example", NOW, ChallengeProblem.UNKNOWN),
        (_challenge(), False, "d.example", NOW, ChallengeProblem.REPLAYED),
        (_challenge(), True, "d.example", NOW + timedelta(hours=1), ChallengeProblem.EXPIRED),
        (_challenge(), True, "other.example", NOW, ChallengeProblem.WRONG_DOMAIN),
        (_challenge(), True, "d.example", NOW, None),
    ],
)
def test_judge_challenge(
    challenge: Challenge | None, first_use: bool, domain: str, now: datetime, problem: Any
) -> None:
    found, reason = judge_challenge(challenge, first_use=first_use, domain=domain, now=now)
    assert found is problem and reason


def test_challenge_request_rules() -> None:
    assert validate_challenge_request("d.example", None) == timedelta(minutes=10)
    for domain, ttl in (("", None), ("a b", None), ("d", timedelta(0)), ("d", timedelta(days=2))):
        with pytest.raises(InvalidArgument):
            validate_challenge_request(domain, ttl)


def test_trust_list_semantics() -> None:
    assert TrustList().trusted_ids() is None  # no list: the verifier checks nothing (warning)
    assert TrustList().trusted_ids(["accredited"]) == frozenset()  # labels need a list
    entries = (
        TrustedIssuer.create("did:web:a.example", "A", ["accredited"], ""),
        TrustedIssuer.create("did:web:b.example", "B", [], ""),
    )
    assert TrustList(entries).trusted_ids() == {"did:web:a.example", "did:web:b.example"}
    assert TrustList(entries).trusted_ids(["accredited"]) == {"did:web:a.example"}
    for bad in ("", "no scheme", "did:web:" + "a" * 2000):
        with pytest.raises(InvalidArgument):
            TrustedIssuer.create(bad, "", [], "")
    with pytest.raises(InvalidArgument):
        TrustedIssuer.create("did:web:a.example", "", [" "], "")


def test_acting_for() -> None:
    verifier, service = Tenant("v1", "verifier"), Tenant("intake", "service")
    assert acting_for(verifier, "") == "v1" and acting_for(verifier, "v1") == "v1"
    with pytest.raises(PermissionDenied):
        acting_for(verifier, "v2")
    assert acting_for(service, "v2") == "v2"
    with pytest.raises(InvalidArgument):
        acting_for(service, "")


def test_detect_format() -> None:
    assert detect_format(b'  {"a": 1}') is Format.LDP_VC
    assert detect_format(b"eyJ.eyJ.sig~") is Format.SD_JWT_VC
    assert detect_format(b"[1]") is Format.UNKNOWN
    assert detect_format(b"") is Format.UNKNOWN


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _value(
    value: Any, ttl: float = 10.0, issuer: str | None = None
) -> tuple[Any, float, str | None]:
    return value, ttl, issuer


async def test_cache_ttl_lru_and_invalidation() -> None:
    clock = _Clock()
    cache = InvalidatingCache(max_entries=2, clock=clock)
    assert await cache.get_or_fetch("u1", lambda: _value("a", issuer="did:x")) == "a"
    assert await cache.get_or_fetch("u1", lambda: _value("b")) == "a"  # cached
    clock.now = 11
    assert await cache.get_or_fetch("u1", lambda: _value("c", issuer="did:x")) == "c"  # expired
    await cache.get_or_fetch("u2", lambda: _value("d", issuer="did:y"))
    await cache.get_or_fetch("u3", lambda: _value("e", issuer="did:x"))
    assert len(cache) == 2 and cache.get("u1") is None  # least recently used went first
    assert cache.invalidate(issuer="did:x") == 1 and cache.get("u3") is None
    assert cache.invalidate(url="u2") == 1 and len(cache) == 0


async def test_fetch_in_flight_during_invalidation_is_not_cached() -> None:
    cache = InvalidatingCache(max_entries=10)
    gate = asyncio.Event()

    async def slow() -> tuple[Any, float, str | None]:
        await gate.wait()
        return "old", 60.0, "did:x"

    task = asyncio.create_task(cache.get_or_fetch("u", slow))
    await asyncio.sleep(0)
    cache.invalidate(issuer="did:x")  # the status changed while the old list was on its way
    gate.set()
    assert await task == "old"
    assert cache.get("u") is None  # ...so it was not cached: the next verification refetches


async def test_unrelated_invalidation_during_a_fetch_does_not_stop_caching() -> None:
    cache = InvalidatingCache(max_entries=10, max_remembered=2)
    gate = asyncio.Event()

    async def slow() -> tuple[Any, float, str | None]:
        await gate.wait()
        return "list", 60.0, "did:x"

    task = asyncio.create_task(cache.get_or_fetch("u", slow))
    await asyncio.sleep(0)
    cache.invalidate(issuer="did:other", url="u-other")  # another issuer's list changed
    gate.set()
    await task
    assert cache.get("u") == "list"
    # once more invalidations happened than are remembered, an old fetch is not trusted
    cache.invalidate(url="u")
    gate2 = asyncio.Event()

    async def slow2() -> tuple[Any, float, str | None]:
        await gate2.wait()
        return "list2", 60.0, "did:x"

    task = asyncio.create_task(cache.get_or_fetch("u", slow2))
    await asyncio.sleep(0)
    for i in range(3):
        cache.invalidate(issuer=f"did:{i}")
    gate2.set()
    await task
    assert cache.get("u") is None


async def test_concurrent_fetches_share_one_request() -> None:
    cache = InvalidatingCache(max_entries=10)
    calls = 0

    async def fetch() -> tuple[Any, float, str | None]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return "v", 60.0, None

    results = await asyncio.gather(*(cache.get_or_fetch("u", fetch) for _ in range(10)))
    assert results == ["v"] * 10 and calls == 1


class _Web:
    def __init__(self, body: bytes) -> None:
        self.body = body
        self.calls = 0

    async def fetch(self, url: str) -> bytes:
        self.calls += 1
        return self.body


async def test_status_list_ttl_is_the_lists_own_capped() -> None:
    clock = _Clock()
    web = _Web(b'{"issuer": "did:x", "credentialSubject": {"ttl": 2000}}')
    fetcher = CachedStatusListFetcher(
        web, InvalidatingCache(max_entries=4, clock=clock), default_ttl=300, max_ttl=3600
    )
    assert (await fetcher.fetch("u"))["issuer"] == "did:x"
    clock.now = 1.5
    await fetcher.fetch("u")
    assert web.calls == 1
    clock.now = 2.5  # the list's ttl (2 s) passed
    await fetcher.fetch("u")
    assert web.calls == 2
    fetcher.cache.invalidate(issuer="did:x")
    await fetcher.fetch("u")
    assert web.calls == 3
    with pytest.raises(Exception, match="not JSON"):
        await CachedStatusListFetcher(
            _Web(b"nope"), InvalidatingCache(max_entries=1), default_ttl=1, max_ttl=1
        ).fetch("v")


async def test_fresh_after_refetches_older_lists_without_any_invalidation() -> None:
    """The status-event race: a caller reacting to a revocation may ask before this service
    has consumed the event; its ``fresh_after`` alone makes the answer current."""
    wall = _Clock()
    wall.now = 1000.0
    web = _Web(b'{"issuer": "did:x", "credentialSubject": {"encodedList": "old"}}')
    fetcher = CachedStatusListFetcher(
        web,
        InvalidatingCache(max_entries=4, wall_clock=wall),
        default_ttl=300,
        max_ttl=3600,
    )
    assert (await fetcher.fetch("u"))["credentialSubject"]["encodedList"] == "old"
    web.body = b'{"issuer": "did:x", "credentialSubject": {"encodedList": "new"}}'
    wall.now = 1005.0  # the issuer revoked at 1004; no invalidation has arrived here
    assert (await fetcher.fetch("u"))["credentialSubject"]["encodedList"] == "old"  # cached
    fresh = fetcher.fresh_after(1004.0)
    assert (await fresh.fetch("u"))["credentialSubject"]["encodedList"] == "new"
    assert web.calls == 2
    # the refetched list replaced the old one: everyone sees it, and it is cached again
    assert (await fetcher.fetch("u"))["credentialSubject"]["encodedList"] == "new"
    assert (await fetcher.fresh_after(1004.0).fetch("u"))["credentialSubject"]["encodedList"] == (
        "new"
    )
    assert web.calls == 2
    assert fetcher.fresh_after(None) is fetcher


async def test_fresh_after_does_not_join_an_older_fetch_but_shares_its_own() -> None:
    wall = _Clock()
    cache = InvalidatingCache(max_entries=10, wall_clock=wall)
    gate = asyncio.Event()
    calls: list[str] = []

    async def fetch(value: str) -> tuple[Any, float, str | None]:
        calls.append(value)
        await gate.wait()
        return value, 60.0, None

    old = asyncio.create_task(cache.get_or_fetch("u", lambda: fetch("old")))
    await asyncio.sleep(0)
    wall.now = 10.0  # the change happened after the first fetch began
    fresh = [
        asyncio.create_task(cache.get_or_fetch("u", lambda: fetch("new"), fresh_after=5.0))
        for _ in range(5)
    ]
    await asyncio.sleep(0)
    gate.set()
    assert await old == "old"
    assert [await t for t in fresh] == ["new"] * 5
    assert calls == ["old", "new"]  # one new fetch shared by the five fresh callers
    assert cache.get("u") == "new"  # the older fetch finishing later did not win


async def test_inbox_pruner_deletes_only_old_rows(tmp_path: Any) -> None:
    from ler_platform.db import create_engine, session_factory
    from ler_verification.adapters.maintenance import InboxPruner
    from ler_verification.tables import inbox, metadata
    from sqlalchemy import func, insert, select

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            old = datetime.now(UTC) - timedelta(days=30)
            await conn.execute(
                insert(inbox),
                [
                    {"consumer_group": "g", "event_id": "old", "processed_at": old},
                    {"consumer_group": "g", "event_id": "new", "processed_at": datetime.now(UTC)},
                ],
            )
        sessions = session_factory(engine)
        assert await InboxPruner(sessions, inbox).prune_once() == 1
        async with engine.connect() as conn:
            assert (await conn.execute(select(func.count()).select_from(inbox))).scalar() == 1
    finally:
        await engine.dispose()
