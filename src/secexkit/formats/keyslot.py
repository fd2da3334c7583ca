"""The key slot shared by add-secret requests and SE headers.

Each slot names a host key by its hash and carries the protection key wrapped
with AES-256-GCM under a key derived from ECDH(customer key, host key).
"""

from __future__ import annotations

from typing import NamedTuple

from ._layout import Layout, raw
from .sizes import HOST_KEY_HASH_SIZE, PROTECTION_KEY_SIZE, TAG_SIZE

KEY_SLOT = Layout(
    "key slot",
    0x50,
    [
        raw("host_key_hash", 0x00, HOST_KEY_HASH_SIZE),
        raw("wrapped_key", 0x20, PROTECTION_KEY_SIZE),
        raw("tag", 0x40, TAG_SIZE),
    ],
)


class KeySlot(NamedTuple):
    """One key slot: host-key hash, wrapped protection key and the wrap's GCM tag."""

    host_key_hash: bytes
    wrapped_key: bytes
    tag: bytes

    def to_bytes(self) -> bytes:
        """The 80-byte wire form."""
        return KEY_SLOT.pack(
            {"host_key_hash": self.host_key_hash, "wrapped_key": self.wrapped_key, "tag": self.tag}
        )

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview, offset: int = 0) -> KeySlot:
        """The slot at ``offset``; too little data is a :class:`FormatError`."""
        v = KEY_SLOT.unpack(data, offset)
        return cls(bytes(v["host_key_hash"]), bytes(v["wrapped_key"]), bytes(v["tag"]))


def parse_key_slots(data: bytes | bytearray | memoryview, offset: int, count: int
                    ) -> tuple[KeySlot, ...]:
    """``count`` consecutive slots starting at ``offset``."""
    return tuple(KeySlot.from_bytes(data, offset + i * KEY_SLOT.size) for i in range(count))
