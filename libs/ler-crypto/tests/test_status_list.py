"""Bitstring Status List v1.0: the spec example, encoding round trips, and every error kind."""

from __future__ import annotations

import base64
import copy
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ler_crypto import status_list as bsl
from ler_crypto.status_list import StatusCheckError, StatusErrorKind, StatusList

REPO = Path(__file__).resolve().parents[3]
VECTORS = REPO.parent / "shared" / "vectors" / "bitstring-status-list" / "spec-examples.json"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return json.loads(VECTORS.read_text())


def test_spec_example_decodes_to_131072_zero_bits(spec: dict[str, Any]) -> None:
    encoded = spec["statusListCredential"]["credentialSubject"]["encodedList"]
    decoded = StatusList.decode(encoded)
    assert decoded.length == spec["expected"]["decodedLengthBits"] == 131_072
    assert decoded.set_indices() == spec["expected"]["setBits"] == []


def test_spec_example_entry_is_not_revoked(spec: dict[str, Any]) -> None:
    result = bsl.check_status(
        spec["credentialWithStatusEntry"]["credentialStatus"], spec["statusListCredential"]
    )
    assert result.index == 94567
    assert result.value == spec["expected"]["statusAtIndex94567"] == 0
    assert result.active is False
    assert result.purpose == "revocation"


def test_bit_zero_is_msb_of_byte_zero() -> None:
    lst = StatusList()
    lst.set(0, 1)
    lst.set(9, 1)
    raw = gzip.decompress(base64.urlsafe_b64decode(lst.encode()[1:] + "=="))
    assert raw[0] == 0b1000_0000
    assert raw[1] == 0b0100_0000
    assert lst.encode().startswith("u")
    assert "=" not in lst.encode()


def test_encoding_is_deterministic() -> None:
    a, b = StatusList(), StatusList()
    a.set(42, 1)
    b.set(42, 1)
    assert a.encode() == b.encode()


@settings(max_examples=40, deadline=None)
@given(
    status_size=st.sampled_from([1, 2, 4]),
    writes=st.lists(
        st.tuples(st.integers(0, 131_071), st.integers(0, 15)), min_size=1, max_size=20
    ),
)
def test_round_trip(status_size: int, writes: list[tuple[int, int]]) -> None:
    lst = StatusList(status_size=status_size)
    expected: dict[int, int] = {}
    for index, value in writes:
        value %= 1 << status_size
        lst.set(index, value)
        expected[index] = value
    decoded = StatusList.decode(lst.encode(), status_size)
    assert decoded.length == 131_072
    for index, value in expected.items():
        assert decoded.get(index) == value
    assert decoded.set_indices() == sorted(i for i, v in expected.items() if v)


def test_revoked_and_suspended_entries(spec: dict[str, Any]) -> None:
    lst = StatusList()
    lst.set(94567, 1)
    for purpose in ("revocation", "suspension"):
        credential = bsl.build_status_list_credential(
            list_url="https://example.com/credentials/status/3",
            issuer="did:example:12345",
            status_list=lst,
            purpose=purpose,
        )
        entry = bsl.build_status_list_entry(
            status_list_credential="https://example.com/credentials/status/3",
            index=94567,
            purpose=purpose,
        )
        result = bsl.check_status(entry, credential)
        assert result.active and result.value == 1 and result.purpose == purpose
        other = dict(entry, statusListIndex="94568", id="https://example.com/s#94568")
        assert bsl.check_status(other, credential).active is False


def test_multi_bit_status_maps_through_messages() -> None:
    messages = [
        {"status": "0x0", "message": "valid"},
        {"status": "0x1", "message": "pending review"},
        {"status": "0x2", "message": "expired"},
        {"status": "0x3", "message": "withdrawn"},
    ]
    lst = StatusList(status_size=2)
    lst.set(7, 2)
    credential = bsl.build_status_list_credential(
        list_url="https://example.com/status/m",
        issuer="did:example:1",
        status_list=lst,
        purpose="message",
        status_messages=messages,
    )
    entry = bsl.build_status_list_entry(
        status_list_credential="https://example.com/status/m",
        index=7,
        purpose="message",
        status_size=2,
        status_messages=messages,
    )
    result = bsl.check_status(entry, credential)
    assert (result.value, result.message) == (2, "expired")


def test_random_free_index_avoids_taken_and_uses_whole_range() -> None:
    taken = set(range(0, 131_072, 2))
    picks = {bsl.random_free_index(131_072, taken) for _ in range(200)}
    assert all(p % 2 == 1 for p in picks)
    assert len(picks) > 150  # random, not sequential
    assert max(picks) > 65_536
    almost_full = set(range(131_072)) - {12345}
    assert bsl.random_free_index(131_072, almost_full) == 12345
    with pytest.raises(bsl.StatusListError):
        bsl.random_free_index(131_072, set(range(131_072)))


def _entry(**changes: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": "https://example.com/credentials/status/3#94567",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "94567",
        "statusListCredential": "https://example.com/credentials/status/3",
    }
    entry.update(changes)
    return {k: v for k, v in entry.items() if v is not None}


@pytest.mark.parametrize(
    "entry",
    [
        _entry(type="StatusList2021Entry"),
        _entry(statusPurpose="cancel"),
        _entry(statusListIndex=94567),  # a number, not the required string
        _entry(statusListIndex="-1"),
        _entry(statusListIndex="0x10"),
        _entry(statusListCredential="not a url"),
        _entry(id="https://example.com/credentials/status/3"),
        _entry(statusSize=0),
        _entry(statusSize=2),  # without statusMessage
        _entry(statusSize=2, statusMessage=[{"status": "0x0", "message": "ok"}]),
        "not an object",
    ],
)
def test_malformed_entries(entry: Any, spec: dict[str, Any]) -> None:
    with pytest.raises(StatusCheckError) as info:
        bsl.check_status(entry, spec["statusListCredential"])
    assert info.value.kind is StatusErrorKind.MALFORMED_VALUE


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c.update(type=["VerifiableCredential"]),
        lambda c: c["credentialSubject"].update(type="StatusList2021"),
        lambda c: c["credentialSubject"].update(statusPurpose="suspension"),
        lambda c: c.update(id="https://example.com/credentials/status/4"),
    ],
)
def test_list_credential_problems_are_status_verification_errors(
    mutate: Any, spec: dict[str, Any]
) -> None:
    credential = copy.deepcopy(spec["statusListCredential"])
    mutate(credential)
    with pytest.raises(StatusCheckError) as info:
        bsl.check_status(spec["credentialWithStatusEntry"]["credentialStatus"], credential)
    assert info.value.kind is StatusErrorKind.STATUS_VERIFICATION


def test_short_list_is_a_length_error(spec: dict[str, Any]) -> None:
    credential = copy.deepcopy(spec["statusListCredential"])
    short = base64.urlsafe_b64encode(gzip.compress(bytes(1024))).rstrip(b"=").decode()
    credential["credentialSubject"]["encodedList"] = "u" + short
    with pytest.raises(StatusCheckError) as info:
        bsl.check_status(spec["credentialWithStatusEntry"]["credentialStatus"], credential)
    assert info.value.kind is StatusErrorKind.STATUS_LIST_LENGTH


def test_index_past_end_is_a_range_error(spec: dict[str, Any]) -> None:
    entry = _entry(statusListIndex="131072")
    with pytest.raises(StatusCheckError) as info:
        bsl.check_status(entry, spec["statusListCredential"])
    assert info.value.kind is StatusErrorKind.RANGE


@pytest.mark.parametrize(
    "encoded",
    [
        "zH4sIAAAAAAAAA",  # wrong multibase prefix
        "u!!!!",
        "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA==",  # padded
        "u" + base64.urlsafe_b64encode(b"not gzip at all").rstrip(b"=").decode(),
        12,
    ],
)
def test_undecodable_lists_are_malformed(encoded: Any) -> None:
    with pytest.raises(StatusCheckError) as info:
        StatusList.decode(encoded)
    assert info.value.kind is StatusErrorKind.MALFORMED_VALUE


def test_gzip_bomb_is_refused() -> None:
    bomb = gzip.compress(bytes(bsl.MAX_DECODED_BYTES + 1))
    encoded = "u" + base64.urlsafe_b64encode(bomb).rstrip(b"=").decode()
    with pytest.raises(StatusCheckError, match="decompresses to more than"):
        StatusList.decode(encoded)


def test_lists_shorter_than_minimum_cannot_be_created() -> None:
    with pytest.raises(StatusCheckError) as info:
        StatusList(length=1000)
    assert info.value.kind is StatusErrorKind.STATUS_LIST_LENGTH


def test_credential_builder_shape() -> None:
    credential = bsl.build_status_list_credential(
        list_url="https://issuer.example/status/1",
        issuer="did:example:1",
        status_list=StatusList(),
        purpose=["revocation", "suspension"],
        ttl_ms=300_000,
        valid_from="2024-01-01T00:00:00Z",
    )
    assert credential["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert credential["credentialSubject"]["id"] == "https://issuer.example/status/1#list"
    assert credential["credentialSubject"]["statusPurpose"] == ["revocation", "suspension"]
    assert credential["credentialSubject"]["ttl"] == 300_000
