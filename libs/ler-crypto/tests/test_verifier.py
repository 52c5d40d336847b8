"""The verification report orchestrator: table-driven verdicts over real signed documents.

Status lists are served by an in-memory fetcher (a test double, not a mock of any library): the
verifier receives exactly what an HTTPS fetcher would return.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ler_crypto import dataintegrity, obv3, status_list
from ler_crypto.did import DidResolver, did_key_from_public_key
from ler_crypto.keys import KeyPair
from ler_crypto.report import Outcome, VerificationReport
from ler_crypto.sdjwt import Sd, create_presentation, issue_sd_jwt_vc
from ler_crypto.vc_model import Policy
from ler_crypto.verifier import (
    CachingStatusListFetcher,
    verify_credential,
    verify_document,
    verify_presentation,
)

REPO = Path(__file__).resolve().parents[3]
VECTORS = REPO.parent / "shared" / "vectors"
DM_SUITE = VECTORS / "vc-data-model-2.0-test-suite"
NOW = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
LIST_URL = "https://college.example.edu/status/1"
CHALLENGE, DOMAIN = "c-8f2b1d", "https://employer.example"


class InMemoryStatusFetcher:
    """Serves status list credentials from a dict, like an HTTPS fetcher would."""

    def __init__(self, documents: dict[str, Any] | None = None) -> None:
        self.documents = documents or {}
        self.requested: list[str] = []

    async def fetch(self, url: str) -> Any:
        self.requested.append(url)
        if url not in self.documents:
            raise LookupError(f"404 for {url}")
        return json.dumps(self.documents[url]).encode()


def outcomes(report: VerificationReport) -> dict[str, str]:
    return {c.id: c.outcome.value for c in report.checks}


@pytest.fixture
def resolver() -> DidResolver:
    return DidResolver(offline=True)


@pytest.fixture(scope="module")
def issuer_key() -> KeyPair:
    return KeyPair.generate("Ed25519")


@pytest.fixture(scope="module")
def issuer_did(issuer_key: KeyPair) -> tuple[str, str]:
    return did_key_from_public_key(issuer_key.public_key)


@pytest.fixture(scope="module")
def holder_key() -> KeyPair:
    return KeyPair.generate("Ed25519")


@pytest.fixture(scope="module")
def holder_did(holder_key: KeyPair) -> tuple[str, str]:
    return did_key_from_public_key(holder_key.public_key)


def sign(doc: dict[str, Any], key: KeyPair, vm: str, **kw: Any) -> dict[str, Any]:
    kw.setdefault("cryptosuite", "eddsa-rdfc-2022")
    kw.setdefault("created", "2025-01-01T00:00:00Z")
    return dataintegrity.sign(doc, key, verification_method=vm, **kw)


def badge(issuer: str, subject: str, **extra: Any) -> dict[str, Any]:
    credential = obv3.build_achievement_credential(
        issuer=obv3.build_profile(issuer, "Example College"),
        subject_id=subject,
        achievement=obv3.build_achievement(
            achievement_id="https://college.example.edu/achievements/1",
            name="Data Literacy",
            description="Reads and questions data.",
            criteria_narrative="Completed the course.",
        ),
        valid_from="2024-09-01T00:00:00Z",
        credential_id="urn:uuid:6e1c3f58-7d8f-4a3e-9a51-0f6f2c5d8b21",
        **extra,
    )
    return credential


def status_list_credential(issuer: str, key: KeyPair, vm: str, revoked: set[int]) -> dict[str, Any]:
    lst = status_list.StatusList()
    for index in revoked:
        lst.set(index, 1)
    unsigned = status_list.build_status_list_credential(
        list_url=LIST_URL, issuer=issuer, status_list=lst, valid_from="2024-01-01T00:00:00Z"
    )
    return sign(unsigned, key, vm)


# --- official vectors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "eddsa-rdfc-2022/signedDataInt.json",
        "eddsa-jcs-2022/signedJCS.json",
        "proof-set-chain/signedProofSet2.json",
        "proof-set-chain/signedProofChain2.json",
    ],
)
async def test_official_signed_vectors_verify(name: str, resolver: DidResolver) -> None:
    doc = json.loads((VECTORS / "vc-di-eddsa" / name).read_text())
    report = await verify_credential(doc, resolver=resolver, now=NOW)
    assert report.verified, report.to_dict()
    result = outcomes(report)
    assert result["proof"] == "pass"
    # The vectors' issuer is an https URL signed by a did:key: not provably the issuer's key.
    assert result["issuer"] == "warning"
    assert result["trust"] == "warning"


async def test_tampered_official_vector_fails(resolver: DidResolver) -> None:
    doc = json.loads((VECTORS / "vc-di-eddsa/eddsa-rdfc-2022/signedDataInt.json").read_text())
    doc["credentialSubject"]["alumniOf"] = "The School of Forgeries"
    report = await verify_credential(doc, resolver=resolver, now=NOW)
    assert not report.verified and not report.malformed
    assert report.check("proof").outcome is Outcome.FAIL
    assert "PROOF_VERIFICATION_ERROR" in report.check("proof").reason


async def test_trust_list_cannot_vouch_for_unbound_issuer(resolver: DidResolver) -> None:
    doc = json.loads((VECTORS / "vc-di-eddsa/eddsa-rdfc-2022/signedDataInt.json").read_text())
    report = await verify_credential(
        doc, resolver=resolver, now=NOW, trusted_issuers={"https://vc.example/issuers/5678"}
    )
    assert report.check("trust").outcome is Outcome.FAIL


async def test_unknown_context_vector_fails_clearly(resolver: DidResolver) -> None:
    doc = json.loads(
        (VECTORS / "vc-di-eddsa/eddsa-rdfc-2022/employ/signedDataInt.json").read_text()
    )
    report = await verify_credential(doc, resolver=resolver, now=NOW)
    assert not report.verified
    assert "citizenship/v4rc1" in report.check("jsonld").reason


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "not json",
        "[1, 2]",
        '{"a": NaN}',
        b"\xff\xfe",
        "{" * 5000,
        42,
        ["list"],
        '{"@context": 1, "@context": 2}',
        '{"a": 1}',
    ],
)
async def test_garbage_is_malformed_never_raises(garbage: Any, resolver: DidResolver) -> None:
    report = await verify_document(garbage, resolver=resolver, now=NOW)
    assert report.malformed and not report.verified
    assert report.checks[0].id == "parse" and report.checks[0].outcome is Outcome.FAIL


async def test_ten_megabyte_document_is_malformed(resolver: DidResolver) -> None:
    big = json.dumps(
        {"@context": ["https://www.w3.org/ns/credentials/v2"], "padding": "x" * 10_000_000}
    )
    report = await verify_credential(big, resolver=resolver, now=NOW)
    assert report.malformed


# --- our own credentials: issuer binding, trust, validity, status ------------------------------


@pytest.fixture
def signed_badge(
    issuer_key: KeyPair, issuer_did: tuple[str, str], holder_did: tuple[str, str]
) -> dict[str, Any]:
    entry = status_list.build_status_list_entry(status_list_credential=LIST_URL, index=4242)
    return sign(
        badge(issuer_did[0], holder_did[0], credential_status=entry), issuer_key, issuer_did[1]
    )


async def test_open_badge_with_status_verifies(
    signed_badge: dict[str, Any],
    issuer_key: KeyPair,
    issuer_did: tuple[str, str],
    resolver: DidResolver,
) -> None:
    fetcher = InMemoryStatusFetcher(
        {LIST_URL: status_list_credential(issuer_did[0], issuer_key, issuer_did[1], set())}
    )
    report = await verify_credential(
        signed_badge,
        resolver=resolver,
        status_fetcher=fetcher,
        now=NOW,
        trusted_issuers={issuer_did[0]},
    )
    assert report.verified, report.to_dict()
    assert outcomes(report) == {
        "parse": "pass",
        "data-model": "pass",
        "jsonld": "pass",
        "profile": "pass",
        "proof": "pass",
        "issuer": "pass",
        "trust": "pass",
        "validity": "pass",
        "status": "pass",
    }
    assert fetcher.requested == [LIST_URL]  # exactly the URL, no query parameters


async def test_revoked_credential_fails(
    signed_badge: dict[str, Any],
    issuer_key: KeyPair,
    issuer_did: tuple[str, str],
    resolver: DidResolver,
) -> None:
    fetcher = InMemoryStatusFetcher(
        {LIST_URL: status_list_credential(issuer_did[0], issuer_key, issuer_did[1], {4242})}
    )
    report = await verify_credential(
        signed_badge, resolver=resolver, status_fetcher=fetcher, now=NOW
    )
    assert not report.verified
    assert "revoked" in report.check("status").reason


async def test_status_list_from_another_issuer_fails(
    signed_badge: dict[str, Any], resolver: DidResolver
) -> None:
    other = KeyPair.generate("Ed25519")
    other_did, other_vm = did_key_from_public_key(other.public_key)
    fetcher = InMemoryStatusFetcher(
        {LIST_URL: status_list_credential(other_did, other, other_vm, set())}
    )
    report = await verify_credential(
        signed_badge, resolver=resolver, status_fetcher=fetcher, now=NOW
    )
    assert report.check("status").outcome is Outcome.FAIL
    assert "STATUS_VERIFICATION_ERROR" in report.check("status").reason


async def test_tampered_status_list_fails(
    signed_badge: dict[str, Any],
    issuer_key: KeyPair,
    issuer_did: tuple[str, str],
    resolver: DidResolver,
) -> None:
    listed = status_list_credential(issuer_did[0], issuer_key, issuer_did[1], {4242})
    # Someone "un-revokes" by swapping the list for an empty one without re-signing.
    listed["credentialSubject"]["encodedList"] = status_list.StatusList().encode()
    report = await verify_credential(
        signed_badge,
        resolver=resolver,
        status_fetcher=InMemoryStatusFetcher({LIST_URL: listed}),
        now=NOW,
    )
    assert report.check("status").outcome is Outcome.FAIL
    assert "proof" in report.check("status").reason


async def test_status_retrieval_failure_and_offline(
    signed_badge: dict[str, Any], resolver: DidResolver
) -> None:
    report = await verify_credential(
        signed_badge, resolver=resolver, status_fetcher=InMemoryStatusFetcher(), now=NOW
    )
    assert "STATUS_RETRIEVAL_ERROR" in report.check("status").reason
    assert not report.verified
    offline = await verify_credential(signed_badge, resolver=resolver, now=NOW)
    assert offline.check("status").outcome is Outcome.WARNING
    assert offline.verified


@pytest.mark.parametrize(
    ("now", "outcome"),
    [
        (datetime(2024, 8, 31, 23, 59, 30, tzinfo=UTC), Outcome.PASS),  # inside the 60 s skew
        (datetime(2024, 8, 31, 23, 58, 0, tzinfo=UTC), Outcome.FAIL),
        (datetime(2026, 9, 1, 0, 0, 59, tzinfo=UTC), Outcome.PASS),
        (datetime(2026, 9, 1, 0, 2, 0, tzinfo=UTC), Outcome.FAIL),
    ],
)
async def test_validity_window_with_skew(
    now: datetime,
    outcome: Outcome,
    issuer_key: KeyPair,
    issuer_did: tuple[str, str],
    resolver: DidResolver,
) -> None:
    doc = sign(
        badge(issuer_did[0], "did:example:s", valid_until="2026-09-01T00:00:00Z"),
        issuer_key,
        issuer_did[1],
    )
    report = await verify_credential(doc, resolver=resolver, now=now)
    assert report.check("validity").outcome is outcome


async def test_signed_by_someone_other_than_the_issuer(
    issuer_did: tuple[str, str], resolver: DidResolver
) -> None:
    impostor = KeyPair.generate("Ed25519")
    _, impostor_vm = did_key_from_public_key(impostor.public_key)
    doc = sign(badge(issuer_did[0], "did:example:s"), impostor, impostor_vm)
    report = await verify_credential(
        doc, resolver=resolver, now=NOW, trusted_issuers={issuer_did[0]}
    )
    assert report.check("proof").outcome is Outcome.PASS  # a valid signature ...
    assert report.check("issuer").outcome is Outcome.FAIL  # ... by the wrong key
    assert report.check("trust").outcome is Outcome.FAIL
    assert not report.verified


async def test_untrusted_issuer(signed_badge: dict[str, Any], resolver: DidResolver) -> None:
    report = await verify_credential(
        signed_badge, resolver=resolver, now=NOW, trusted_issuers={"did:example:someone-else"}
    )
    assert report.check("trust").outcome is Outcome.FAIL


async def test_ob3_profile_failure_is_reported(
    issuer_key: KeyPair, issuer_did: tuple[str, str], resolver: DidResolver
) -> None:
    doc = badge(issuer_did[0], "did:example:s")
    del doc["credentialSubject"]["achievement"]["criteria"]
    report = await verify_credential(
        sign(doc, issuer_key, issuer_did[1]), resolver=resolver, now=NOW
    )
    assert report.check("profile").outcome is Outcome.FAIL
    assert "/credentialSubject/achievement/criteria" in report.check("profile").reason


async def test_unsigned_credential_fails(resolver: DidResolver) -> None:
    doc = json.loads((DM_SUITE / "credential-ok.json").read_text())
    doc["issuer"] = "did:example:issuer"
    report = await verify_credential(doc, resolver=resolver, now=NOW)
    assert report.check("proof").outcome is Outcome.FAIL
    assert "no proof" in report.check("proof").reason


# --- presentations ------------------------------------------------------------------------------


def presentation(holder: str, credentials: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "holder": holder,
        "verifiableCredential": credentials,
    }


def sign_vp(
    vp: dict[str, Any], key: KeyPair, vm: str, challenge: str = CHALLENGE, domain: str = DOMAIN
) -> dict[str, Any]:
    return sign(vp, key, vm, proof_purpose="authentication", challenge=challenge, domain=domain)


async def test_presentation_verifies_with_holder_binding(
    signed_badge: dict[str, Any],
    holder_key: KeyPair,
    holder_did: tuple[str, str],
    resolver: DidResolver,
) -> None:
    vp = sign_vp(presentation(holder_did[0], [signed_badge]), holder_key, holder_did[1])
    report = await verify_presentation(
        vp, challenge=CHALLENGE, domain=DOMAIN, resolver=resolver, now=NOW
    )
    assert report.verified, report.to_dict()
    assert outcomes(report)["holder-binding"] == "pass"
    assert outcomes(report)["challenge"] == "pass"
    assert len(report.credentials) == 1 and report.credentials[0].verified


@pytest.mark.parametrize(
    ("challenge", "domain", "failed"),
    [
        ("other", DOMAIN, "INVALID_CHALLENGE_ERROR"),
        (CHALLENGE, "https://evil.example", "INVALID_DOMAIN_ERROR"),
    ],
)
async def test_presentation_challenge_and_domain(
    challenge: str,
    domain: str,
    failed: str,
    signed_badge: dict[str, Any],
    holder_key: KeyPair,
    holder_did: tuple[str, str],
    resolver: DidResolver,
) -> None:
    vp = sign_vp(presentation(holder_did[0], [signed_badge]), holder_key, holder_did[1])
    report = await verify_presentation(
        vp, challenge=challenge, domain=domain, resolver=resolver, now=NOW
    )
    assert not report.verified
    assert failed in report.check("challenge").reason
    assert report.check("proof").outcome is Outcome.FAIL


async def test_presentation_by_someone_who_is_not_the_subject(
    signed_badge: dict[str, Any], resolver: DidResolver
) -> None:
    thief = KeyPair.generate("Ed25519")
    thief_did, thief_vm = did_key_from_public_key(thief.public_key)
    vp = sign_vp(presentation(thief_did, [signed_badge]), thief, thief_vm)
    report = await verify_presentation(
        vp, challenge=CHALLENGE, domain=DOMAIN, resolver=resolver, now=NOW
    )
    assert report.check("proof").outcome is Outcome.PASS
    assert report.check("holder-binding").outcome is Outcome.FAIL
    assert not report.verified


async def test_presentation_with_wrong_purpose_fails(
    signed_badge: dict[str, Any],
    holder_key: KeyPair,
    holder_did: tuple[str, str],
    resolver: DidResolver,
) -> None:
    vp = sign(
        presentation(holder_did[0], [signed_badge]),
        holder_key,
        holder_did[1],
        challenge=CHALLENGE,
        domain=DOMAIN,
    )  # assertionMethod, not authentication
    report = await verify_presentation(
        vp, challenge=CHALLENGE, domain=DOMAIN, resolver=resolver, now=NOW
    )
    assert report.check("proof").outcome is Outcome.FAIL
    assert "purpose" in report.check("proof").reason


async def test_tampered_embedded_credential_fails_the_presentation(
    signed_badge: dict[str, Any],
    holder_key: KeyPair,
    holder_did: tuple[str, str],
    resolver: DidResolver,
) -> None:
    forged = copy.deepcopy(signed_badge)
    forged["credentialSubject"]["achievement"]["name"] = "Brain Surgery"
    vp = sign_vp(presentation(holder_did[0], [forged]), holder_key, holder_did[1])
    report = await verify_presentation(
        vp, challenge=CHALLENGE, domain=DOMAIN, resolver=resolver, now=NOW
    )
    assert report.check("proof").outcome is Outcome.PASS  # the VP itself is fine ...
    assert not report.credentials[0].verified  # ... the badge inside is not
    assert not report.verified


def _self_asserted(name: str, did: str) -> dict[str, Any]:
    """A suite vector with its placeholder did:key replaced by a key we hold."""
    text = (
        (DM_SUITE / name)
        .read_text()
        .replace("did:key:z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj", did)
    )
    return json.loads(text)


@pytest.mark.parametrize(
    ("name", "verified"),
    [
        ("presentation-self-asserted-vc-ok.json", True),
        ("presentation-self-asserted-vc-no-holder.json", False),
        ("presentation-self-asserted-vc-holder-mismatch.json", False),
        ("presentation-self-asserted-vc-issuer-mismatch.json", False),
    ],
)
async def test_self_asserted_suite_vectors(
    name: str,
    verified: bool,
    holder_key: KeyPair,
    holder_did: tuple[str, str],
    resolver: DidResolver,
) -> None:
    vp = sign_vp(_self_asserted(name, holder_did[0]), holder_key, holder_did[1])
    report = await verify_presentation(
        vp, challenge=CHALLENGE, domain=DOMAIN, resolver=resolver, now=NOW
    )
    assert report.verified is verified, report.to_dict()


# --- SD-JWT VC through the same entry point -----------------------------------------------------


async def test_sd_jwt_vc_report(
    issuer_key: KeyPair, issuer_did: tuple[str, str], holder_key: KeyPair, resolver: DidResolver
) -> None:
    issued = issue_sd_jwt_vc(
        issuer=issuer_did[0],
        vct="urn:ler:badge",
        signer=issuer_key,
        holder_key=holder_key.public_key,
        kid=issuer_did[1],
        iat=int(NOW.timestamp()) - 60,
        claims={"achievement": Sd("Data Literacy"), "grade": Sd("A")},
    )
    shown = create_presentation(
        issued,
        disclose=["achievement"],
        holder=holder_key,
        audience=DOMAIN,
        nonce=CHALLENGE,
        iat=int(NOW.timestamp()),
    )
    report = await verify_document(
        shown,
        challenge=CHALLENGE,
        domain=DOMAIN,
        resolver=resolver,
        now=NOW,
        trusted_issuers={issuer_did[0]},
    )
    assert report.kind == "sd-jwt-vc"
    assert report.verified, report.to_dict()
    assert report.check("holder-binding").outcome is Outcome.PASS
    assert report.check("proof").details == {"disclosed": ["achievement"]}
    replay = await verify_document(
        shown, challenge="fresh-nonce", domain=DOMAIN, resolver=resolver, now=NOW
    )
    assert replay.check("holder-binding").outcome is Outcome.FAIL
    forged_issuer = issue_sd_jwt_vc(
        issuer=issuer_did[0],
        vct="urn:ler:badge",
        signer=KeyPair.generate("Ed25519"),
        holder_key=None,
        kid=issuer_did[1],
        iat=int(NOW.timestamp()),
        claims={},
    )
    forged = await verify_document(forged_issuer, resolver=resolver, now=NOW)
    assert forged.check("proof").outcome is Outcome.FAIL


async def test_report_to_dict_is_json(signed_badge: dict[str, Any], resolver: DidResolver) -> None:
    report = await verify_credential(signed_badge, resolver=resolver, now=NOW)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["verified"] is True
    assert {c["id"] for c in data["checks"]} >= {"parse", "proof", "status", "validity"}
    assert all(c["reason"] for c in data["checks"])


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
_keys = st.sampled_from(
    [
        "@context",
        "type",
        "issuer",
        "credentialSubject",
        "proof",
        "validFrom",
        "credentialStatus",
        "verifiableCredential",
        "holder",
    ]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_keys, _json, max_size=6))
async def test_random_documents_never_raise(doc: dict[str, Any]) -> None:
    report = await verify_document(doc, resolver=DidResolver(offline=True), now=NOW)
    assert isinstance(report, VerificationReport)
    assert not report.verified
    assert all(c.reason for c in report.checks)


@settings(max_examples=40, deadline=None)
@given(st.data())
async def test_mutating_a_signed_badge_never_verifies(data: st.DataObject) -> None:
    key = KeyPair.from_private_bytes("Ed25519", bytes(range(32)))
    did, vm = did_key_from_public_key(key.public_key)
    signed = sign(badge(did, "did:example:s"), key, vm)
    leaves: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for k, v in items:
            if isinstance(v, dict | list):
                walk(v)
            elif not (isinstance(node, dict) and k == "proofValue"):
                leaves.append((node, k))

    walk(signed)
    container, key_name = data.draw(st.sampled_from(leaves))
    original = container[key_name]
    container[key_name] = data.draw(st.text(max_size=8).filter(lambda t: t != original))
    report = await verify_credential(signed, resolver=DidResolver(offline=True), now=NOW)
    assert not report.verified


@pytest.mark.parametrize("suite", ["eddsa-rdfc-2022", "eddsa-jcs-2022"])
async def test_vc11_documents_verify_when_policy_allows(
    suite: str, issuer_key: KeyPair, issuer_did: tuple[str, str], resolver: DidResolver
) -> None:
    doc = {
        "@context": [
            "https://www.w3.org/2018/credentials/v1",
            "https://w3id.org/security/data-integrity/v2",
        ],
        "type": ["VerifiableCredential"],
        "issuer": issuer_did[0],
        "issuanceDate": "2024-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:x"},
    }
    signed = sign(doc, issuer_key, issuer_did[1], cryptosuite=suite)
    report = await verify_credential(signed, resolver=resolver, now=NOW)
    assert report.verified, report.to_dict()
    strict = await verify_credential(
        signed, resolver=resolver, now=NOW, policy=Policy(allow_v1=False)
    )
    assert strict.check("data-model").outcome is Outcome.FAIL
    assert "/@context/0" in strict.check("data-model").reason
    early = await verify_credential(
        signed, resolver=resolver, now=datetime(2023, 12, 31, tzinfo=UTC)
    )
    assert early.check("validity").outcome is Outcome.FAIL


async def test_caching_fetcher_honours_ttl(
    issuer_key: KeyPair, issuer_did: tuple[str, str]
) -> None:
    listed = status_list_credential(issuer_did[0], issuer_key, issuer_did[1], set())
    listed["credentialSubject"]["ttl"] = 10_000  # 10 s, in milliseconds (BSL §2.2)
    inner = InMemoryStatusFetcher({LIST_URL: listed})
    clock = [1000.0]
    fetcher = CachingStatusListFetcher(inner, clock=lambda: clock[0])
    assert (await fetcher.fetch(LIST_URL))["id"] == LIST_URL
    clock[0] += 9.9
    await fetcher.fetch(LIST_URL)
    assert inner.requested == [LIST_URL]  # served from cache
    clock[0] += 0.2
    await fetcher.fetch(LIST_URL)
    assert inner.requested == [LIST_URL, LIST_URL]  # expired, fetched again
    with pytest.raises(LookupError):
        await fetcher.fetch("https://college.example.edu/status/missing")
