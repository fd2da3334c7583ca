"""Ultravisor request framing and the add-secret request (ASRCB v1) layout.

A UV request is ``AAD || ciphertext || GCM tag``.  The AAD starts with the
48-byte generic header; the add-secret request adds flags, the SE-header tags,
the CUID, user data, the customer public key, the key slots and the secret
header.  This module only knows bytes: building (with encryption) lives in
:mod:`secexkit.addsecret.request`.
"""

from __future__ import annotations

import enum
from typing import Final, NamedTuple

from ..errors import FormatError
from ._layout import Layout, raw, u

ASRCB_MAGIC: Final = b"asrcbM"
ASRCB_VERSION_1: Final = 0x100
TAG_SIZE: Final = 16
IV_SIZE: Final = 12
MAX_HOST_KEYS: Final = 255
#: the largest request the ultravisor device accepts
MAX_REQUEST_SIZE: Final = 0x100000

GENERIC_HEADER = Layout(
    "request header",
    0x30,
    [
        raw("magic", 0x00, 6),
        u("user_data_type", 0x06, 2),
        u("version", 0x08, 4),
        u("length", 0x0C, 4),
        raw("iv", 0x10, IV_SIZE),
        u("key_slot_count", 0x27, 1),
        u("encrypted_size", 0x2C, 4),
    ],
)

#: Fields after the generic header, up to the first key slot (absolute offsets).
ASRCB_BODY = Layout(
    "add-secret request",
    0x4B8,
    [
        *GENERIC_HEADER.fields,
        u("flags", 0x030, 8),
        raw("pld", 0x038, 64),
        raw("ald", 0x078, 64),
        raw("tld", 0x0B8, 64),
        raw("header_tag", 0x0F8, 16),
        raw("cuid", 0x108, 16),
        raw("user_data", 0x218, 0x200),
        raw("customer_public_key", 0x418, 160),
    ],
)

KEY_SLOT = Layout(
    "key slot",
    0x50,
    [
        raw("host_key_hash", 0x00, 32),
        raw("wrapped_key", 0x20, 32),
        raw("tag", 0x40, 16),
    ],
)

#: Secret header of meta secrets (no ID) is the first 16 bytes of this layout.
SECRET_HEADER = Layout(
    "secret header",
    0x30,
    [
        u("secret_type", 0x02, 2),
        u("secret_length", 0x04, 4),
        raw("secret_id", 0x10, 32),
    ],
)
SHORT_SECRET_HEADER_SIZE: Final = 0x10

USER_DATA_OFFSET: Final = ASRCB_BODY.offset("user_data")
USER_DATA_SIZE: Final = ASRCB_BODY["user_data"].size
KEY_SLOTS_OFFSET: Final = ASRCB_BODY.size
EXTENSION_SECRET_SIZE: Final = 32


def secret_header_size(secret_type: int) -> int:
    """Meta secrets carry a 16-byte header, all others 48 bytes."""
    return SHORT_SECRET_HEADER_SIZE if secret_type == SecretType.META else SECRET_HEADER.size


class SecretType(enum.IntEnum):
    """Secret types of the ultravisor secret store (secret header / list entries)."""

    META = 0x0001
    ASSOCIATION = 0x0002
    PLAINTEXT = 0x0003
    AES_128 = 0x0004
    AES_192 = 0x0005
    AES_256 = 0x0006
    AES_XTS_128 = 0x0007
    AES_XTS_256 = 0x0008
    HMAC_SHA_256 = 0x0009
    HMAC_SHA_512 = 0x000A
    EC_SECP256R1 = 0x0011
    EC_SECP384R1 = 0x0012
    EC_SECP521R1 = 0x0013
    EC_ED25519 = 0x0014
    EC_ED448 = 0x0015
    UPDATE_CCK = 0x0016


#: Display names of the listable secret types, as in the reference (list, PEM, YAML).
SECRET_TYPE_NAMES: Final[dict[int, str]] = {
    SecretType.ASSOCIATION: "Association",
    SecretType.PLAINTEXT: "PLAINTEXT",
    SecretType.AES_128: "AES-128-KEY",
    SecretType.AES_192: "AES-192-KEY",
    SecretType.AES_256: "AES-256-KEY",
    SecretType.AES_XTS_128: "AES-XTS-128-KEY",
    SecretType.AES_XTS_256: "AES-XTS-256-KEY",
    SecretType.HMAC_SHA_256: "HMAC-SHA-256-KEY",
    SecretType.HMAC_SHA_512: "HMAC-SHA-512-KEY",
    SecretType.EC_SECP256R1: "EC-SECP256R1-PRIVATE-KEY",
    SecretType.EC_SECP384R1: "EC-SECP384R1-PRIVATE-KEY",
    SecretType.EC_SECP521R1: "EC-SECP521R1-PRIVATE-KEY",
    SecretType.EC_ED25519: "EC-ED25519-PRIVATE-KEY",
    SecretType.EC_ED448: "EC-ED448-PRIVATE-KEY",
}


def secret_type_name(secret_type: int) -> str:
    """Name of a secret type as the reference displays it."""
    if secret_type in SECRET_TYPE_NAMES:
        return SECRET_TYPE_NAMES[secret_type]
    if secret_type in (0x0000, SecretType.META, SecretType.UPDATE_CCK):
        return f"Invalid({secret_type:#06x})"
    return f"Unknown({secret_type:#06x})"


class UserDataType(enum.IntEnum):
    """Bytes 6..7 of the request magic: what the user-data field holds."""

    NULL = 0
    UNSIGNED = 1
    SIGNED_EC_SECP521R1 = 2
    SIGNED_RSA_2048 = 3
    SIGNED_RSA_3072 = 4

    @property
    def display(self) -> str:
        return _USER_DATA_DISPLAY[self]

    @property
    def max_data_size(self) -> int:
        return _USER_DATA_MAX[self]


_USER_DATA_DISPLAY: Final = {
    UserDataType.NULL: "None",
    UserDataType.UNSIGNED: "unsigned",
    UserDataType.SIGNED_EC_SECP521R1: "ECDSA signed",
    UserDataType.SIGNED_RSA_2048: "RSA 2048 signed",
    UserDataType.SIGNED_RSA_3072: "RSA 3072 signed",
}
_USER_DATA_MAX: Final = {
    UserDataType.NULL: 0,
    UserDataType.UNSIGNED: 512,
    UserDataType.SIGNED_EC_SECP521R1: 256,
    UserDataType.SIGNED_RSA_2048: 256,
    UserDataType.SIGNED_RSA_3072: 128,
}


class KeySlot(NamedTuple):
    host_key_hash: bytes
    wrapped_key: bytes
    tag: bytes

    def to_bytes(self) -> bytes:
        return KEY_SLOT.pack(
            {"host_key_hash": self.host_key_hash, "wrapped_key": self.wrapped_key, "tag": self.tag}
        )

    @classmethod
    def from_bytes(cls, data: bytes | memoryview, offset: int = 0) -> KeySlot:
        v = KEY_SLOT.unpack(data, offset)
        return cls(bytes(v["host_key_hash"]), bytes(v["wrapped_key"]), bytes(v["tag"]))


class ParsedRequest(NamedTuple):
    """The plaintext structure of an add-secret request (nothing decrypted)."""

    user_data_type: UserDataType
    version: int
    iv: bytes
    flags: int
    pld: bytes
    ald: bytes
    tld: bytes
    header_tag: bytes
    cuid: bytes
    user_data: bytes
    customer_public_key: bytes
    key_slots: tuple[KeySlot, ...]
    secret_type: int
    secret_length: int
    secret_id: bytes | None
    aad_size: int
    encrypted_size: int
    tag: bytes
    raw: bytes

    @property
    def aad(self) -> bytes:
        return self.raw[: self.aad_size]

    @property
    def ciphertext(self) -> bytes:
        return self.raw[self.aad_size : self.aad_size + self.encrypted_size]


NOT_A_REQUEST: Final = "Input does not contain an add-secret request"


def check_request_frame(data: bytes) -> UserDataType:
    """The structural checks of ``pvsecret verify``; returns the user-data type.

    Raises :class:`FormatError` with the reference's messages.  Unlike the
    reference, a request shorter than its length field is rejected instead of
    crashing.
    """
    if len(data) < 8 or data[:6] != ASRCB_MAGIC:
        raise FormatError(NOT_A_REQUEST)
    raw_type = int.from_bytes(data[6:8], "big")
    try:
        user_data_type = UserDataType(raw_type)
    except ValueError:
        raise FormatError(f"Input contains unsupported user-data type: {raw_type:#06x}") from None
    if len(data) < GENERIC_HEADER.size:
        raise FormatError(
            "Provided binary request is too small",
            f"{len(data)} bytes, the request header alone has {GENERIC_HEADER.size}",
        )
    hdr = GENERIC_HEADER.unpack(data)
    length, sea = int(hdr["length"]), int(hdr["encrypted_size"])
    if length < len(data) or sea + TAG_SIZE > length or length - sea - TAG_SIZE < GENERIC_HEADER.size:
        raise FormatError(
            "Provided binary request is too small",
            f"file has {len(data)} bytes, the header says {length} (encrypted part {sea})",
        )
    if hdr["version"] != ASRCB_VERSION_1:
        raise FormatError("Input does not contain an add-secret request version 1")
    if len(data) < length:
        raise FormatError(
            "Input is truncated: the add-secret request is incomplete",
            f"file has {len(data)} bytes, the header says {length}",
        )
    if length < USER_DATA_OFFSET + USER_DATA_SIZE:
        raise FormatError(NOT_A_REQUEST)
    return user_data_type


def parse_request(data: bytes) -> ParsedRequest:
    """Parse every plaintext field of an add-secret request.

    Stricter than :func:`check_request_frame`: the key slots, the secret header
    and the encrypted part must fit the length exactly.
    """
    user_data_type = check_request_frame(data)
    if len(data) < ASRCB_BODY.size:
        raise FormatError(NOT_A_REQUEST, f"{len(data)} bytes, need at least {ASRCB_BODY.size}")
    body = ASRCB_BODY.unpack(data)
    nks = int(body["key_slot_count"])
    sea = int(body["encrypted_size"])
    if nks == 0:
        raise FormatError(NOT_A_REQUEST, "the request has no key slots")
    secret_hdr_off = KEY_SLOTS_OFFSET + nks * KEY_SLOT.size
    if len(data) < secret_hdr_off + SHORT_SECRET_HEADER_SIZE:
        raise FormatError(NOT_A_REQUEST, f"{nks} key slots do not fit in {len(data)} bytes")
    secret_type = int.from_bytes(data[secret_hdr_off + 2 : secret_hdr_off + 4], "big")
    hdr_size = secret_header_size(secret_type)
    aad_size = secret_hdr_off + hdr_size
    if aad_size + sea + TAG_SIZE != len(data):
        raise FormatError(
            NOT_A_REQUEST,
            f"sizes do not add up: {aad_size} (plaintext) + {sea} (encrypted) + 16 != {len(data)}",
        )
    secret_length = int.from_bytes(data[secret_hdr_off + 4 : secret_hdr_off + 8], "big")
    secret_id = (
        bytes(data[secret_hdr_off + 0x10 : secret_hdr_off + 0x30])
        if hdr_size == SECRET_HEADER.size
        else None
    )
    slots = tuple(
        KeySlot.from_bytes(data, KEY_SLOTS_OFFSET + i * KEY_SLOT.size) for i in range(nks)
    )

    def b(name: str) -> bytes:
        return bytes(body[name])

    return ParsedRequest(
        user_data_type=user_data_type,
        version=int(body["version"]),
        iv=b("iv"),
        flags=int(body["flags"]),
        pld=b("pld"),
        ald=b("ald"),
        tld=b("tld"),
        header_tag=b("header_tag"),
        cuid=b("cuid"),
        user_data=b("user_data"),
        customer_public_key=b("customer_public_key"),
        key_slots=slots,
        secret_type=secret_type,
        secret_length=secret_length,
        secret_id=secret_id,
        aad_size=aad_size,
        encrypted_size=sea,
        tag=bytes(data[-TAG_SIZE:]),
        raw=bytes(data),
    )
