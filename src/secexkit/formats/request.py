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
from .keyslot import KEY_SLOT, KeySlot, parse_key_slots
from .request_header import MAX_KEY_SLOTS, REQUEST_HEADER_FIELDS, REQUEST_HEADER_SIZE
from .sizes import (
    COMPONENT_DIGEST_SIZE,
    CUID_SIZE,
    PUBLIC_KEY_SIZE,
    SECRET_ID_SIZE,
    TAG_SIZE,
)

__all__ = [
    "ADD_SECRET_FLAGS",
    "ASRCB_BODY",
    "ASRCB_MAGIC",
    "ASRCB_VERSION_1",
    "ASSOCIATION_SECRET_SIZE",
    "EXTENSION_SECRET_SIZE",
    "FLAG_DISABLE_DUMP",
    "GENERIC_HEADER",
    "KEY_SLOT",
    "KEY_SLOTS_OFFSET",
    "MAX_HOST_KEYS",
    "MAX_REQUEST_SIZE",
    "NOT_A_REQUEST",
    "SECRET_HEADER",
    "SHORT_SECRET_HEADER_SIZE",
    "USER_DATA_OFFSET",
    "USER_DATA_SIZE",
    "KeySlot",
    "ParsedRequest",
    "SecretType",
    "UserDataType",
    "check_request_frame",
    "parse_request",
    "secret_header_size",
]

ASRCB_MAGIC: Final = b"asrcbM"
ASRCB_VERSION_1: Final = 0x100
#: the most key slots (host keys) a request can carry (the count is one byte)
MAX_HOST_KEYS: Final = MAX_KEY_SLOTS
#: the largest request the ultravisor device accepts
MAX_REQUEST_SIZE: Final = 0x100000
#: the secret that follows the payload in the encrypted part (zero when unused)
EXTENSION_SECRET_SIZE: Final = 32
#: the payload of an association secret
ASSOCIATION_SECRET_SIZE: Final = 32

#: the add-secret flag that stops the hypervisor from dumping the guest (MSB0 bit 0)
FLAG_DISABLE_DUMP: Final = 1 << 63
#: request flags by their ``--flag`` name
ADD_SECRET_FLAGS: Final[dict[str, int]] = {"disable-dump": FLAG_DISABLE_DUMP}

#: The generic request header as an add-secret request uses it: the last two bytes of
#: the magic give the user-data type.
GENERIC_HEADER = Layout(
    "request header",
    REQUEST_HEADER_SIZE,
    [
        raw("magic", 0x00, len(ASRCB_MAGIC)),
        u("user_data_type", 0x06, 2),
        *REQUEST_HEADER_FIELDS,
    ],
)

#: Fields after the generic header, up to the first key slot (absolute offsets).
ASRCB_BODY = Layout(
    "add-secret request",
    0x4B8,
    [
        *GENERIC_HEADER.fields,
        u("flags", 0x030, 8),
        raw("pld", 0x038, COMPONENT_DIGEST_SIZE),
        raw("ald", 0x078, COMPONENT_DIGEST_SIZE),
        raw("tld", 0x0B8, COMPONENT_DIGEST_SIZE),
        raw("header_tag", 0x0F8, TAG_SIZE),
        raw("cuid", 0x108, CUID_SIZE),
        raw("user_data", 0x218, 0x200),
        raw("customer_public_key", 0x418, PUBLIC_KEY_SIZE),
    ],
)

#: Secret header after the key slots.  Meta secrets carry only its first
#: :data:`SHORT_SECRET_HEADER_SIZE` bytes (no ID).
SECRET_HEADER = Layout(
    "secret header",
    0x30,
    [
        u("secret_type", 0x02, 2),
        u("secret_length", 0x04, 4),
        raw("secret_id", 0x10, SECRET_ID_SIZE),
    ],
)
SHORT_SECRET_HEADER_SIZE: Final = SECRET_HEADER.offset("secret_id")

USER_DATA_OFFSET: Final = ASRCB_BODY.offset("user_data")
USER_DATA_SIZE: Final = ASRCB_BODY["user_data"].size
KEY_SLOTS_OFFSET: Final = ASRCB_BODY.size


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


class UserDataType(enum.IntEnum):
    """Bytes 6..7 of the request magic: what the user-data field holds."""

    NULL = 0
    UNSIGNED = 1
    SIGNED_EC_SECP521R1 = 2
    SIGNED_RSA_2048 = 3
    SIGNED_RSA_3072 = 4

    @property
    def display(self) -> str:
        """The reference's name of the type (:data:`secexkit.formats.names.USER_DATA_TYPE_NAMES`)."""
        from .names import user_data_type_name

        return user_data_type_name(self)

    @property
    def max_data_size(self) -> int:
        """How many bytes of the field are data; the rest is the signature area."""
        return _USER_DATA_MAX[self]


_USER_DATA_MAX: Final = {
    UserDataType.NULL: 0,
    UserDataType.UNSIGNED: USER_DATA_SIZE,
    UserDataType.SIGNED_EC_SECP521R1: 256,
    UserDataType.SIGNED_RSA_2048: 256,
    UserDataType.SIGNED_RSA_3072: 128,
}


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
        """The authenticated plaintext part: everything before the ciphertext."""
        return self.raw[: self.aad_size]

    @property
    def ciphertext(self) -> bytes:
        """The encrypted part (without the tag)."""
        return self.raw[self.aad_size : self.aad_size + self.encrypted_size]


NOT_A_REQUEST: Final = "Input does not contain an add-secret request"


def check_request_frame(data: bytes) -> UserDataType:
    """The structural checks of ``pvsecret verify``; returns the user-data type.

    Raises :class:`FormatError` with the reference's messages.  Unlike the
    reference, a request shorter than its length field is rejected instead of
    crashing.
    """
    if (len(data) < GENERIC_HEADER["user_data_type"].end
            or data[GENERIC_HEADER.slice("magic")] != ASRCB_MAGIC):
        raise FormatError(NOT_A_REQUEST)
    raw_type = GENERIC_HEADER.get_int(data, "user_data_type")
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
    secret_type = SECRET_HEADER.get_int(data, "secret_type", secret_hdr_off)
    hdr_size = secret_header_size(secret_type)
    aad_size = secret_hdr_off + hdr_size
    if aad_size + sea + TAG_SIZE != len(data):
        raise FormatError(
            NOT_A_REQUEST,
            f"sizes do not add up: {aad_size} (plaintext) + {sea} (encrypted) + {TAG_SIZE} "
            f"!= {len(data)}",
        )
    secret_length = SECRET_HEADER.get_int(data, "secret_length", secret_hdr_off)
    secret_id = (
        bytes(SECRET_HEADER.unpack(data, secret_hdr_off)["secret_id"])
        if hdr_size == SECRET_HEADER.size
        else None
    )
    slots = parse_key_slots(data, KEY_SLOTS_OFFSET, nks)

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
