"""Keys: generation, signing, Multikey and JWK import/export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ler_crypto.errors import KeyFormatError
from ler_crypto.keys import KeyPair, PublicKey, Signer

SHARED = Path(__file__).resolve().parents[4] / "shared"
EDDSA = SHARED / "vectors" / "vc-di-eddsa"
ECDSA = SHARED / "vectors" / "vc-di-ecdsa"


def test_ed25519_vector_key_pair_round_trips() -> None:
    pair = json.loads((EDDSA / "keyPair.json").read_text())
    key = KeyPair.from_private_multikey(pair["privateKeyMultibase"])
    assert key.curve == "Ed25519" and key.algorithm == "EdDSA"
    assert key.public_key.to_multikey() == pair["publicKeyMultibase"]
    assert key.to_private_multikey() == pair["privateKeyMultibase"]
    assert PublicKey.from_multikey(pair["publicKeyMultibase"]) == key.public_key


def test_p256_vector_key_pair_round_trips() -> None:
    pair = json.loads((ECDSA / "p256KeyPair.json").read_text())
    key = KeyPair.from_private_multikey(pair["secretKeyMultibase"])
    assert key.curve == "P-256" and key.algorithm == "ES256"
    assert key.public_key.to_multikey() == pair["publicKeyMultibase"]
    assert pair["publicKeyMultibase"].startswith("zDn")
    assert len(key.public_key.raw) == 33
    assert key.to_private_multikey() == pair["secretKeyMultibase"]


def test_p384_vector_is_rejected_clearly() -> None:
    pair = json.loads((ECDSA / "p384KeyPair.json").read_text())
    with pytest.raises(KeyFormatError, match="multicodec"):
        PublicKey.from_multikey(pair["publicKeyMultibase"])


@pytest.mark.parametrize("curve", ["Ed25519", "P-256"])
def test_sign_verify_and_tamper(curve: str) -> None:
    key = KeyPair.generate(curve)  # type: ignore[arg-type]
    assert isinstance(key, Signer)
    signature = key.sign(b"message")
    assert len(signature) == 64
    assert key.public_key.verify(signature, b"message")
    assert not key.public_key.verify(signature, b"messagf")
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert not key.public_key.verify(flipped, b"message")
    assert not key.public_key.verify(signature[:63], b"message")
    assert not key.public_key.verify(b"\0" * 64, b"message")
    other = KeyPair.generate(curve)  # type: ignore[arg-type]
    assert not other.public_key.verify(signature, b"message")


@pytest.mark.parametrize("curve", ["Ed25519", "P-256"])
def test_jwk_round_trip(curve: str) -> None:
    key = KeyPair.generate(curve)  # type: ignore[arg-type]
    public = key.public_key.to_jwk()
    assert "d" not in public
    assert public["kty"] == ("OKP" if curve == "Ed25519" else "EC")
    assert PublicKey.from_jwk(public) == key.public_key
    private = key.to_private_jwk()
    restored = KeyPair.from_private_jwk(private)
    assert restored.public_key == key.public_key
    assert restored.public_key.verify(restored.sign(b"x"), b"x")
    assert KeyPair.from_private_multikey(key.to_private_multikey()).public_key == key.public_key


def test_rfc8037_ed25519_jwk_and_thumbprint() -> None:
    # RFC 8037 Appendix A.1-A.3
    jwk = {
        "kty": "OKP",
        "crv": "Ed25519",
        "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
        "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
    }
    key = KeyPair.from_private_jwk(jwk)
    assert key.public_key.jwk_thumbprint() == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    # RFC 8037 A.4: signature over "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
    signing_input = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
    assert key.sign(signing_input).hex().startswith("860c98d2297f3060")


def test_private_jwk_with_mismatched_public_part_rejected() -> None:
    a, b = KeyPair.generate("Ed25519"), KeyPair.generate("Ed25519")
    forged = dict(a.to_private_jwk(), x=b.public_key.to_jwk()["x"])
    with pytest.raises(KeyFormatError, match="do not match"):
        KeyPair.from_private_jwk(forged)


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
        {"kty": "OKP", "crv": "X25519", "x": "AAAA"},
        {"kty": "OKP", "crv": "Ed25519"},
        {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"},
        {"kty": "EC", "crv": "P-256", "x": "A" * 43, "y": "A" * 43},
        "not a dict",
    ],
)
def test_bad_jwks_are_key_format_errors(jwk: object) -> None:
    with pytest.raises(KeyFormatError):
        PublicKey.from_jwk(jwk)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value", ["z6Mk", "zQ3s", "u7QE", "6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2", ""]
)
def test_bad_multikeys_are_key_format_errors(value: str) -> None:
    with pytest.raises(KeyFormatError):
        PublicKey.from_multikey(value)


def test_private_material_never_in_repr_or_str() -> None:
    for curve in ("Ed25519", "P-256"):
        key = KeyPair.generate(curve)  # type: ignore[arg-type]
        secret_forms = [
            key.private_bytes().hex(),
            key.to_private_jwk()["d"],
            key.to_private_multikey(),
        ]
        for text in (repr(key), str(key), repr(key.public_key)):
            for secret in secret_forms:
                assert secret not in text
        assert key.public_key.to_multikey() in repr(key)


def test_key_pair_refuses_pickling() -> None:
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(KeyPair.generate())


def test_wrong_private_lengths() -> None:
    with pytest.raises(KeyFormatError):
        KeyPair.from_private_bytes("Ed25519", b"\1" * 31)
    with pytest.raises(KeyFormatError, match="out of range"):
        KeyPair.from_private_bytes("P-256", b"\xff" * 32)


@given(st.binary(max_size=256))
@settings(max_examples=50, deadline=None)
def test_p256_signatures_verify_for_any_message(message: bytes) -> None:
    key = _P256
    assert key.public_key.verify(key.sign(message), message)


_P256 = KeyPair.generate("P-256")
