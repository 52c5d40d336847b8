"""Multibase / multicodec encoding."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ler_crypto.errors import KeyFormatError
from ler_crypto.multibase import (
    b58decode,
    b58encode,
    b64url_decode,
    b64url_encode,
    multibase_decode,
    multibase_encode_b58,
)


def test_base58_known_values() -> None:
    # draft-msporny-base58 §5 test vectors
    assert b58encode(b"Hello World!") == "2NEpo7TZRRrLZSi2U"
    assert b58encode(b"The quick brown fox jumps over the lazy dog.") == (
        "USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z"
    )
    assert b58encode(bytes.fromhex("0000287fb4cd")) == "11233QC4"
    assert b58decode("11233QC4") == bytes.fromhex("0000287fb4cd")


@given(st.binary(max_size=80))
@settings(max_examples=300, deadline=None)
def test_base58_round_trip(data: bytes) -> None:
    assert b58decode(b58encode(data)) == data
    assert multibase_decode(multibase_encode_b58(data)) == data


@given(st.binary(max_size=80))
@settings(max_examples=300, deadline=None)
def test_base64url_round_trip(data: bytes) -> None:
    encoded = b64url_encode(data)
    assert "=" not in encoded and "+" not in encoded and "/" not in encoded
    assert b64url_decode(encoded) == data
    assert multibase_decode("u" + encoded) == data


@pytest.mark.parametrize("bad", ["z0OIl", "zabc!", "", "mAAAA", "u+/==", "uAA=A", "x123"])
def test_invalid_multibase_is_key_format_error(bad: str) -> None:
    with pytest.raises(KeyFormatError):
        multibase_decode(bad)


def test_overlong_base58_refused_quickly() -> None:
    with pytest.raises(KeyFormatError, match="too long"):
        b58decode("2" * 100_000)
