"""Layouts inside the 512-byte user-data field of an add-secret request.

Offsets here are relative to the field (request offset
:data:`secexkit.formats.request.USER_DATA_OFFSET`).  Signing and verifying live
in :mod:`secexkit.addsecret.user_data`; this module only packs and unpacks.
"""

from __future__ import annotations

from typing import Final

from ._layout import Layout, raw, u
from .request import USER_DATA_SIZE, UserDataType

__all__ = [
    "EC_SIGNATURE_MAX",
    "EC_USER_DATA",
    "POLICY_HASH_SIZE",
    "POLICY_REFERENCE",
    "pack_ec_signature_area",
    "pack_policy_reference",
    "unpack_ec_signature",
]

#: the largest DER ECDSA signature over P-521 (SEQUENCE of two 66-byte INTEGERs)
EC_SIGNATURE_MAX: Final = 139

#: The user-data field with an EC secp521r1 signature (type 2).
EC_USER_DATA = Layout(
    "ECDSA signed user data",
    USER_DATA_SIZE,
    [
        raw("data", 0x000, UserDataType.SIGNED_EC_SECP521R1.max_data_size),
        raw("signature", 0x100, EC_SIGNATURE_MAX),
        u("signature_size", 0x190, 2),
    ],
)
_EC_AREA: Final = EC_USER_DATA.offset("signature")

#: SHA-256 of the policy file
POLICY_HASH_SIZE: Final = 32

#: ``PolicyReference``: the unsigned user data of ``pvsecret create --policy``
POLICY_REFERENCE = Layout(
    "policy reference",
    USER_DATA_SIZE,
    [
        raw("hash", 0x000, POLICY_HASH_SIZE),
        raw("path", POLICY_HASH_SIZE, USER_DATA_SIZE - POLICY_HASH_SIZE),
    ],
)


def pack_ec_signature_area(signature: bytes) -> bytes:
    """The signature area (the field after its data part) for a DER ECDSA signature.

    The signature zero-padded to 139 bytes, reserved zeros, its u16 length and
    more reserved zeros.
    """
    if len(signature) > EC_SIGNATURE_MAX:
        raise ValueError(f"an ECDSA signature area holds at most {EC_SIGNATURE_MAX} bytes")
    field = EC_USER_DATA.pack(
        {
            "data": bytes(EC_USER_DATA["data"].size),
            "signature": signature.ljust(EC_SIGNATURE_MAX, b"\0"),
            "signature_size": len(signature),
        }
    )
    return field[_EC_AREA:]


def unpack_ec_signature(field: bytes) -> tuple[bytes, int]:
    """(signature cut to its length field, the length field) of a type-2 user-data field.

    The length is returned as stored: a caller must refuse one above
    :data:`EC_SIGNATURE_MAX` (then the signature is the whole padded area).
    """
    values = EC_USER_DATA.unpack(field)
    size = int(values["signature_size"])
    return bytes(values["signature"])[:size], size


def pack_policy_reference(digest: bytes, path: bytes) -> bytes:
    """The 512-byte policy reference: hash, then the path truncated and zero padded."""
    room = POLICY_REFERENCE["path"].size
    return POLICY_REFERENCE.pack({"hash": digest, "path": path[:room].ljust(room, b"\0")})
