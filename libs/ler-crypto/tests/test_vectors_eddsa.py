"""W3C vc-di-eddsa test vectors: every intermediate value byte for byte, and verification."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from ler_crypto.dataintegrity import (
    EDDSA_JCS_2022,
    EDDSA_RDFC_2022,
    canonicalize_for_suite,
    hash_data,
    proof_configuration,
    sign,
    verify,
    verify_proof,
)
from ler_crypto.did import DidResolver
from ler_crypto.errors import ProofError, UnknownContextError
from ler_crypto.keys import KeyPair
from ler_crypto.multibase import b58decode, b58encode

SHARED = Path(__file__).resolve().parents[4] / "shared"
EDDSA = SHARED / "vectors" / "vc-di-eddsa"
CHAIN = EDDSA / "proof-set-chain"

SUITES = {
    EDDSA_RDFC_2022: ("eddsa-rdfc-2022", "DataInt"),
    EDDSA_JCS_2022: ("eddsa-jcs-2022", "JCS"),
}


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _key(private_multibase: str) -> KeyPair:
    return KeyPair.from_private_multikey(private_multibase)


KEY = _key(_json(EDDSA / "keyPair.json")["privateKeyMultibase"])
UNSIGNED = _json(EDDSA / "unsigned.json")


@pytest.mark.parametrize("suite", list(SUITES))
def test_suite_vectors_reproduce_byte_for_byte(suite: str) -> None:
    folder, tag = SUITES[suite]
    base = EDDSA / folder
    expected_config = _json(base / f"proofConfig{tag}.json")
    options = {k: v for k, v in expected_config.items() if k != "@context"}

    config = proof_configuration(suite, options, UNSIGNED)
    assert config == expected_config

    canonical_doc = canonicalize_for_suite(suite, UNSIGNED)
    canonical_config = canonicalize_for_suite(suite, config)
    assert canonical_doc == (base / f"canonDoc{tag}.txt").read_bytes()
    assert canonical_config == (base / f"proofCanon{tag}.txt").read_bytes()
    assert hashlib.sha256(canonical_doc).hexdigest() == _text(base / f"docHash{tag}.txt").strip()
    assert (
        hashlib.sha256(canonical_config).hexdigest() == _text(base / f"proofHash{tag}.txt").strip()
    )

    combined = hash_data(suite, UNSIGNED, config)
    assert combined.hex() == _text(base / f"combinedHash{tag}.txt").strip()
    signature = KEY.sign(combined)
    assert signature.hex() == _text(base / f"sigHex{tag}.txt").strip()
    assert "z" + b58encode(signature) == _text(base / f"sigBTC58{tag}.txt").strip()

    signed = sign(
        UNSIGNED,
        KEY,
        cryptosuite=suite,
        verification_method=options["verificationMethod"],
        created=options["created"],
    )
    assert signed == _json(base / f"signed{tag}.json")
    assert UNSIGNED == _json(EDDSA / "unsigned.json")  # input untouched


@pytest.mark.parametrize("suite", list(SUITES))
async def test_signed_vectors_verify(suite: str) -> None:
    folder, tag = SUITES[suite]
    signed = _json(EDDSA / folder / f"signed{tag}.json")
    verify_proof(signed, signed["proof"], KEY.public_key)
    results = await verify(signed, DidResolver(offline=True), expected_purpose="assertionMethod")
    assert [(r.verified, r.error, r.cryptosuite) for r in results] == [(True, None, suite)]


def test_jcs_vector_signature_bytes_decode() -> None:
    value = _text(EDDSA / "eddsa-jcs-2022" / "sigBTC58JCS.txt").strip()
    assert b58decode(value[1:]).hex() == _text(EDDSA / "eddsa-jcs-2022" / "sigHexJCS.txt").strip()


async def test_employment_vector_needs_unbundled_context() -> None:
    signed = _json(EDDSA / "eddsa-rdfc-2022" / "employ" / "signedDataInt.json")
    with pytest.raises(UnknownContextError, match=r"https://w3id\.org/citizenship/v4rc1"):
        verify_proof(signed, signed["proof"], KEY.public_key)
    results = await verify(signed, DidResolver(offline=True), expected_purpose="assertionMethod")
    assert results[0].verified is False
    assert results[0].error_type == "UnknownContextError"
    assert "citizenship/v4rc1" in (results[0].error or "")
    unsigned = _json(EDDSA / "employmentAuth.json")
    with pytest.raises(UnknownContextError):
        sign(unsigned, KEY, cryptosuite=EDDSA_RDFC_2022, verification_method="did:key:z#z")


async def test_legacy_ed25519signature2020_reported_as_unsupported() -> None:
    signed = _json(EDDSA / "Ed25519Signature2020" / "signedEdSig.json")
    results = await verify(signed, DidResolver(offline=True), expected_purpose="assertionMethod")
    assert results[0].verified is False
    assert "Ed25519Signature2020" in (results[0].error or "")
    assert "not supported" in (results[0].error or "") or "unsupported" in (results[0].error or "")
    with pytest.raises(ProofError, match="unsupported cryptosuite"):
        sign(UNSIGNED, KEY, cryptosuite="Ed25519Signature2020", verification_method="did:key:z#z")


MULTI = _json(CHAIN / "multiKeyPairs.json")
KEYS = {name: _key(pair["privateKeyMultibase"]) for name, pair in MULTI.items()}


def test_multi_key_pairs_match() -> None:
    for name, pair in MULTI.items():
        assert KEYS[name].public_key.to_multikey() == pair["publicKeyMultibase"]


def _sign_like(document: dict[str, Any], config_file: str, key: KeyPair) -> dict[str, Any]:
    config = _json(CHAIN / config_file)
    return sign(
        document,
        key,
        cryptosuite=config["cryptosuite"],
        verification_method=config["verificationMethod"],
        created=config["created"],
        proof_id=config.get("id"),
        previous_proof=config.get("previousProof"),
        proof_purpose=config["proofPurpose"],
    )


def test_proof_set_and_chain_vectors_reproduce() -> None:
    unsigned = _json(CHAIN / "unsigned.json")
    set1 = _sign_like(unsigned, "proofSetConfig1.json", KEYS["keyPair1"])
    assert set1 == _json(CHAIN / "signedProofSet1.json")
    assert set1["proof"] == _json(CHAIN / "proofSetConfigSigned1.json")
    set2 = _sign_like(set1, "proofSetConfig2.json", KEYS["keyPair2"])
    assert set2 == _json(CHAIN / "signedProofSet2.json")
    assert set2["proof"][1] == _json(CHAIN / "proofSetConfigSigned2.json")
    chain1 = _sign_like(set2, "proofChainConfig1.json", KEYS["keyPair3"])
    assert chain1 == _json(CHAIN / "signedProofChain1.json")
    assert chain1["proof"][2] == _json(CHAIN / "proofChainConfigSigned1.json")
    chain2 = _sign_like(chain1, "proofChainConfig2.json", KEYS["keyPair4"])
    assert chain2 == _json(CHAIN / "signedProofChain2.json")
    assert chain2["proof"][3] == _json(CHAIN / "proofChainConfigSigned2.json")


@pytest.mark.parametrize(
    ("temp_doc", "signed_config", "key"),
    [
        ("proofChainTempDoc1.json", "proofChainConfigSigned1.json", "keyPair3"),
        ("proofChainTempDoc2.json", "proofChainConfigSigned2.json", "keyPair4"),
    ],
)
def test_chain_temp_documents_are_what_was_signed(
    temp_doc: str, signed_config: str, key: str
) -> None:
    document = _json(CHAIN / temp_doc)
    proof = _json(CHAIN / signed_config)
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    data = hash_data(
        EDDSA_RDFC_2022, document, proof_configuration(EDDSA_RDFC_2022, options, document)
    )
    assert KEYS[key].public_key.verify(b58decode(proof["proofValue"][1:]), data)


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("signedProofSet1.json", 1),
        ("signedProofSet2.json", 2),
        ("signedProofChain1.json", 3),
        ("signedProofChain2.json", 4),
    ],
)
async def test_proof_set_and_chain_vectors_verify(name: str, count: int) -> None:
    document = _json(CHAIN / name)
    results = await verify(document, DidResolver(offline=True), expected_purpose="assertionMethod")
    assert len(results) == count
    assert all(r.verified for r in results), [r.error for r in results]


async def test_chain_with_missing_previous_proof_fails() -> None:
    document = _json(CHAIN / "signedProofChain2.json")
    document["proof"] = [
        p
        for p in document["proof"]
        if p.get("id") != "urn:uuid:d94f792a-c546-4d06-b38a-da070ab56c23"
    ]
    results = await verify(document, DidResolver(offline=True), expected_purpose="assertionMethod")
    last = results[-1]
    assert last.verified is False and "previousProof" in (last.error or "")
    assert all(r.verified for r in results[:-1])


async def test_chain_with_altered_previous_proof_fails() -> None:
    document = _json(CHAIN / "signedProofChain1.json")
    document["proof"][0] = dict(document["proof"][0], created="2023-02-24T23:36:39Z")
    results = await verify(document, DidResolver(offline=True), expected_purpose="assertionMethod")
    assert [r.verified for r in results] == [False, True, False]
