"""An issuer's Bitstring Status Lists: random index allocation and status bits.

Each list has ``MIN_LIST_LENGTH`` (131,072) one-bit entries (BSL §2.1 minimum, for group
privacy). Indices are drawn uniformly at random from the free ones (BSL §6.3: the index must
not reveal issuance order). ``allocated`` is a bitmap of handed-out indices, ``bits`` the
published status bits (bit 0 = most significant bit of byte 0, BSL §3.2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ler_crypto.status_list import MIN_LIST_LENGTH, StatusList, random_free_index

from ler_issuance.domain.model import StatusPurpose

LIST_BYTES = MIN_LIST_LENGTH // 8


class _Bitmap:
    """A ``Container[int]`` view of a bitmap (what ``random_free_index`` asks for)."""

    def __init__(self, data: bytearray) -> None:
        self._data = data

    def __contains__(self, index: object) -> bool:
        if not isinstance(index, int):
            return False
        return bool(self._data[index >> 3] & (0x80 >> (index & 7)))


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
        _set_bit(self.allocated, index, True)
        self.allocated_count += 1
        return index

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
