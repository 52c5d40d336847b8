"""An issuer's Bitstring Status Lists: random index allocation and status bits.

Each list has ``MIN_LIST_LENGTH`` (131,072) one-bit entries (BSL §2.1 minimum, for group
privacy). Indices are drawn uniformly at random from the free ones (BSL §6.3: the index must
not reveal issuance order). ``allocated`` is a bitmap of handed-out indices, ``bits`` the
published status bits (bit 0 = most significant bit of byte 0, BSL §3.2).

SD-JWT VCs name ONE Token Status List and ONE index (draft-ietf-oauth-status-list §6.2), so
their status is published as a *view* of the issuer's Bitstring lists rather than as a third
list with its own state: the token of ``revocation-N`` carries, at index ``i``, 0x01 INVALID
when bit ``i`` of ``revocation-N`` is set, else 0x02 SUSPENDED when bit ``i`` of
``suspension-N`` is set, else 0x00 VALID (§7.1 status types; 2 bits per entry, §4.1 step 1).
An issuer without suspension gets a 1-bit view of the revocation list. For that view to speak
about one credential only, an SD-JWT credential's suspension entry is allocated at the SAME
index as its revocation entry, in lists with the same number (``allocate_aligned``: a random
index free in both, so the index still says nothing about issuance order). Why a view and not a
separate list: one source of truth per status bit — a revocation flips one bit, and both the
Bitstring credential and the token reflect it, with nothing to keep in sync or migrate.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from ler_crypto.status_list import MIN_LIST_LENGTH, StatusList, random_free_index

from ler_issuance.domain.model import StatusPurpose

LIST_BYTES = MIN_LIST_LENGTH // 8
_ATTEMPTS = 64  # random draws before enumerating the free indices (as random_free_index does)


class _Bitmap:
    """A ``Container[int]`` view of a bitmap (what ``random_free_index`` asks for)."""

    def __init__(self, data: bytearray) -> None:
        self._data = data

    def __contains__(self, index: object) -> bool:
        if not isinstance(index, int):
            return False
        return bool(self._data[index >> 3] & (0x80 >> (index & 7)))


def _reversed_bits(byte: int) -> int:
    return int(f"{byte:08b}"[::-1], 2)


def _two_bit(byte: int, first: int, value: int) -> int:
    """The TSL byte holding 2-bit entries for BSL bits ``first .. first+3`` of ``byte`` (bit
    ``k`` = mask ``0x80 >> k``): ``value`` where the bit is set, 0 elsewhere."""
    return sum(value << (2 * k) for k in range(4) if byte & (0x80 >> (first + k)))


# BSL numbers bits from the most significant bit (BSL §3.2); the Token Status List packs
# entries from the least significant bit (draft-ietf-oauth-status-list §4.1 step 3). These
# tables let ``bytes.translate`` do the re-packing at C speed.
_REVERSED = bytes(_reversed_bits(b) for b in range(256))
_FIRST_HALF = {v: bytes(_two_bit(b, 0, v) for b in range(256)) for v in (1, 2)}
_SECOND_HALF = {v: bytes(_two_bit(b, 4, v) for b in range(256)) for v in (1, 2)}


def _or(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a) | int.from_bytes(b)).to_bytes(len(a))


def _set_bit(data: bytearray, index: int, value: bool) -> None:
    mask = 0x80 >> (index & 7)
    if value:
        data[index >> 3] |= mask
    else:
        data[index >> 3] &= ~mask & 0xFF


@dataclass
class StatusListState:
    """One status list of an issuer (one purpose, numbered ``seq`` from 1)."""

    list_id: str
    issuer_id: str
    purpose: StatusPurpose
    seq: int
    url: str
    bits: bytearray = field(repr=False)
    allocated: bytearray = field(repr=False)
    allocated_count: int = 0
    version: int = 0
    signed_credential: bytes = field(default=b"", repr=False)
    updated_at: datetime | None = None
    dirty: bool = False  # status bits changed since the list credential was last signed

    @classmethod
    def new(
        cls, *, list_id: str, issuer_id: str, purpose: StatusPurpose, seq: int, url: str
    ) -> StatusListState:
        """An empty list."""
        return cls(
            list_id=list_id,
            issuer_id=issuer_id,
            purpose=purpose,
            seq=seq,
            url=url,
            bits=bytearray(LIST_BYTES),
            allocated=bytearray(LIST_BYTES),
            dirty=True,
        )

    @property
    def full(self) -> bool:
        """No index left to hand out."""
        return self.allocated_count >= MIN_LIST_LENGTH

    def allocate(self) -> int:
        """Hand out a random free index."""
        index = random_free_index(MIN_LIST_LENGTH, _Bitmap(self.allocated))
        self.take(index)
        return index

    def take(self, index: int) -> None:
        """Mark ``index`` handed out (it must be free)."""
        _set_bit(self.allocated, index, True)
        self.allocated_count += 1

    def get(self, index: int) -> bool:
        """The status bit at ``index``."""
        return index in _Bitmap(self.bits)

    def set(self, index: int, value: bool) -> None:
        """Set the status bit at ``index``; marks the list for re-signing."""
        if self.get(index) != value:
            _set_bit(self.bits, index, value)
            self.dirty = True

    def to_status_list(self) -> StatusList:
        """The bits as a ``ler_crypto`` ``StatusList`` (for building the list credential)."""
        status_list = StatusList(MIN_LIST_LENGTH)
        for byte_index, byte in enumerate(self.bits):
            if byte:
                for bit in range(8):
                    if byte & (0x80 >> bit):
                        status_list.set(byte_index * 8 + bit, 1)
        return status_list


def allocate_aligned(revocation: StatusListState, suspension: StatusListState) -> int | None:
    """Hand out one random index free in BOTH lists and take it in both (see the module
    docstring); None when the two lists have no free index in common."""
    in_revocation, in_suspension = _Bitmap(revocation.allocated), _Bitmap(suspension.allocated)
    for _ in range(_ATTEMPTS):  # the usual case: a random draw is free in both
        index = secrets.randbelow(MIN_LIST_LENGTH)
        if index not in in_revocation and index not in in_suspension:
            break
    else:  # nearly full lists: draw among the common free indices, if any
        taken = _or(bytes(revocation.allocated), bytes(suspension.allocated))
        if int.from_bytes(taken).bit_count() >= MIN_LIST_LENGTH:
            return None
        index = random_free_index(MIN_LIST_LENGTH, _Bitmap(bytearray(taken)))
    revocation.take(index)
    suspension.take(index)
    return index


def token_status_bytes(
    revocation: StatusListState, suspension: StatusListState | None
) -> tuple[bytes, int]:
    """The uncompressed Token Status List byte array of ``revocation`` and its ``bits``.

    draft-ietf-oauth-status-list §4.1: entries packed from the least significant bit; 1 bit per
    entry without a suspension list, else 2 bits (0x01 INVALID wins over 0x02 SUSPENDED: a
    revoked credential is invalid whatever its suspension bit says, §7.1).
    """
    revoked = bytes(revocation.bits)
    if suspension is None:
        return revoked.translate(_REVERSED), 1
    # suspended and not revoked
    suspended = (int.from_bytes(bytes(suspension.bits)) & ~int.from_bytes(revoked)).to_bytes(
        LIST_BYTES
    )
    out = bytearray(2 * LIST_BYTES)
    # BSL byte j holds entries 8j..8j+7: TSL bytes 2j (8j..8j+3) and 2j+1 (8j+4..8j+7)
    out[0::2] = _or(revoked.translate(_FIRST_HALF[1]), suspended.translate(_FIRST_HALF[2]))
    out[1::2] = _or(revoked.translate(_SECOND_HALF[1]), suspended.translate(_SECOND_HALF[2]))
    return bytes(out), 2


def token_url(list_url: str) -> str:
    """Where the Status List Token of the list at ``list_url`` is served."""
    return f"{list_url}/token"
