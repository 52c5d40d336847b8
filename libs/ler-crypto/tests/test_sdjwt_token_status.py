"""SD-JWT VC status through ``verify_credential``: a Token Status List served by an in-memory
fetcher (a test double returning exactly the body an HTTPS fetch would), table-driven."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from ler_crypto.did import DidResolver, did_key_from_public_key
from ler_crypto.keys import KeyPair
from ler_crypto.report import Outcome, VerificationReport
from ler_crypto.sdjwt import Sd, issue_sd_jwt, issue_sd_jwt_vc
from ler_crypto.token_status_list import build_status_list_token
from ler_crypto.verifier import CachingStatusListFetcher, verify_credential

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())
URI = "https://college.example.edu/issuers/i-1/status-lists/l-1/token"
# index → status: 0 VALID, 1 INVALID, 2 SUSPENDED, 3 application specific
STATUSES = [0, 1, 2, 3] + [0] * 60


class InMemoryTokenFetcher:
    """Serves response bodies by URL; raises for unknown URLs like a 404 would."""

    def __init__(self, bodies: dict[str, Any]) -> None:
        self.bodies = bodies
        self.requested: list[str] = []

    async def fetch(self, url: str) -> Any:
        self.requested.append(url)
        if url not in self.bodies:
            raise LookupError(f"404 for {url}")
        return self.bodies[url]


@pytest.fixture(scope="module")
def issuer_key() -> KeyPair:
    return KeyPair.generate("Ed25519")


@pytest.fixture(scope="module")
def issuer(issuer_key: KeyPair) -> tuple[str, str]:
    return did_key_from_public_key(issuer_key.public_key)


@pytest.fixture
def resolver() -> DidResolver:
    return DidResolver(offline=True)


def _credential(key: KeyPair, issuer: tuple[str, str], status: Any) -> str:
    if status is not None and not isinstance(status, dict):
        # issue_sd_jwt_vc refuses a non-object status; sign such a payload directly
        payload = {"iss": issuer[0], "iat": T - 60, "vct": "urn:ler:badge", "status": status}
        return issue_sd_jwt(payload, key, kid=issuer[1])
    return issue_sd_jwt_vc(
        issuer=issuer[0],
        vct="urn:ler:badge",
        signer=key,
        holder_key=None,
        kid=issuer[1],
        iat=T - 60,
        status=status,
        claims={"achievement": Sd("Data Literacy")},
    )


def _list_token(key: KeyPair, issuer: tuple[str, str], **overrides: Any) -> str:
    args: dict[str, Any] = {
        "uri": URI,
        "issuer": issuer[0],
        "statuses": STATUSES,
        "bits": 2,
        "iat": T - 30,
        "exp": T + 3600,
        "ttl": 600,
        "signer": key,
        "kid": issuer[1],
    }
    args.update(overrides)
    return build_status_list_token(**args)


def _ref(idx: int, uri: str = URI) -> dict[str, Any]:
    return {"status_list": {"idx": idx, "uri": uri}}


async def _status_check(
    credential: str, resolver: DidResolver, fetcher: Any
) -> tuple[VerificationReport, Any]:
    report = await verify_credential(credential, resolver=resolver, status_fetcher=fetcher, now=NOW)
    return report, report.check("status")


@pytest.mark.parametrize(
    ("idx", "verified", "outcome", "reason", "purpose"),
    [
        (0, True, Outcome.PASS, f"status is VALID ({URI} index 0)", None),
        (1, False, Outcome.FAIL, "the credential is revoked (status INVALID at", "revocation"),
        (2, False, Outcome.FAIL, "the credential is suspended (status SUSPENDED at", "suspension"),
        (3, False, Outcome.FAIL, "the credential is not valid: status value 0x03", None),
        (64, False, Outcome.FAIL, "RANGE_ERROR: status index 64 is out of range", None),
    ],
)
async def test_status_verdicts(
    issuer_key: KeyPair,
    issuer: tuple[str, str],
    resolver: DidResolver,
    idx: int,
    verified: bool,
    outcome: Outcome,
    reason: str,
    purpose: str | None,
) -> None:
    token = _list_token(issuer_key, issuer)
    for body in (token.encode(), token, token.encode() + b"\r\n"):
        fetcher = InMemoryTokenFetcher({URI: body})
        report, check = await _status_check(
            _credential(issuer_key, issuer, _ref(idx)), resolver, fetcher
        )
        assert fetcher.requested == [URI]
        assert report.verified is verified, report.to_dict()
        assert check is not None and check.outcome is outcome
        assert check.reason.startswith(reason), check.reason
        assert (check.details or {}).get("purpose") == purpose
        assert [c.id for c in report.failures()] == ([] if verified else ["status"])


async def test_status_failures(
    issuer_key: KeyPair, issuer: tuple[str, str], resolver: DidResolver
) -> None:
    other_key = KeyPair.generate("Ed25519")
    other = did_key_from_public_key(other_key.public_key)
    good = _list_token(issuer_key, issuer)
    cases: list[tuple[Any, Any, str]] = [
        (_ref(0), {}, "STATUS_RETRIEVAL_ERROR: cannot fetch " + URI + ": 404 for"),
        (_ref(0), {URI: {"credentialSubject": {}}}, "STATUS_RETRIEVAL_ERROR: cannot fetch"),
        (_ref(0), {URI: b'{"type": "BitstringStatusListCredential"}'}, "not a Status List Token"),
        (_ref(0), {URI: b"\xff\xfe garbage"}, "not a Status List Token"),
        (_ref(0), {URI: _list_token(other_key, other)}, "STATUS_VERIFICATION_ERROR: Status List"),
        (
            _ref(0),
            {URI: _list_token(other_key, issuer)},
            "STATUS_VERIFICATION_ERROR: Status List Token: JWS signature does not verify",
        ),
        (
            _ref(0),
            {URI: _list_token(issuer_key, issuer, uri=URI + "/other")},
            "STATUS_VERIFICATION_ERROR: Status List Token sub",
        ),
        (
            _ref(0),
            {URI: _list_token(issuer_key, issuer, iat=T - 7200, exp=T - 3600)},
            "STATUS_VERIFICATION_ERROR: the Status List Token has expired",
        ),
        ({"status_list": {"idx": -1, "uri": URI}}, {URI: good}, "MALFORMED_VALUE_ERROR: "),
        ({"status_list": "x"}, {URI: good}, "MALFORMED_VALUE_ERROR: status.status_list must"),
        ([1, 2], {URI: good}, "MALFORMED_VALUE_ERROR: the status claim must be a JSON object"),
    ]
    for status, bodies, reason in cases:
        report, check = await _status_check(
            _credential(issuer_key, issuer, status), resolver, InMemoryTokenFetcher(bodies)
        )
        assert not report.verified
        assert check is not None and check.outcome is Outcome.FAIL, (status, bodies)
        assert check.reason.startswith(reason) or reason in check.reason, check.reason
        assert [c.id for c in report.failures()] == ["status"]


async def test_no_status_other_mechanism_and_offline(
    issuer_key: KeyPair, issuer: tuple[str, str], resolver: DidResolver
) -> None:
    fetcher = InMemoryTokenFetcher({})
    report, check = await _status_check(_credential(issuer_key, issuer, None), resolver, fetcher)
    assert report.verified and check is not None and check.outcome is Outcome.SKIPPED
    report, check = await _status_check(
        _credential(issuer_key, issuer, {"identifier_list": {"id": "1", "uri": URI}}),
        resolver,
        fetcher,
    )
    assert check is not None and check.outcome is Outcome.WARNING
    assert "['identifier_list'] are not supported" in check.reason
    assert fetcher.requested == []
    # offline (no fetcher): the same advisory warning as a Bitstring entry gets
    report, check = await _status_check(_credential(issuer_key, issuer, _ref(1)), resolver, None)
    assert check is not None and check.outcome is Outcome.WARNING
    assert "was not checked (no status list fetcher; offline)" in check.reason
    assert not report.failures()


async def test_caching_fetcher_passes_tokens_through_with_their_ttl(
    issuer_key: KeyPair, issuer: tuple[str, str], resolver: DidResolver
) -> None:
    clock = [1000.0]
    inner = InMemoryTokenFetcher({URI: _list_token(issuer_key, issuer, ttl=600).encode()})
    caching = CachingStatusListFetcher(inner, default_ttl=30, max_ttl=900, clock=lambda: clock[0])
    credential = _credential(issuer_key, issuer, _ref(0))
    for _ in range(2):
        report, _check = await _status_check(credential, resolver, caching)
        assert report.verified, report.to_dict()
    assert inner.requested == [URI]  # the second verification was served from the cache
    # the list changes (index 0 revoked); the cache keeps the old one until its ttl ends
    inner.bodies[URI] = _list_token(issuer_key, issuer, statuses=[1, 1, 1, 1]).encode()
    clock[0] += 599
    assert (await _status_check(credential, resolver, caching))[0].verified
    clock[0] += 2
    report, check = await _status_check(credential, resolver, caching)
    assert check is not None and check.reason.startswith("the credential is revoked")
    assert inner.requested == [URI, URI]
    # a ttl beyond max_ttl is capped; no ttl falls back to default_ttl
    for ttl, lifetime in ((10**9, 900), (None, 30)):
        inner.bodies[URI] = _list_token(issuer_key, issuer, ttl=ttl).encode()
        inner.requested.clear()
        fetcher = CachingStatusListFetcher(
            inner, default_ttl=30, max_ttl=900, clock=lambda: clock[0]
        )
        assert isinstance(await fetcher.fetch(URI), str)
        clock[0] += lifetime - 1
        await fetcher.fetch(URI)
        assert len(inner.requested) == 1, ttl
        clock[0] += 2
        await fetcher.fetch(URI)
        assert len(inner.requested) == 2, ttl
