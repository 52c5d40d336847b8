"""``ProofConfigHashes``: signing a batch canonicalizes each distinct proof configuration once,
and the proofs are exactly those of one-at-a-time signing."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from ler_crypto.dataintegrity import (
    EDDSA_JCS_2022,
    EDDSA_RDFC_2022,
    ProofConfigHashes,
    sign,
    verify,
)
from ler_crypto.did import DidResolver, did_key_from_public_key
from ler_crypto.keys import KeyPair

DATA = Path(__file__).resolve().parent / "data"
KEY = KeyPair.generate("Ed25519")
DID, VM = did_key_from_public_key(KEY.public_key)
CREATED = "2026-06-01T00:00:00Z"


def _credential(n: int) -> dict[str, Any]:
    credential = json.loads((DATA / "ob3_credential.json").read_text())
    credential["issuer"]["id"] = DID
    credential["id"] = f"urn:uuid:0b6c7a8e-0000-4000-8000-{n:012d}"
    return credential


@pytest.mark.parametrize("suite", [EDDSA_RDFC_2022, EDDSA_JCS_2022])
async def test_a_batch_shares_one_configuration_and_signs_as_one_at_a_time(suite: str) -> None:
    hashes = ProofConfigHashes()
    documents = [_credential(n) for n in range(5)]
    batch = [
        sign(
            d, KEY, cryptosuite=suite, verification_method=VM, created=CREATED, config_hashes=hashes
        )
        for d in documents
    ]
    single = [
        sign(d, KEY, cryptosuite=suite, verification_method=VM, created=CREATED) for d in documents
    ]
    assert batch == single  # Ed25519 is deterministic: same hash data, same proof
    assert len(hashes) == 1 and hashes.hits == 4
    for signed in batch:
        results = await verify(
            signed, resolver=DidResolver(offline=True), expected_purpose="assertionMethod"
        )
        assert [r.verified for r in results] == [True]


def test_another_option_or_context_is_another_entry_never_a_stale_hash() -> None:
    hashes = ProofConfigHashes()
    first = _credential(1)
    other_context = copy.deepcopy(first)
    other_context["@context"].append({"extra": "https://example.org/extra#"})
    signed = [
        sign(
            first,
            KEY,
            cryptosuite=EDDSA_RDFC_2022,
            verification_method=VM,
            created=CREATED,
            config_hashes=hashes,
        ),
        sign(
            first,
            KEY,
            cryptosuite=EDDSA_RDFC_2022,
            verification_method=VM,
            created="2026-06-01T00:00:01Z",
            config_hashes=hashes,
        ),
        sign(
            other_context,
            KEY,
            cryptosuite=EDDSA_RDFC_2022,
            verification_method=VM,
            created=CREATED,
            config_hashes=hashes,
        ),
        sign(
            first,
            KEY,
            cryptosuite=EDDSA_JCS_2022,
            verification_method=VM,
            created=CREATED,
            config_hashes=hashes,
        ),
    ]
    assert len(hashes) == 4 and hashes.hits == 0
    for doc, got in zip([first, first, other_context, first], signed, strict=True):
        proof = got["proof"]
        alone = sign(
            doc,
            KEY,
            cryptosuite=proof["cryptosuite"],
            verification_method=VM,
            created=proof["created"],
        )
        assert alone["proof"]["proofValue"] == proof["proofValue"]


def test_bounded_oldest_entry_goes_first() -> None:
    hashes = ProofConfigHashes(maxsize=2)
    doc = _credential(1)
    for second in range(3):
        sign(
            doc,
            KEY,
            cryptosuite=EDDSA_JCS_2022,
            verification_method=VM,
            created=f"2026-06-01T00:00:0{second}Z",
            config_hashes=hashes,
        )
    assert len(hashes) == 2
    with pytest.raises(ValueError):
        ProofConfigHashes(maxsize=0)
