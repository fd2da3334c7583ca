"""The generic header that every ultravisor request starts with (add-secret requests and
attestation requests): an 8-byte magic, then version, length, IV, key-slot count and the
size of the encrypted part, in 0x30 bytes.  Each request's own table starts with its
view of the magic followed by :data:`REQUEST_HEADER_FIELDS`.
"""

from __future__ import annotations

from typing import Final

from ._layout import Field, raw, u
from .sizes import IV_SIZE

__all__ = ["MAX_KEY_SLOTS", "REQUEST_HEADER_FIELDS", "REQUEST_HEADER_SIZE"]

#: the generic header's size (the request-specific part starts here)
REQUEST_HEADER_SIZE: Final = 0x30
#: the most key slots a request can carry (the count is one byte)
MAX_KEY_SLOTS: Final = 255

#: The fields after the 8-byte magic (absolute offsets); gaps are reserved.
REQUEST_HEADER_FIELDS: Final[tuple[Field, ...]] = (
    u("version", 0x08, 4),
    u("length", 0x0C, 4),
    raw("iv", 0x10, IV_SIZE),
    u("key_slot_count", 0x27, 1),
    u("encrypted_size", 0x2C, 4),
)
