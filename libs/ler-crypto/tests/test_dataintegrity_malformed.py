"""Malformed input to sign/verify: always a CryptoError subclass, quickly, never a crash."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
from ler_crypto.dataintegrity import EDDSA_JCS_2022, EDDSA_RDFC_2022, sign, verify, verify_proof
from ler_crypto.did import DidResolver, did_key_from_public_key
from ler_crypto.errors import (
    CryptoError,
    DataLossError,
    MalformedInputError,
    ProofError,
    UnknownContextError,
)
from ler_crypto.keys import KeyPair
from ler_crypto.limits import parse_json

DATA = Path(__file__).resolve().parent / "data"
SUITES = [EDDSA_RDFC_2022, EDDSA_JCS_2022]
KEY = KeyPair.generate()
_, VM = did_key_from_public_key(KEY.public_key)
VC2 = "https://www.w3.org/ns/credentials/v2"


def ob3() -> dict[str, Any]:
    return json.loads((DATA / "ob3_credential.json").read_text())


def deep(levels: int) -> dict[str, Any]:
    document: dict[str, Any] = {"@context": [VC2], "type": ["VerifiableCredential"]}
    node = document
    for _ in range(levels):
        node["credentialSubject"] = {"id": "did:example:x"}
        node = node["credentialSubject"]
    return document


def huge() -> dict[str, Any]:
    document = ob3()
    document["description"] = "x" * 10_000_000
    return document


MALFORMED: list[tuple[str, Any, type[CryptoError]]] = [
    ("list", [ob3()], MalformedInputError),
    ("string", "not a document", MalformedInputError),
    ("set-value", dict(ob3(), name={"a", "b"}), MalformedInputError),
    ("bytes-value", dict(ob3(), name=b"raw"), MalformedInputError),
    ("int-key", {**ob3(), 7: "x"}, MalformedInputError),
    (
        "nan",
        dict(
            ob3(),
            credentialSubject=dict(
                ob3()["credentialSubject"],
                achievement=dict(
                    ob3()["credentialSubject"]["achievement"], creditsAvailable=float("nan")
                ),
            ),
        ),
        MalformedInputError,
    ),
    (
        "unknown-context",
        dict(ob3(), **{"@context": [VC2, "https://unknown.example/ctx"]}),
        UnknownContextError,
    ),
    (
        "import-context",
        dict(ob3(), **{"@context": [VC2, {"@import": "https://attacker.example/c"}]}),
        UnknownContextError,
    ),
    ("deep-10000", deep(10_000), MalformedInputError),
    ("10MB", huge(), MalformedInputError),
]


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize(("name", "document", "error"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_sign_malformed(suite: str, name: str, document: Any, error: type[CryptoError]) -> None:
    if suite == EDDSA_JCS_2022 and error is UnknownContextError:
        error = CryptoError  # JCS does not interpret contexts; signing plain JSON succeeds
        sign(document, KEY, cryptosuite=suite, verification_method=VM)
        return
    started = time.perf_counter()
    with pytest.raises(error) as info:
        sign(document, KEY, cryptosuite=suite, verification_method=VM)
    assert str(info.value)
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize(("name", "document", "error"), MALFORMED, ids=[m[0] for m in MALFORMED])
async def test_verify_malformed(
    suite: str, name: str, document: Any, error: type[CryptoError]
) -> None:
    signed = sign(ob3(), KEY, cryptosuite=suite, verification_method=VM)
    candidate = document
    if isinstance(document, dict):
        candidate = dict(document, proof=copy.deepcopy(signed["proof"]))
    started = time.perf_counter()
    try:
        results = await verify(
            candidate, DidResolver(offline=True), expected_purpose="assertionMethod"
        )
    except CryptoError as err:
        assert str(err)
    else:
        assert [r.verified for r in results] == [False]
        assert results[0].error
    with pytest.raises(CryptoError):
        verify_proof(candidate, signed["proof"], KEY.public_key)
    assert time.perf_counter() - started < 10


@pytest.mark.parametrize(
    "text",
    [
        b"{",
        b"[1,]",
        b'{"a":1,"a":2}',
        b"NaN",
        b'{"x": Infinity}',
        b"\xff\xfe",
        b"[" * 10_000 + b"]" * 10_000,
        b" " * 3_000_000,
    ],
)
def test_parse_json_bounded(text: bytes) -> None:
    with pytest.raises(MalformedInputError):
        parse_json(text)


def test_parse_json_accepts_credentials() -> None:
    assert parse_json((DATA / "ob3_credential.json").read_bytes()) == ob3()


@pytest.mark.parametrize("suite", SUITES)
def test_proof_option_types_validated(suite: str) -> None:
    with pytest.raises(ProofError, match="verificationMethod"):
        sign(ob3(), KEY, cryptosuite=suite, verification_method="")
    with pytest.raises(ProofError, match="domain"):
        sign(ob3(), KEY, cryptosuite=suite, verification_method=VM, domain=[])  # type: ignore[arg-type]
    with pytest.raises(ProofError, match="challenge"):
        sign(ob3(), KEY, cryptosuite=suite, verification_method=VM, challenge=5)  # type: ignore[arg-type]


def test_rdfc_signing_refuses_data_loss() -> None:
    document = ob3()
    document["credentialSubject"]["undefinedTermNobodyDefines"] = "lost?"
    # OB 3.0.3 + VC 2.0 contexts have no @vocab for this position: never silently dropped.
    with pytest.raises(DataLossError, match="undefinedTermNobodyDefines"):
        sign(document, KEY, cryptosuite=EDDSA_RDFC_2022, verification_method=VM)
