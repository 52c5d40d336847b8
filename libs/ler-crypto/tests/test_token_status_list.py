"""IETF Token Status List: the draft's encoding examples, round trips, bounded decoding, and every
check of a Status List Token (draft-ietf-oauth-status-list-17)."""

from __future__ import annotations

import re
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ler_crypto.did import DidResolver, did_key_from_public_key
from ler_crypto.keys import KeyPair
from ler_crypto.multibase import b64url_decode, b64url_encode
from ler_crypto.sdjwt import sign_compact
from ler_crypto.token_status_list import (
    TokenStatus,
    TokenStatusError,
    build_status_list_token,
    compact_jwt_text,
    decode_status_list,
    encode_status_list,
    pack_statuses,
    parse_status_reference,
    unverified_ttl,
    verify_status_list_token,
)

NOW = 1_750_000_000
URI = "https://college.example.edu/issuers/i-1/status-lists/l-1/token"

# TSL §4.1 first example (bits=1, 16 statuses) and its §4.2 JSON encoding.
BITS1_STATUSES = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]
BITS1_BYTES = bytes([0xB9, 0xA3])
BITS1_LST = "eNrbuRgAAhcBXQ"
BITS1_COMPRESSED_HEX = "78dadbb918000217015d"
# TSL §4.1 second example (bits=2, 12 statuses, SUSPENDED included) and its §4.2 encoding.
BITS2_STATUSES = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]
BITS2_BYTES = bytes([0xC9, 0x44, 0xF9])
BITS2_LST = "eNo76fITAAPfAgc"
BITS2_COMPRESSED_HEX = "78da3be9f2130003df0207"


@pytest.fixture(scope="module")
def issuer_key() -> KeyPair:
    return KeyPair.generate("Ed25519")


@pytest.fixture(scope="module")
def issuer(issuer_key: KeyPair) -> tuple[str, str]:
    return did_key_from_public_key(issuer_key.public_key)


@pytest.fixture
def resolver() -> DidResolver:
    return DidResolver(offline=True)


# --- the draft's vectors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "bits", "packed", "lst", "compressed_hex"),
    [
        (BITS1_STATUSES, 1, BITS1_BYTES, BITS1_LST, BITS1_COMPRESSED_HEX),
        (BITS2_STATUSES, 2, BITS2_BYTES, BITS2_LST, BITS2_COMPRESSED_HEX),
    ],
)
def test_draft_examples(
    statuses: list[int], bits: int, packed: bytes, lst: str, compressed_hex: str
) -> None:
    assert pack_statuses(statuses, bits) == packed
    assert encode_status_list(statuses, bits) == lst
    assert encode_status_list(packed, bits) == lst
    assert b64url_decode(lst).hex() == compressed_hex
    decoded = decode_status_list(lst, bits)
    assert decoded.data == packed
    assert decoded.size == len(statuses)
    assert [decoded.get(i) for i in range(decoded.size)] == statuses


def test_index_zero_is_the_least_significant_bit() -> None:
    # TSL §4.1 step 3: only status[0] set → byte 0 is 0x01, not 0x80 as in the W3C bitstring.
    assert pack_statuses([1, 0, 0, 0, 0, 0, 0, 0], 1) == b"\x01"
    assert pack_statuses([0, 0, 0, 2], 2) == b"\x80"
    assert pack_statuses([0x0F, 0x01], 4) == b"\x1f"
    assert decode_status_list(encode_status_list(b"\x80", 1), 1).get(7) == 1


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([1, 2, 4, 8]).flatmap(
        lambda bits: st.tuples(
            st.just(bits), st.lists(st.integers(0, (1 << bits) - 1), min_size=1, max_size=300)
        )
    )
)
def test_round_trip(case: tuple[int, list[int]]) -> None:
    bits, statuses = case
    decoded = decode_status_list(encode_status_list(statuses, bits), bits)
    assert [decoded.get(i) for i in range(len(statuses))] == statuses
    # padding up to a whole byte reads as VALID (0)
    assert all(decoded.get(i) == 0 for i in range(len(statuses), decoded.size))


# --- bad lists -------------------------------------------------------------------------------


def test_zip_bomb_is_an_error_not_an_allocation() -> None:
    bomb = b64url_encode(zlib.compress(b"\0" * (20 * 1024 * 1024), 9))
    assert len(bomb) < 50_000
    with pytest.raises(TokenStatusError, match="inflates to more than 16777216 bytes"):
        decode_status_list(bomb, 1)
    with pytest.raises(TokenStatusError, match="more than 1024 bytes"):
        decode_status_list(encode_status_list(bytes(2048), 1), 1, max_bytes=1024)
    assert decode_status_list(encode_status_list(bytes(1024), 1), 1, max_bytes=1024).size == 8192


@pytest.mark.parametrize(
    ("lst", "bits", "message"),
    [
        (BITS1_LST, 3, "bits must be one of 1, 2, 4 or 8"),
        (BITS1_LST, True, "bits must be one of"),
        (BITS1_LST, "1", "bits must be one of"),
        ("", 1, "non-empty base64url"),
        (42, 1, "non-empty base64url"),
        ("not base64!", 1, "not base64url"),
        (b64url_encode(b"plain bytes"), 1, "not ZLIB-compressed"),
        (b64url_encode(zlib.compress(bytes(100))[:-3]), 1, "truncated ZLIB stream"),
        (b64url_encode(zlib.compress(b"\x01") + b"junk"), 1, "data after the end"),
        (b64url_encode(zlib.compress(b"")), 1, "status list is empty"),
    ],
)
def test_malformed_lists(lst: Any, bits: Any, message: str) -> None:
    with pytest.raises(TokenStatusError, match=message):
        decode_status_list(lst, bits)


def test_index_out_of_range_and_bad_values() -> None:
    decoded = decode_status_list(BITS2_LST, 2)
    assert decoded.get(11) == 3
    with pytest.raises(TokenStatusError, match="index 12 is out of range: the list holds 12"):
        decoded.get(12)
    for bad in (-1, True, "0", 1.0):
        with pytest.raises(TokenStatusError, match="non-negative integer"):
            decoded.get(bad)  # type: ignore[arg-type]
    with pytest.raises(TokenStatusError, match="status 4 at index 1 does not fit in 2 bit"):
        pack_statuses([0, 4], 2)


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("revoked", "status claim must be a JSON object"),
        ({"status_list": []}, "status.status_list must be a JSON object"),
        ({"status_list": {"idx": -1, "uri": URI}}, "idx must be a non-negative integer"),
        ({"status_list": {"idx": "3", "uri": URI}}, "idx must be a non-negative integer"),
        ({"status_list": {"idx": True, "uri": URI}}, "idx must be a non-negative integer"),
        ({"status_list": {"idx": 3}}, "uri must be a URI"),
        ({"status_list": {"idx": 3, "uri": "no scheme"}}, "uri must be a URI"),
    ],
)
def test_malformed_status_claims(status: Any, message: str) -> None:
    with pytest.raises(TokenStatusError, match=message):
        parse_status_reference(status)


def test_status_reference() -> None:
    ref = parse_status_reference({"status_list": {"idx": 7, "uri": URI}})
    assert ref is not None and (ref.idx, ref.uri) == (7, URI)
    assert parse_status_reference({"other_mechanism": {}}) is None


# --- Status List Tokens ----------------------------------------------------------------------


def _token(key: KeyPair, signed_by: tuple[str, str], **overrides: Any) -> str:
    args: dict[str, Any] = {
        "uri": URI,
        "issuer": signed_by[0],
        "statuses": BITS2_STATUSES,
        "bits": 2,
        "iat": NOW - 10,
        "exp": NOW + 3600,
        "ttl": 300,
        "signer": key,
        "kid": signed_by[1],
    }
    args.update(overrides)
    return build_status_list_token(**args)


async def _verify(token: str, issuer: str, resolver: DidResolver, **kw: Any) -> Any:
    args: dict[str, Any] = {"expected_uri": URI, "issuer": issuer, "now": NOW, "skew": 60}
    args.update(kw)
    return await verify_status_list_token(token, resolver=resolver, **args)


async def test_token_round_trip(
    issuer_key: KeyPair, issuer: tuple[str, str], resolver: DidResolver
) -> None:
    token = _token(issuer_key, issuer)
    jws_header = token.split(".")[0]
    assert b'"typ":"statuslist+jwt"' in b64url_decode(jws_header)
    assert b'"alg":"EdDSA"' in b64url_decode(jws_header)
    decoded = await _verify(token, issuer[0], resolver)
    assert decoded.get(0) == TokenStatus.INVALID
    assert decoded.get(1) == TokenStatus.SUSPENDED
    assert decoded.get(2) == TokenStatus.VALID
    assert unverified_ttl(token) == 300.0
    assert compact_jwt_text(token.encode() + b"\n") == token
    assert compact_jwt_text(b'{"a": 1}') is None
    # no exp, no ttl: still a valid token (both are RECOMMENDED, not REQUIRED, TSL §5.1)
    plain = _token(issuer_key, issuer, exp=None, ttl=None)
    assert (await _verify(plain, issuer[0], resolver)).size == 12
    assert unverified_ttl(plain) is None


def _resign(key: KeyPair, kid: str, header: dict[str, Any], payload: dict[str, Any]) -> str:
    return sign_compact({"kid": kid, **header}, payload, key)


def _payload(issuer: str, **overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "iss": issuer,
        "sub": URI,
        "iat": NOW - 10,
        "exp": NOW + 3600,
        "status_list": {"bits": 1, "lst": BITS1_LST},
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}


async def test_token_failures(
    issuer_key: KeyPair, issuer: tuple[str, str], resolver: DidResolver
) -> None:
    did, kid = issuer
    typ = {"typ": "statuslist+jwt"}
    other_key = KeyPair.generate("Ed25519")
    other_did, other_kid = did_key_from_public_key(other_key.public_key)
    cases: list[tuple[str, str]] = [
        (_resign(issuer_key, kid, {"typ": "JWT"}, _payload(did)), "typ must be 'statuslist+jwt'"),
        (_resign(issuer_key, kid, {}, _payload(did)), "typ must be 'statuslist+jwt'"),
        (_resign(issuer_key, kid, typ, _payload(did, sub=URI + "x")), "is not the referenced URI"),
        (_resign(issuer_key, kid, typ, _payload(did, sub=None)), "sub None is not the referenced"),
        (_resign(issuer_key, kid, typ, _payload(did, exp=NOW - 61)), "has expired"),
        (_resign(issuer_key, kid, typ, _payload(did, iat=None)), "has no iat claim"),
        (
            _resign(issuer_key, kid, typ, _payload(did, iat="yesterday")),
            "iat must be a NumericDate",
        ),
        (_resign(issuer_key, kid, typ, _payload(did, iat=NOW + 600)), "issued in the future"),
        (_resign(issuer_key, kid, typ, _payload(did, nbf=NOW + 600)), "not valid yet"),
        (_resign(issuer_key, kid, typ, _payload(did, ttl=0)), "ttl must be a positive number"),
        (_resign(issuer_key, kid, typ, _payload(did, status_list=None)), "no status_list object"),
        (
            _resign(issuer_key, kid, typ, _payload(did, status_list={"bits": 3, "lst": "x"})),
            "bits must be one of",
        ),
        # signed by a key that is not the issuer's, under the issuer's kid
        (_resign(other_key, kid, typ, _payload(did)), "signature does not verify"),
        # a valid token of another issuer
        (_resign(other_key, other_kid, typ, _payload(other_did)), "not by the credential's issuer"),
        # another issuer's key, claiming to be ours
        (_resign(other_key, other_kid, typ, _payload(did)), "does not belong to the issuer"),
        # no kid at all: the issuer's first assertionMethod, which other_key is not
        (sign_compact(typ, _payload(did), other_key), "signature does not verify"),
        ("not.a.jwt", "not valid base64url JSON"),
        ("only-one-part", "three dot-separated parts"),
    ]
    for token, message in cases:
        with pytest.raises(TokenStatusError, match=re.escape(message)):
            await _verify(token, did, resolver)
    with pytest.raises(TokenStatusError, match="no issuer to check"):
        await _verify(_token(issuer_key, issuer), None, resolver)  # type: ignore[arg-type]
    # without kid, the issuer's own key is found through its DID document
    no_kid = sign_compact(typ, _payload(did), issuer_key)
    assert (await _verify(no_kid, did, resolver)).get(0) == 1


def test_build_rejects_bad_arguments(issuer_key: KeyPair, issuer: tuple[str, str]) -> None:
    for overrides, message in [
        ({"uri": ""}, "needs its URI"),
        ({"issuer": ""}, "needs an issuer"),
        ({"iat": "now"}, "iat must be an integer"),
        ({"exp": NOW - 100}, "exp must be an integer NumericDate after iat"),
        ({"ttl": -5}, "ttl must be a positive number"),
        ({"bits": 3}, "bits must be one of"),
        ({"statuses": [0, 4], "bits": 2}, "does not fit"),
    ]:
        with pytest.raises(TokenStatusError, match=message):
            _token(issuer_key, issuer, **overrides)


def test_errors_never_carry_key_material(issuer_key: KeyPair, issuer: tuple[str, str]) -> None:
    with pytest.raises(TokenStatusError) as caught:
        _token(issuer_key, issuer, ttl=0)
    assert repr(issuer_key) not in str(caught.value)


# --- TSL Appendix C test vectors: lists of 2^20 entries, unlisted entries 0 (VALID) ------------

APPENDIX_C: list[tuple[int, dict[int, int], str]] = [
    (  # C.1 1-bit Status List
        1,
        {
            0: 1,
            1993: 1,
            25460: 1,
            159495: 1,
            495669: 1,
            554353: 1,
            645645: 1,
            723232: 1,
            854545: 1,
            934534: 1,
            1000345: 1,
        },
        "eNrt3AENwCAMAEGogklACtKQPg9LugC9k_ACvreiogE"
        "AAKkeCQAAAAAAAAAAAAAAAAAAAIBylgQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAXG9IAAAAAAAAAPwsJAAAAAAAAAAAAAAAvhsSAAAAAAAAAAA"
        "A7KpLAAAAAAAAAAAAAAAAAAAAAJsLCQAAAAAAAAAAADjelAAAAAAAAAAAKjDMAQAAA"
        "ACAZC8L2AEb",
    ),
    (  # C.2 2-bit Status List
        2,
        {
            0: 1,
            1993: 2,
            25460: 1,
            159495: 3,
            495669: 1,
            554353: 1,
            645645: 2,
            723232: 1,
            854545: 1,
            934534: 2,
            1000345: 3,
        },
        # the lst of C.2 as the bytes of its CBOR encoding give it (the rendered JSON
        # text wraps a long run of 'A's; transcribing it is error-prone)
        "eNrt2zENACEQAEEuoaBABP5VIO01fCjIHTMStt9ovGVIAAAAAABAbiEBAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEB5WwIAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAID0ugQAAAAAAAAAAAAAAAAAQG12SgAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AOCSIQEAAAAAAAAAAAAAAAAAAAAAAAD8ExIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAwJEuAQAAAAAAAAAAAAAAAAAAAAAAAMB9SwIAAAAAAAAAAAAAAAAAAACo"
        "YUoAAAAAAAAAAAAAAEBqH81gAQw",
    ),
    (  # C.3 4-bit Status List
        4,
        {
            0: 1,
            1993: 2,
            35460: 3,
            459495: 4,
            595669: 5,
            754353: 6,
            845645: 7,
            923232: 8,
            924445: 9,
            934534: 10,
            1004534: 11,
            1000345: 12,
            1030203: 13,
            1030204: 14,
            1030205: 15,
        },
        "eNrt0EENgDAQADAIHwImkIIEJEwCUpCEBBQRHOy35Li"
        "1EjoOQGabAgAAAAAAAAAAAAAAAAAAACC1SQEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABADrsCAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAADoxaEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAIIoCgAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAACArpwKAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAGhqVkAzlwIAAAAAiGVRAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAABx3AoAgLpVAQAAAAAAAAAAAAAAwM89rwMAAAAAAAAAA"
        "AjsA9xMBMA",
    ),
]


@pytest.mark.parametrize(("bits", "set_values", "lst"), APPENDIX_C)
def test_appendix_c_vectors(bits: int, set_values: dict[int, int], lst: str) -> None:
    decoded = decode_status_list(lst, bits)
    assert decoded.size == 2**20
    for idx, value in set_values.items():
        assert decoded.get(idx) == value, idx
    # every other entry is VALID: compare against the list we build from the listed values
    statuses = [0] * 2**20
    for idx, value in set_values.items():
        statuses[idx] = value
    assert decoded.data == pack_statuses(statuses, bits)
    assert decode_status_list(encode_status_list(statuses, bits), bits).data == decoded.data
