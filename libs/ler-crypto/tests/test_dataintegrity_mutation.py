"""Every change to a signed credential — any leaf, any proof member, the key — breaks it."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ler_crypto.dataintegrity import EDDSA_JCS_2022, EDDSA_RDFC_2022, sign, verify_proof
from ler_crypto.did import did_key_from_public_key
from ler_crypto.errors import CryptoError
from ler_crypto.keys import KeyPair, PublicKey

SHARED = Path(__file__).resolve().parents[4] / "shared"
EDDSA = SHARED / "vectors" / "vc-di-eddsa"
DATA = Path(__file__).resolve().parent / "data"
KEY = KeyPair.generate()
_, VM = did_key_from_public_key(KEY.public_key)
VECTOR_KEY = PublicKey.from_multikey(
    json.loads((EDDSA / "keyPair.json").read_text())["publicKeyMultibase"]
)

Path_ = tuple[str | int, ...]


def leaves(value: Any, path: Path_ = ()) -> Iterator[Path_]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path


def mutate(value: Any) -> Any:
    """A different value of the same JSON type (digits change, strings grow)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        if len(value) >= 20 and value[:4].isdigit() and value[4] == "-":
            return (
                value[:18] + ("1" if value[18] != "1" else "2") + value[19:]
            )  # another valid second
        return value + "x"
    return "x"


def set_path(document: Any, path: Path_, new: Any) -> None:
    target = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new


def get_path(document: Any, path: Path_) -> Any:
    for step in path:
        document = document[step]
    return document


def assert_rejected(document: dict[str, Any], key: PublicKey, label: str) -> None:
    proofs = document["proof"] if isinstance(document["proof"], list) else [document["proof"]]
    try:
        verify_proof(document, proofs[-1], key)
    except CryptoError:
        return
    pytest.fail(f"mutation of {label} still verifies")


def signed_samples() -> list[tuple[str, dict[str, Any], PublicKey]]:
    ob3 = json.loads((DATA / "ob3_credential.json").read_text())
    return [
        (
            "vector-rdfc",
            json.loads((EDDSA / "eddsa-rdfc-2022" / "signedDataInt.json").read_text()),
            VECTOR_KEY,
        ),
        (
            "vector-jcs",
            json.loads((EDDSA / "eddsa-jcs-2022" / "signedJCS.json").read_text()),
            VECTOR_KEY,
        ),
        (
            "ob3-rdfc",
            sign(ob3, KEY, cryptosuite=EDDSA_RDFC_2022, verification_method=VM),
            KEY.public_key,
        ),
        (
            "ob3-jcs",
            sign(ob3, KEY, cryptosuite=EDDSA_JCS_2022, verification_method=VM),
            KEY.public_key,
        ),
    ]


SAMPLES = signed_samples()


@pytest.mark.parametrize(("name", "signed", "key"), SAMPLES, ids=[s[0] for s in SAMPLES])
def test_every_leaf_mutation_fails(name: str, signed: dict[str, Any], key: PublicKey) -> None:
    verify_proof(signed, signed["proof"], key)  # the baseline verifies
    paths = list(leaves(signed))
    assert len(paths) > 10
    for path in paths:
        mutated = copy.deepcopy(signed)
        set_path(mutated, path, mutate(get_path(signed, path)))
        assert_rejected(mutated, key, f"{name}:{'/'.join(map(str, path))}")


@pytest.mark.parametrize(("name", "signed", "key"), SAMPLES, ids=[s[0] for s in SAMPLES])
def test_removing_or_adding_members_fails(
    name: str, signed: dict[str, Any], key: PublicKey
) -> None:
    # eddsa-jcs-2022 proofs carry "@context" only for the prefix check of VC-DI-EDDSA
    # §3.3.2 step 4; the proof configuration takes @context from the document, so
    # the member itself is not signed and dropping it changes nothing that is.
    proof_members = [f"proof.{k}" for k in signed["proof"] if k != "@context"]
    for member in [k for k in signed if k != "proof"] + proof_members:
        mutated = copy.deepcopy(signed)
        if member.startswith("proof."):
            del mutated["proof"][member.removeprefix("proof.")]
        else:
            del mutated[member]
        assert_rejected(mutated, key, f"{name}: without {member}")
    for extra in ({"name": "injected"}, {"credentialSubject": {"id": "did:example:mallory"}}):
        mutated = copy.deepcopy(signed)
        mutated.update(extra)
        assert_rejected(mutated, key, f"{name}: with {extra}")
    added_proof_member = copy.deepcopy(signed)
    added_proof_member["proof"]["domain"] = "injected.example"
    assert_rejected(added_proof_member, key, f"{name}: proof with added domain")


@pytest.mark.parametrize(("name", "signed", "key"), SAMPLES, ids=[s[0] for s in SAMPLES])
def test_other_keys_fail(name: str, signed: dict[str, Any], key: PublicKey) -> None:
    for _ in range(3):
        assert_rejected(signed, KeyPair.generate().public_key, f"{name}: another key")
