"""Envelope encryption of private keys (AES-256-GCM under KEKs, rotation)."""

from __future__ import annotations

import os

import pytest
from ler_crypto.errors import KeyFormatError
from ler_crypto.keys import KeyPair
from ler_crypto.kms import EnvelopeCipher, KeyEncryptionKey, blob_kid


@pytest.mark.parametrize("curve", ["Ed25519", "P-256"])
def test_encrypt_decrypt_round_trip(curve: str) -> None:
    kek = KeyEncryptionKey.generate("kek-2026-01")
    cipher = EnvelopeCipher([kek], active_kid="kek-2026-01")
    key = KeyPair.generate(curve)  # type: ignore[arg-type]
    blob = cipher.encrypt_private_key(key)
    assert blob_kid(blob) == "kek-2026-01"
    assert key.private_bytes() not in blob
    restored = cipher.decrypt(blob)
    assert restored.curve == curve
    assert restored.public_key == key.public_key
    assert restored.public_key.verify(restored.sign(b"m"), b"m")


def test_each_encryption_uses_a_fresh_nonce() -> None:
    cipher = EnvelopeCipher([KeyEncryptionKey.generate("a")], active_kid="a")
    key = KeyPair.generate()
    assert cipher.encrypt_private_key(key) != cipher.encrypt_private_key(key)


def test_rotation_rewraps_under_new_kek() -> None:
    old, new = KeyEncryptionKey.generate("old"), KeyEncryptionKey.generate("new")
    key = KeyPair.generate()
    blob = EnvelopeCipher([old], active_kid="old").encrypt_private_key(key)
    rotating = EnvelopeCipher({"old": old, "new": new}, active_kid="new")
    assert rotating.needs_rewrap(blob)
    rewrapped = rotating.rewrap(blob)
    assert blob_kid(rewrapped) == "new" and not rotating.needs_rewrap(rewrapped)
    only_new = EnvelopeCipher([new], active_kid="new")
    assert only_new.decrypt(rewrapped).public_key == key.public_key
    with pytest.raises(KeyFormatError, match="'old', which is not configured"):
        only_new.decrypt(blob)


def test_wrong_kek_with_same_kid_gives_clear_error_without_secrets() -> None:
    right = KeyEncryptionKey("k1", os.urandom(32))
    wrong_bytes = os.urandom(32)
    wrong = KeyEncryptionKey("k1", wrong_bytes)
    key = KeyPair.generate()
    blob = EnvelopeCipher([right], active_kid="k1").encrypt_private_key(key)
    with pytest.raises(KeyFormatError, match="wrong key-encryption key") as info:
        EnvelopeCipher([wrong], active_kid="k1").decrypt(blob)
    message = str(info.value)
    assert wrong_bytes.hex() not in message and key.private_bytes().hex() not in message


@pytest.mark.parametrize("position", [0, 4, 5, 8, 20, -1])
def test_tampered_blob_is_rejected(position: int) -> None:
    kek = KeyEncryptionKey.generate("kid")
    cipher = EnvelopeCipher([kek], active_kid="kid")
    blob = bytearray(cipher.encrypt_private_key(KeyPair.generate()))
    blob[position] ^= 0x01
    with pytest.raises(KeyFormatError):
        cipher.decrypt(bytes(blob))


@pytest.mark.parametrize("blob", [b"", b"LERK", b"LERK\x02\x01a" + b"\0" * 40, b"x" * 80])
def test_garbage_blobs(blob: bytes) -> None:
    cipher = EnvelopeCipher([KeyEncryptionKey.generate("a")], active_kid="a")
    with pytest.raises(KeyFormatError):
        cipher.decrypt(blob)


def test_kek_validation_and_repr_hides_key() -> None:
    secret = os.urandom(32)
    kek = KeyEncryptionKey("main", secret)
    assert secret.hex() not in repr(kek) and "main" in repr(kek)
    cipher = EnvelopeCipher([kek], active_kid="main")
    assert secret.hex() not in repr(cipher)
    with pytest.raises(KeyFormatError, match="32 bytes"):
        KeyEncryptionKey("short", b"\0" * 16)
    with pytest.raises(KeyFormatError, match="not among"):
        EnvelopeCipher([kek], active_kid="other")


def test_sealed_data_round_trips_rotates_and_is_never_taken_for_a_key() -> None:
    secret = b"whsec-Zm9vYmFyYmF6cXV4"
    old, new = KeyEncryptionKey.generate("old"), KeyEncryptionKey.generate("new")
    sealed = EnvelopeCipher([old], "old").seal(secret)
    assert secret not in sealed and blob_kid(sealed) == "old"
    both = EnvelopeCipher([old, new], "new")
    assert both.open(sealed) == secret and both.needs_rewrap(sealed)
    rewrapped = both.rewrap(sealed)
    assert blob_kid(rewrapped) == "new" and EnvelopeCipher([new], "new").open(rewrapped) == secret
    # data and key blobs cannot be confused
    key_blob = both.encrypt_private_key(KeyPair.generate("Ed25519"))
    with pytest.raises(KeyFormatError, match="unknown format"):
        both.open(key_blob)
    with pytest.raises(KeyFormatError, match="unknown format"):
        both.decrypt(sealed)
    with pytest.raises(KeyFormatError, match="truncated"):
        both.open(sealed[:20])
    wrong = EnvelopeCipher([KeyEncryptionKey.generate("new")], "new")
    with pytest.raises(KeyFormatError, match="wrong key-encryption key") as caught:
        wrong.open(rewrapped)
    assert secret.decode() not in str(caught.value)
