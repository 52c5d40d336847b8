"""Data Integrity eddsa-rdfc-2022 / eddsa-jcs-2022: round trips, policy checks, proof sets."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ler_crypto.dataintegrity import (
    EDDSA_JCS_2022,
    EDDSA_RDFC_2022,
    sign,
    verify,
    verify_proof,
)
from ler_crypto.dataintegrity.datetimes import is_datetimestamp, parse_datetimestamp
from ler_crypto.did import DidResolver, did_key_from_public_key
from ler_crypto.errors import DataLossError, MalformedInputError, ProofError
from ler_crypto.keys import KeyPair

DATA = Path(__file__).resolve().parent / "data"
SUITES = [EDDSA_RDFC_2022, EDDSA_JCS_2022]
KEY = KeyPair.generate("Ed25519")
DID, VM = did_key_from_public_key(KEY.public_key)
RESOLVER = DidResolver(offline=True)
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def ob3() -> dict[str, Any]:
    credential = json.loads((DATA / "ob3_credential.json").read_text())
    credential["issuer"]["id"] = DID
    return credential


def vc11() -> dict[str, Any]:
    # The form the W3C Data Integrity test suites send (VC 1.1 + data-integrity v2)
    return {
        "@context": [
            "https://www.w3.org/2018/credentials/v1",
            "https://w3id.org/security/data-integrity/v2",
            {
                "UniversityDegreeCredential": "https://example.org/examples#UniversityDegreeCredential",
                "degree": "https://example.org/examples#degree",
            },
        ],
        "id": "urn:uuid:0b6c7a8e-0000-4000-8000-000000000011",
        "type": ["VerifiableCredential", "UniversityDegreeCredential"],
        "issuer": DID,
        "issuanceDate": "2024-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:alice", "degree": "Bachelor of Science"},
    }


def presentation() -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "holder": DID,
    }


async def _verify(
    document: dict[str, Any], purpose: str = "assertionMethod", **kw: Any
) -> list[Any]:
    return await verify(document, RESOLVER, expected_purpose=purpose, now=NOW, **kw)


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("factory", [ob3, vc11], ids=["ob3", "vc11"])
async def test_sign_verify_round_trip(suite: str, factory: Any) -> None:
    document = factory()
    signed = sign(document, KEY, cryptosuite=suite, verification_method=VM)
    assert document == factory()  # input untouched
    proof = signed["proof"]
    assert proof["type"] == "DataIntegrityProof" and proof["cryptosuite"] == suite
    assert proof["proofValue"].startswith("z") and is_datetimestamp(proof["created"])
    assert ("@context" in proof) == (suite == EDDSA_JCS_2022)
    verify_proof(signed, proof, KEY.public_key)
    results = await _verify(signed)
    assert [(r.verified, r.error) for r in results] == [(True, None)]


@pytest.mark.parametrize("suite", SUITES)
async def test_presentation_challenge_and_domain(suite: str) -> None:
    signed = sign(
        presentation(),
        KEY,
        cryptosuite=suite,
        verification_method=VM,
        proof_purpose="authentication",
        challenge="c-123",
        domain="verifier.example",
    )
    ok = await _verify(signed, "authentication", challenge="c-123", domain="verifier.example")
    assert ok[0].verified, ok[0].error
    wrong_challenge = await _verify(
        signed, "authentication", challenge="other", domain="verifier.example"
    )
    assert not wrong_challenge[0].verified and "challenge" in (wrong_challenge[0].error or "")
    wrong_domain = await _verify(signed, "authentication", challenge="c-123", domain="evil.example")
    assert not wrong_domain[0].verified and "domain" in (wrong_domain[0].error or "")
    wrong_purpose = await _verify(signed, "assertionMethod")
    assert not wrong_purpose[0].verified and "purpose" in (wrong_purpose[0].error or "")
    unsigned = sign(
        presentation(),
        KEY,
        cryptosuite=suite,
        verification_method=VM,
        proof_purpose="authentication",
    )
    missing = await _verify(unsigned, "authentication", challenge="c-123")
    assert not missing[0].verified and "challenge" in (missing[0].error or "")


async def test_domain_may_be_a_list() -> None:
    signed = sign(
        presentation(),
        KEY,
        cryptosuite=EDDSA_RDFC_2022,
        verification_method=VM,
        proof_purpose="authentication",
        challenge="n",
        domain=["a.example", "b.example"],
    )
    results = await _verify(signed, "authentication", challenge="n", domain="b.example")
    assert results[0].verified, results[0].error


@pytest.mark.parametrize("suite", SUITES)
async def test_expiry(suite: str) -> None:
    future = sign(
        ob3(), KEY, cryptosuite=suite, verification_method=VM, expires="2027-01-01T00:00:00Z"
    )
    assert (await _verify(future))[0].verified
    past = sign(
        ob3(), KEY, cryptosuite=suite, verification_method=VM, expires="2026-01-01T00:00:00Z"
    )
    result = (await _verify(past))[0]
    assert not result.verified and "expired" in (result.error or "")


@pytest.mark.parametrize(
    "bad", ["2024-01-01", "2024-01-01T00:00:00", "2024-02-30T00:00:00Z", "yesterday", 5]
)
def test_invalid_created_rejected_when_signing(bad: Any) -> None:
    with pytest.raises(ProofError, match="created"):
        sign(ob3(), KEY, cryptosuite=EDDSA_JCS_2022, verification_method=VM, created=bad)


@pytest.mark.parametrize("suite", SUITES)
async def test_invalid_created_in_proof_fails_verification(suite: str) -> None:
    signed = sign(ob3(), KEY, cryptosuite=suite, verification_method=VM)
    signed["proof"]["created"] = "2024-13-01T00:00:00Z"
    result = (await _verify(signed))[0]
    assert not result.verified and "created" in (result.error or "")


def test_datetimestamp_parsing() -> None:
    assert parse_datetimestamp("2023-02-24T23:36:38Z") == datetime(
        2023, 2, 24, 23, 36, 38, tzinfo=UTC
    )
    assert parse_datetimestamp("2023-02-24T23:36:38.123+01:00").utcoffset().total_seconds() == 3600  # type: ignore[union-attr]
    for bad in (
        "2023-02-24T23:36:38",
        "2023-02-24 23:36:38Z",
        "2023-02-24T24:00:01Z",
        "2023-02-24T23:36:38+15:00",
    ):
        assert not is_datetimestamp(bad)


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize(
    ("proof_value", "reason"),
    [
        ("not-multibase", "base58btc"),
        ("uAAAA", "base58btc"),
        ("z0OIl", "base58btc"),
        ("z3xyz", "64 bytes"),
        (123, "base58btc"),
    ],
)
def test_bad_proof_values(suite: str, proof_value: Any, reason: str) -> None:
    signed = sign(ob3(), KEY, cryptosuite=suite, verification_method=VM)
    signed["proof"]["proofValue"] = proof_value
    with pytest.raises(ProofError, match=reason):
        verify_proof(signed, signed["proof"], KEY.public_key)


@pytest.mark.parametrize("suite", SUITES)
async def test_wrong_key_and_swapped_verification_method(suite: str) -> None:
    signed = sign(ob3(), KEY, cryptosuite=suite, verification_method=VM)
    other = KeyPair.generate()
    with pytest.raises(ProofError, match="signature does not verify"):
        verify_proof(signed, signed["proof"], other.public_key)
    _, other_vm = did_key_from_public_key(other.public_key)
    swapped = copy.deepcopy(signed)
    swapped["proof"]["verificationMethod"] = other_vm
    assert not (await _verify(swapped))[0].verified
    p256 = KeyPair.generate("P-256")
    with pytest.raises(ProofError, match="Ed25519"):
        verify_proof(signed, signed["proof"], p256.public_key)
    with pytest.raises(ProofError, match="Ed25519"):
        sign(ob3(), p256, cryptosuite=suite, verification_method=VM)


async def test_jcs_proof_context_must_prefix_document_context() -> None:
    signed = sign(ob3(), KEY, cryptosuite=EDDSA_JCS_2022, verification_method=VM)
    reordered = copy.deepcopy(signed)
    reordered["@context"] = list(reversed(reordered["@context"]))
    with pytest.raises(ProofError, match="@context"):
        verify_proof(reordered, reordered["proof"], KEY.public_key)


async def test_jcs_without_context_signs_plain_json() -> None:
    document = {"hello": "world", "n": [1, 2.5, None]}
    signed = sign(document, KEY, cryptosuite=EDDSA_JCS_2022, verification_method=VM)
    assert "@context" not in signed["proof"]
    verify_proof(signed, signed["proof"], KEY.public_key)
    with pytest.raises(DataLossError):
        sign(document, KEY, cryptosuite=EDDSA_RDFC_2022, verification_method=VM)


@pytest.mark.parametrize("suite", SUITES)
async def test_proof_set_each_proof_independent(suite: str) -> None:
    second = KeyPair.generate()
    _, second_vm = did_key_from_public_key(second.public_key)
    once = sign(ob3(), KEY, cryptosuite=suite, verification_method=VM, proof_id="urn:uuid:p1")
    twice = sign(
        once, second, cryptosuite=suite, verification_method=second_vm, proof_id="urn:uuid:p2"
    )
    assert isinstance(twice["proof"], list) and len(twice["proof"]) == 2
    assert [r.verified for r in await _verify(twice)] == [True, True]
    tampered = copy.deepcopy(twice)
    tampered["proof"][0]["created"] = "2020-01-01T00:00:00Z"
    assert [r.verified for r in await _verify(tampered)] == [False, True]
    chained = sign(
        twice, KEY, cryptosuite=suite, verification_method=VM, previous_proof="urn:uuid:p2"
    )
    assert [r.verified for r in await _verify(chained)] == [True, True, True]
    broken = copy.deepcopy(chained)
    broken["proof"][1]["proofValue"] = once["proof"]["proofValue"]
    assert [r.verified for r in await _verify(broken)] == [True, False, False]


def test_previous_proof_must_exist_when_signing() -> None:
    with pytest.raises(ProofError, match="previousProof 'urn:uuid:none'"):
        sign(
            ob3(),
            KEY,
            cryptosuite=EDDSA_RDFC_2022,
            verification_method=VM,
            previous_proof="urn:uuid:none",
        )


async def test_document_without_proof() -> None:
    with pytest.raises(ProofError, match="no proof"):
        await _verify(ob3())
    bad = dict(ob3(), proof="a string")
    with pytest.raises(ProofError, match="'proof' must be"):
        await _verify(bad)
    mixed = sign(ob3(), KEY, cryptosuite=EDDSA_JCS_2022, verification_method=VM)
    mixed["proof"] = [mixed["proof"], "junk"]
    results = await _verify(mixed)
    assert [r.verified for r in results] == [True, False]


@pytest.mark.parametrize(
    "member", ["type", "verificationMethod", "proofPurpose", "cryptosuite", "proofValue"]
)
async def test_missing_proof_members_fail(member: str) -> None:
    signed = sign(ob3(), KEY, cryptosuite=EDDSA_JCS_2022, verification_method=VM)
    del signed["proof"][member]
    result = (await _verify(signed))[0]
    assert not result.verified and result.error


def test_sign_rejects_non_json_input() -> None:
    with pytest.raises(MalformedInputError):
        sign([1, 2], KEY, cryptosuite=EDDSA_JCS_2022, verification_method=VM)  # type: ignore[arg-type]
    with pytest.raises(MalformedInputError):
        sign({"a": {1, 2}}, KEY, cryptosuite=EDDSA_JCS_2022, verification_method=VM)
