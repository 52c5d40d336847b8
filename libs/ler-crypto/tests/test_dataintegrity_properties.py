"""Hypothesis properties: sign→verify round trips; any proofValue bit flip fails."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ler_crypto.dataintegrity import EDDSA_JCS_2022, EDDSA_RDFC_2022, sign, verify_proof
from ler_crypto.did import did_key_from_public_key
from ler_crypto.errors import ProofError
from ler_crypto.keys import KeyPair
from ler_crypto.multibase import b58decode, b58encode

KEY = KeyPair.generate()
_, VM = did_key_from_public_key(KEY.public_key)
CONTEXT = ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"]

# Terms land in the examples @vocab; avoid the aliases "id"/"type" and keywords.
TERMS = st.from_regex(r"[a-z][A-Za-z0-9]{0,12}", fullmatch=True).filter(
    lambda t: t not in {"id", "type"}
)
LD_SCALARS = (
    st.text(max_size=40)
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
)
LD_VALUES = st.recursive(
    LD_SCALARS,
    lambda children: (
        st.lists(children, min_size=1, max_size=3)
        | st.dictionaries(TERMS, children, min_size=1, max_size=3)
    ),
    max_leaves=8,
)
SUBJECTS = st.dictionaries(TERMS, LD_VALUES, min_size=1, max_size=5)

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.text()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=15,
)


def credential(subject: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": CONTEXT,
        "type": ["VerifiableCredential", "ExampleCredential"],
        "issuer": "did:example:issuer",
        "credentialSubject": {"id": "did:example:subject", **subject},
    }


@given(SUBJECTS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_rdfc_round_trip_for_generated_subjects(subject: dict[str, Any]) -> None:
    signed = sign(credential(subject), KEY, cryptosuite=EDDSA_RDFC_2022, verification_method=VM)
    verify_proof(signed, signed["proof"], KEY.public_key)


@given(st.dictionaries(st.text(max_size=10), JSON_VALUES, min_size=1, max_size=6))
@settings(max_examples=150, deadline=None)
def test_jcs_round_trip_for_generated_subjects(subject: dict[str, Any]) -> None:
    document = credential({})
    document["credentialSubject"] = subject
    signed = sign(document, KEY, cryptosuite=EDDSA_JCS_2022, verification_method=VM)
    verify_proof(signed, signed["proof"], KEY.public_key)


SIGNED = {
    suite: sign(
        credential({"alumniOf": "Example University"}),
        KEY,
        cryptosuite=suite,
        verification_method=VM,
    )
    for suite in (EDDSA_RDFC_2022, EDDSA_JCS_2022)
}


@pytest.mark.parametrize("suite", list(SIGNED))
@given(bit=st.integers(min_value=0, max_value=511))
@settings(max_examples=100, deadline=None)
def test_any_signature_bit_flip_fails(suite: str, bit: int) -> None:
    signed = SIGNED[suite]
    signature = bytearray(b58decode(signed["proof"]["proofValue"][1:]))
    signature[bit // 8] ^= 1 << (bit % 8)
    proof = dict(signed["proof"], proofValue="z" + b58encode(bytes(signature)))
    with pytest.raises(ProofError, match="signature does not verify"):
        verify_proof(dict(signed, proof=proof), proof, KEY.public_key)


@pytest.mark.parametrize("suite", list(SIGNED))
@given(data=st.data())
@settings(max_examples=100, deadline=None)
def test_any_proof_value_character_change_fails(suite: str, data: st.DataObject) -> None:
    signed = SIGNED[suite]
    value = signed["proof"]["proofValue"]
    index = data.draw(st.integers(min_value=1, max_value=len(value) - 1))
    replacement = data.draw(
        st.sampled_from("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0OIl").filter(
            lambda c: c != value[index]
        )
    )
    proof = dict(signed["proof"], proofValue=value[:index] + replacement + value[index + 1 :])
    with pytest.raises(ProofError):
        verify_proof(dict(signed, proof=proof), proof, KEY.public_key)
