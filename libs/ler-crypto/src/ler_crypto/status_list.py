"""Bitstring Status List v1.0 (W3C Recommendation): lists, entries, list credentials, checks.

A status list is a bitstring of at least 131,072 entries (BSL §2.1 "minimum bitstring length",
chosen for group privacy); each credential gets a random index into it. The list is published
GZIP-compressed, base64url-encoded (no padding) with the multibase prefix ``u`` (BSL §3.1
"encodedList"). Bit 0 is the most significant bit of byte 0 (BSL §3.2 step "left-most bit").

Signing a list credential is done with :func:`ler_crypto.dataintegrity.sign`; this module only
builds the unsigned documents and checks entries against an already verified list credential.
"""

from __future__ import annotations

import base64
import binascii
import collections
import enum
import secrets
import threading
import zlib
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ler_crypto.errors import StatusListError
from ler_crypto.vc_model import is_url, parse_datetime_stamp

VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
#: BSL §2.1: "a minimum ... of 131,072 entries" (16 KB) for herd privacy.
MIN_LIST_LENGTH = 131_072
#: Upper bound on the decompressed list so a GZIP bomb cannot exhaust memory (16 MiB = 134M bits).
MAX_DECODED_BYTES = 16 * 1024 * 1024
#: Upper bound on the encoded form we accept before even trying to decode it.
MAX_ENCODED_CHARS = 8 * 1024 * 1024
STATUS_PURPOSES = frozenset({"revocation", "suspension", "refresh", "message"})
#: A statusSize beyond one byte would need 2**n statusMessage entries; refuse silly sizes early.
MAX_STATUS_SIZE = 8


class StatusErrorKind(enum.StrEnum):
    """The error types of BSL §3.3 (the problem-detail names used by the test suites)."""

    MALFORMED_VALUE = "MALFORMED_VALUE_ERROR"
    STATUS_RETRIEVAL = "STATUS_RETRIEVAL_ERROR"
    STATUS_VERIFICATION = "STATUS_VERIFICATION_ERROR"
    STATUS_LIST_LENGTH = "STATUS_LIST_LENGTH_ERROR"
    RANGE = "RANGE_ERROR"


class StatusCheckError(StatusListError):
    """A status entry or list failed a check; ``kind`` says which BSL error it maps to."""

    def __init__(self, kind: StatusErrorKind, message: str) -> None:
        super().__init__(f"{kind.value}: {message}")
        self.kind = kind
        self.reason = message


def _malformed(message: str) -> StatusCheckError:
    return StatusCheckError(StatusErrorKind.MALFORMED_VALUE, message)


class StatusList:
    """A mutable bitstring of ``length`` entries, each ``status_size`` bits wide."""

    def __init__(self, length: int = MIN_LIST_LENGTH, status_size: int = 1) -> None:
        if not isinstance(status_size, int) or not 1 <= status_size <= MAX_STATUS_SIZE:
            raise _malformed(f"statusSize must be an integer in 1..{MAX_STATUS_SIZE}")
        if not isinstance(length, int) or length < MIN_LIST_LENGTH:
            raise StatusCheckError(
                StatusErrorKind.STATUS_LIST_LENGTH,
                f"a status list needs at least {MIN_LIST_LENGTH} entries, got {length}",
            )
        self._length = length
        self._status_size = status_size
        self._bits = bytearray((length * status_size + 7) // 8)

    @property
    def length(self) -> int:
        """Number of entries (not bits)."""
        return self._length

    @property
    def status_size(self) -> int:
        """Bits per entry."""
        return self._status_size

    def _check_index(self, index: int) -> None:
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise _malformed(f"status index must be a non-negative integer, got {index!r}")
        if index >= self._length:
            raise StatusCheckError(
                StatusErrorKind.RANGE,
                f"index {index} is past the end of a list of {self._length} entries",
            )

    def get(self, index: int) -> int:
        """Return the status value of entry ``index`` (BSL §3.2: bit 0 = MSB of byte 0)."""
        self._check_index(index)
        value = 0
        start = index * self._status_size
        for bit in range(start, start + self._status_size):
            value = (value << 1) | ((self._bits[bit >> 3] >> (7 - (bit & 7))) & 1)
        return value

    def set(self, index: int, value: int) -> None:
        """Set entry ``index`` to ``value`` (0 .. 2**status_size - 1)."""
        self._check_index(index)
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int) or not 0 <= value < (1 << self._status_size):
            raise _malformed(f"status value {value!r} does not fit in {self._status_size} bit(s)")
        start = index * self._status_size
        for offset in range(self._status_size):
            bit = start + offset
            mask = 1 << (7 - (bit & 7))
            if (value >> (self._status_size - 1 - offset)) & 1:
                self._bits[bit >> 3] |= mask
            else:
                self._bits[bit >> 3] &= ~mask & 0xFF

    def encode(self) -> str:
        """GZIP + base64url (no padding) + multibase ``u`` prefix (BSL §3.1 encodedList)."""
        # mtime=0 keeps the output deterministic so identical lists encode identically (ETags).
        compressed = _gzip(bytes(self._bits))
        return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(cls, encoded: Any, status_size: int = 1) -> StatusList:
        """Decode an ``encodedList`` value; raises :class:`StatusCheckError` with the BSL kind."""
        raw = _decode_bitstring_cached(encoded)
        if status_size < 1 or status_size > MAX_STATUS_SIZE:
            raise _malformed(f"statusSize must be an integer in 1..{MAX_STATUS_SIZE}")
        length = (len(raw) * 8) // status_size
        if len(raw) * 8 < MIN_LIST_LENGTH * status_size:
            # BSL §3.2 step 8: the uncompressed bitstring must hold at least 131,072 entries.
            raise StatusCheckError(
                StatusErrorKind.STATUS_LIST_LENGTH,
                f"decoded list has {len(raw) * 8} bits, fewer than "
                f"{MIN_LIST_LENGTH} entries x statusSize {status_size}",
            )
        instance = cls.__new__(cls)
        instance._length = length
        instance._status_size = status_size
        instance._bits = bytearray(raw)
        return instance

    def set_indices(self) -> list[int]:
        """Indices whose status value is non-zero (for tests and diagnostics)."""
        return [i for i in range(self._length) if self._entry_nonzero(i)]

    def _entry_nonzero(self, index: int) -> bool:
        if self._status_size == 1:
            return bool((self._bits[index >> 3] >> (7 - (index & 7))) & 1)
        return self.get(index) != 0

    def random_free_index(self, taken: Container[int]) -> int:
        """A uniformly random index not in ``taken`` (see :func:`random_free_index`)."""
        return random_free_index(self._length, taken)

    def __repr__(self) -> str:
        return f"StatusList(length={self._length}, status_size={self._status_size})"


def _gzip(data: bytes) -> bytes:
    # zlib with wbits=31 writes a GZIP member; header mtime is 0, so output is deterministic.
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


def decode_bitstring(encoded: Any) -> bytes:
    """Multibase ``u`` → base64url (no padding) → GZIP-decompress, bounded in size."""
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise _malformed("encodedList must be a string with the multibase base64url prefix 'u'")
    if len(encoded) > MAX_ENCODED_CHARS:
        raise _malformed(f"encodedList is longer than {MAX_ENCODED_CHARS} characters")
    body = encoded[1:]
    if "=" in body or any(c in body for c in "+/ \n\r\t"):
        raise _malformed("encodedList must be base64url without padding")
    try:
        compressed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError) as err:
        raise _malformed(f"encodedList is not valid base64url: {err}") from err
    decompressor = zlib.decompressobj(wbits=31)  # 31 = GZIP container only
    try:
        raw = decompressor.decompress(compressed, MAX_DECODED_BYTES)
    except zlib.error as err:
        raise _malformed(f"encodedList is not valid GZIP data: {err}") from err
    if decompressor.unconsumed_tail:
        raise _malformed(f"encodedList decompresses to more than {MAX_DECODED_BYTES} bytes")
    if not decompressor.eof:
        raise _malformed("encodedList GZIP stream is truncated")
    return raw


# Many credentials point at one list: its bitstring is decoded once per distinct encodedList
# value, not per check. Bytes are immutable; errors are raised again, never cached. Only
# lists of ordinary size are kept (at most 32 x (64 KiB + 1 MiB)), so the cache stays small.
_DECODED_CACHE: collections.OrderedDict[str, bytes] = collections.OrderedDict()
_DECODED_CACHE_LOCK = threading.Lock()  # verifiers may run in several threads
_DECODED_CACHE_ENTRIES = 32
_CACHED_ENCODED_CHARS = 64 * 1024
_CACHED_DECODED_BYTES = 1024 * 1024


def _decode_bitstring_cached(encoded: Any) -> bytes:
    """:func:`decode_bitstring` through a small LRU cache of ordinary-sized lists."""
    if not isinstance(encoded, str) or len(encoded) > _CACHED_ENCODED_CHARS:
        return decode_bitstring(encoded)
    with _DECODED_CACHE_LOCK:
        raw = _DECODED_CACHE.get(encoded)
        if raw is not None:
            _DECODED_CACHE.move_to_end(encoded)
            return raw
    raw = decode_bitstring(encoded)
    if len(raw) <= _CACHED_DECODED_BYTES:
        with _DECODED_CACHE_LOCK:
            _DECODED_CACHE[encoded] = raw
            while len(_DECODED_CACHE) > _DECODED_CACHE_ENTRIES:
                _DECODED_CACHE.popitem(last=False)
    return raw


def random_free_index(length: int, taken: Container[int], *, attempts: int = 64) -> int:
    """Pick a uniformly random index in ``[0, length)`` not in ``taken`` (BSL §6.3 privacy).

    Random (not sequential) allocation keeps a list's index from revealing issuance order. Uses
    the ``secrets`` CSPRNG. After ``attempts`` collisions the list is nearly full, so the free
    indices are enumerated and one is chosen at random; a full list raises StatusListError.
    """
    for _ in range(attempts):
        candidate = secrets.randbelow(length)
        if candidate not in taken:
            return candidate
    free = [i for i in range(length) if i not in taken]
    if not free:
        raise StatusListError(f"status list of {length} entries has no free index left")
    return secrets.choice(free)


# --- documents -----------------------------------------------------------------------------------


def build_status_list_entry(
    *,
    status_list_credential: str,
    index: int,
    purpose: str = "revocation",
    status_size: int = 1,
    status_messages: Sequence[Mapping[str, str]] | None = None,
    entry_id: str | None = None,
) -> dict[str, Any]:
    """A ``BitstringStatusListEntry`` (BSL §2.1) for a credential's ``credentialStatus``.

    ``statusListIndex`` is written as a base-10 string, as the spec requires.
    """
    if purpose not in STATUS_PURPOSES:
        raise _malformed(f"statusPurpose must be one of {sorted(STATUS_PURPOSES)}, got {purpose!r}")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise _malformed(f"statusListIndex must be a non-negative integer, got {index!r}")
    entry: dict[str, Any] = {
        "id": entry_id or f"{status_list_credential}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": status_list_credential,
    }
    if status_size != 1:
        entry["statusSize"] = status_size
    if status_messages is not None:
        entry["statusMessage"] = [dict(m) for m in status_messages]
    _validate_entry(entry)
    return entry


def build_status_list_credential(
    *,
    list_url: str,
    issuer: str,
    status_list: StatusList,
    purpose: str | Sequence[str] = "revocation",
    valid_from: str | None = None,
    valid_until: str | None = None,
    ttl_ms: int | None = None,
    status_messages: Sequence[Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """An unsigned ``BitstringStatusListCredential`` (BSL §2.2) holding ``status_list``.

    Sign the result with ``ler_crypto.dataintegrity.sign`` before publishing it at ``list_url``.
    """
    purposes = [purpose] if isinstance(purpose, str) else list(purpose)
    for p in purposes:
        if p not in STATUS_PURPOSES:
            raise _malformed(f"statusPurpose must be one of {sorted(STATUS_PURPOSES)}, got {p!r}")
    subject: dict[str, Any] = {
        "id": f"{list_url}#list",
        "type": "BitstringStatusList",
        "statusPurpose": purposes[0] if len(purposes) == 1 else purposes,
        "encodedList": status_list.encode(),
    }
    if ttl_ms is not None:
        subject["ttl"] = ttl_ms
    if status_messages is not None:
        subject["statusMessage"] = [dict(m) for m in status_messages]
    credential: dict[str, Any] = {
        "@context": [VC_V2_CONTEXT],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
    }
    if valid_from is not None:
        credential["validFrom"] = valid_from
    if valid_until is not None:
        credential["validUntil"] = valid_until
    credential["credentialSubject"] = subject
    return credential


# --- checking ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusEntry:
    """A validated ``BitstringStatusListEntry``."""

    purpose: str
    index: int
    list_url: str
    status_size: int
    messages: tuple[Mapping[str, str], ...]


@dataclass(frozen=True)
class StatusResult:
    """The outcome of reading one entry from a list.

    ``active`` is True when the credential is revoked/suspended (or, for other purposes, when
    the value is non-zero); ``message`` is the matching ``statusMessage`` text, if any.
    """

    purpose: str
    index: int
    value: int
    active: bool
    message: str | None


def _validate_messages(
    messages: Any, status_size: int, where: str
) -> tuple[Mapping[str, str], ...]:
    if status_size > 1 and messages is None:
        raise _malformed(f"{where}statusMessage is required when statusSize > 1 (BSL §2.1)")
    if messages is None:
        return ()
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise _malformed(f"{where}statusMessage must be an array of objects")
    for i, message in enumerate(messages):
        status = message.get("status")
        if not isinstance(status, str) or not status.startswith("0x"):
            raise _malformed(f"{where}statusMessage[{i}].status must be a hex string like '0x1'")
        try:
            int(status, 16)
        except ValueError as err:
            raise _malformed(f"{where}statusMessage[{i}].status {status!r} is not hex") from err
        if not isinstance(message.get("message"), str):
            raise _malformed(f"{where}statusMessage[{i}].message must be a string")
    if status_size > 1 and len(messages) != 1 << status_size:
        # BSL §2.1: "the number of status messages MUST equal the number of possible values".
        raise _malformed(
            f"{where}statusMessage has {len(messages)} entries; statusSize {status_size} "
            f"needs {1 << status_size}"
        )
    return tuple(messages)


def _validate_entry(entry: Any) -> StatusEntry:
    """Checklist item 16: the entry's own shape (MALFORMED_VALUE_ERROR)."""
    if not isinstance(entry, dict):
        raise _malformed("credentialStatus entry must be an object")
    if entry.get("type") != "BitstringStatusListEntry":
        raise _malformed("credentialStatus.type must be 'BitstringStatusListEntry'")
    purpose = entry.get("statusPurpose")
    if not isinstance(purpose, str) or purpose not in STATUS_PURPOSES:
        raise _malformed(f"statusPurpose must be one of {sorted(STATUS_PURPOSES)}")
    raw_index = entry.get("statusListIndex")
    if not isinstance(raw_index, str) or not raw_index.isascii() or not raw_index.isdigit():
        raise _malformed("statusListIndex must be a string holding a base-10 integer >= 0")
    list_url = entry.get("statusListCredential")
    if not isinstance(list_url, str) or not is_url(list_url):
        raise _malformed("statusListCredential must be a URL")
    if "id" in entry and entry["id"] == list_url:
        raise _malformed("credentialStatus.id must not equal statusListCredential (BSL §2.1)")
    status_size = entry.get("statusSize", 1)
    if isinstance(status_size, bool) or not isinstance(status_size, int) or status_size < 1:
        raise _malformed("statusSize must be an integer greater than 0")
    if status_size > MAX_STATUS_SIZE:
        raise _malformed(
            f"statusSize {status_size} exceeds the supported maximum {MAX_STATUS_SIZE}"
        )
    messages = _validate_messages(entry.get("statusMessage"), status_size, "")
    return StatusEntry(purpose, int(raw_index), list_url, status_size, messages)


def parse_status_entry(entry: Any) -> StatusEntry:
    """Validate a ``BitstringStatusListEntry`` (checklist 16); raises StatusCheckError."""
    return _validate_entry(entry)


def _check_list_window(credential: dict[str, Any], now: datetime) -> None:
    """Checklist 18: the list credential itself must be inside its validity period."""
    for prop in ("validFrom", "validUntil"):
        if prop not in credential:
            continue
        try:
            moment = parse_datetime_stamp(credential[prop])
        except ValueError as err:
            raise StatusCheckError(
                StatusErrorKind.STATUS_VERIFICATION, f"status list {prop} is not a dateTimeStamp"
            ) from err
        if (prop == "validFrom" and now < moment) or (prop == "validUntil" and now > moment):
            raise StatusCheckError(
                StatusErrorKind.STATUS_VERIFICATION,
                f"status list credential is outside its validity period ({prop} "
                f"{credential[prop]})",
            )


def _check_list_credential(
    entry: StatusEntry, credential: Any, now: datetime | None
) -> dict[str, Any]:
    """Checklist item 18 minus the proof (verified by the caller): STATUS_VERIFICATION_ERROR."""

    def fail(message: str) -> StatusCheckError:
        return StatusCheckError(StatusErrorKind.STATUS_VERIFICATION, message)

    if not isinstance(credential, dict):
        raise fail("status list credential is not a JSON object")
    types = credential.get("type")
    types = [types] if isinstance(types, str) else types
    if not isinstance(types, list) or "BitstringStatusListCredential" not in types:
        raise fail("status list credential type must include 'BitstringStatusListCredential'")
    subject = credential.get("credentialSubject")
    if not isinstance(subject, dict) or subject.get("type") != "BitstringStatusList":
        raise fail("status list credentialSubject.type must be 'BitstringStatusList'")
    purposes = subject.get("statusPurpose")
    purposes = [purposes] if isinstance(purposes, str) else purposes
    if not isinstance(purposes, list) or entry.purpose not in purposes:
        raise fail(
            f"status list statusPurpose {subject.get('statusPurpose')!r} does not include "
            f"the entry's {entry.purpose!r}"
        )
    if "id" in credential and credential["id"] != entry.list_url:
        raise fail(
            f"status list credential id {credential['id']!r} is not the URL it was fetched "
            f"from ({entry.list_url!r})"
        )
    if now is not None:
        _check_list_window(credential, now)
    return subject


def check_status(entry: Any, list_credential: Any, *, now: datetime | None = None) -> StatusResult:
    """Read a credential's status from its (already proof-verified) list credential.

    Runs checklist items 16, 18 (shape, purpose, optional validity window when ``now`` is given)
    and 19 (decode, length, range). Raises :class:`StatusCheckError` whose ``kind`` is the BSL
    error type. Proof verification of ``list_credential`` is the caller's job
    (:mod:`ler_crypto.verifier` does it).
    """
    parsed = _validate_entry(entry)
    subject = _check_list_credential(parsed, list_credential, now)
    status_list = StatusList.decode(subject.get("encodedList"), parsed.status_size)
    if parsed.index >= status_list.length:
        raise StatusCheckError(
            StatusErrorKind.RANGE,
            f"statusListIndex {parsed.index} is past the end of the list "
            f"({status_list.length} entries)",
        )
    value = status_list.get(parsed.index)
    message: str | None = None
    for candidate in parsed.messages:
        if int(candidate["status"], 16) == value:
            message = candidate["message"]
            break
    return StatusResult(parsed.purpose, parsed.index, value, value != 0, message)
