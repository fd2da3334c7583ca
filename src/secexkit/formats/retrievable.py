"""Wire facts of retrievable secrets: which types a guest can retrieve, their payload
sizes, and the frame of a plaintext secret.

The rules and messages for a user's input file live in
:mod:`secexkit.addsecret.retrievable`; this module only knows bytes.
"""

from __future__ import annotations

from typing import Final

from ._layout import Layout, u
from .request import SecretType
from .sizes import PAGE_SIZE

__all__ = [
    "EC_PRIVATE_KEY_SIZES",
    "MAX_PLAINTEXT_SIZE",
    "MAX_RETRIEVE_SIZE",
    "PLAINTEXT_BLOCK",
    "PLAINTEXT_FRAME",
    "RETRIEVABLE_TYPES",
    "frame_plaintext",
    "unframe_plaintext",
]

#: the largest secret the retrieve call returns (two pages)
MAX_RETRIEVE_SIZE: Final = 2 * PAGE_SIZE

#: A plaintext secret as the ultravisor stores and returns it: this 2-byte
#: length, the data, zero padding to a multiple of :data:`PLAINTEXT_BLOCK`
#: (writer: create, reader: retrieve).
PLAINTEXT_FRAME = Layout("plaintext secret frame", 2, [u("length", 0, 2)])
PLAINTEXT_BLOCK: Final = 16
#: plaintext input limit: the payload carries its length first
MAX_PLAINTEXT_SIZE: Final = MAX_RETRIEVE_SIZE - PLAINTEXT_FRAME.size

#: secret types a guest can retrieve
RETRIEVABLE_TYPES: Final = frozenset(
    {
        SecretType.PLAINTEXT,
        SecretType.AES_128,
        SecretType.AES_192,
        SecretType.AES_256,
        SecretType.AES_XTS_128,
        SecretType.AES_XTS_256,
        SecretType.HMAC_SHA_256,
        SecretType.HMAC_SHA_512,
        SecretType.EC_SECP256R1,
        SecretType.EC_SECP384R1,
        SecretType.EC_SECP521R1,
        SecretType.EC_ED25519,
        SecretType.EC_ED448,
    }
)

#: payload size of each EC private-key type: the scalar (or raw Edwards key),
#: left-padded with zeros
EC_PRIVATE_KEY_SIZES: Final[dict[SecretType, int]] = {
    SecretType.EC_SECP256R1: 32,
    SecretType.EC_SECP384R1: 48,
    SecretType.EC_SECP521R1: 80,
    SecretType.EC_ED25519: 32,
    SecretType.EC_ED448: 64,
}


def frame_plaintext(data: bytes) -> bytes:
    """``u16 length || data || zero padding`` to a multiple of 16.

    ``data`` longer than :data:`MAX_PLAINTEXT_SIZE` is a :class:`ValueError`
    (the caller checks first and words the error for its input).
    """
    if len(data) > MAX_PLAINTEXT_SIZE:
        raise ValueError(f"a plaintext secret holds at most {MAX_PLAINTEXT_SIZE} bytes")
    framed = PLAINTEXT_FRAME.pack({"length": len(data)}) + data
    return framed.ljust(-(-len(framed) // PLAINTEXT_BLOCK) * PLAINTEXT_BLOCK, b"\0")


def unframe_plaintext(buffer: bytes) -> bytes | None:
    """The data of a well-formed plaintext frame, or ``None`` if ``buffer`` is not one.

    Well-formed: length <= 8190, the data fits, fewer than 16 padding bytes
    and all of them zero (the reference's rule for retrieved plaintext).
    """
    if len(buffer) < PLAINTEXT_FRAME.size:
        return None
    size = PLAINTEXT_FRAME.get_int(buffer, "length")
    end = PLAINTEXT_FRAME.size + size
    if size > MAX_PLAINTEXT_SIZE or end > len(buffer) or len(buffer) - end >= PLAINTEXT_BLOCK:
        return None
    if any(buffer[end:]):
        return None
    return buffer[PLAINTEXT_FRAME.size : end]
