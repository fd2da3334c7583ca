"""Attestation wire formats: the ARCB, the pvattest exchange file, additional data, ``uvio_attest``.

Pure structure, no crypto and no files.  One :class:`~._layout.Layout` per
structure, shared by the reader and the writer:

* :data:`ARCB_HEAD` -- the attestation request control block (version 1) up to
  its key slots; key slots follow (:data:`ARCB_KEY_SLOT`), then the encrypted
  measurement key and nonce and the AES-GCM tag.  Building and decrypting live
  in :mod:`secexkit.attest.request`.
* :data:`EXCHANGE_HEADER` -- the 64-byte header of the pvattest exchange file
  (version 1) with its five (size, offset) entries; :class:`ExchangeRequest`
  and :class:`ExchangeResponse` read and write whole files.
* :data:`ADDITIONAL_DATA_ITEMS` -- how the additional data the ultravisor
  returns splits into items, selected by the attestation flags.
* :data:`UVIO_ATTEST` -- the argument of the attestation ioctl of ``/dev/uv``.

Error texts of the exchange readers are the reference's (prefixed
``The input has not the correct format:``); ARCB texts are those of the
reference's request decoder.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final, NamedTuple

from ..errors import FormatError
from ._layout import Layout, raw, u
from .keyslot import KEY_SLOT, KeySlot, parse_key_slots
from .request_header import REQUEST_HEADER_FIELDS, REQUEST_HEADER_SIZE
from .sizes import CUID_SIZE, TAG_SIZE

__all__ = [
    "ADDITIONAL_DATA_ITEMS",
    "ADDITIONAL_MAX_SIZE",
    "ARCB_HEAD",
    "ARCB_KEY_SLOT",
    "ARCB_MAGIC",
    "ARCB_MAX_SIZE",
    "ARCB_VERSION_1",
    "CUID_SIZE",
    "EXCHANGE_ENTRY_NAMES",
    "EXCHANGE_FORMAT_ERROR",
    "EXCHANGE_HEADER",
    "EXCHANGE_MAGIC",
    "EXCHANGE_VERSION_1",
    "FLAG_ATTESTATION_PHKH",
    "FLAG_FIRMWARE_STATE",
    "FLAG_IMAGE_PHKH",
    "FLAG_NONCE",
    "FLAG_SECRET_STORE_HASH",
    "MAI_HMAC_SHA512",
    "MEASUREMENT_KEY_SIZE",
    "MEASUREMENT_MAX_SIZE",
    "MEASUREMENT_SIZE",
    "NONCE_SIZE",
    "USER_DATA_MAX_SIZE",
    "UVIO_ATTEST",
    "AdditionalData",
    "AdditionalItem",
    "ArcbKeySlot",
    "ExchangeFile",
    "ExchangeItem",
    "ExchangeRequest",
    "ExchangeResponse",
    "ParsedArcb",
    "arcb_size",
    "expected_additional_size",
    "parse_additional_data",
    "parse_arcb",
    "parse_exchange",
]

# --------------------------------------------------------------------------- ARCB

#: an ARCB starts with eight zero bytes (the generic request header's magic)
ARCB_MAGIC: Final = bytes(8)
ARCB_VERSION_1: Final = 0x100
#: measurement algorithm identifier: HMAC-SHA512, the only one defined
MAI_HMAC_SHA512: Final = 1
MEASUREMENT_KEY_SIZE: Final = 64
NONCE_SIZE: Final = 16
#: the HMAC-SHA512 measurement the ultravisor returns
MEASUREMENT_SIZE: Final = 64

#: Everything before the key slots (absolute offsets).  Bytes 0x30..0x40 are the
#: request-dependent authenticated block (flags, MAI, reserved).
ARCB_HEAD = Layout(
    "attestation request",
    0xE0,
    [
        raw("magic", 0x000, len(ARCB_MAGIC)),
        *REQUEST_HEADER_FIELDS,
        u("flags", 0x030, 8),
        u("mai", 0x038, 4),
        raw("customer_public_key", 0x040, 160),
    ],
)

#: One key slot (host-key hash, wrapped ARPK, GCM tag): the same structure as a request's.
ARCB_KEY_SLOT = KEY_SLOT

#: Attestation flags (u64 at 0x30, bit 0 = most significant).
FLAG_NONCE: Final = 1 << (63 - 1)
FLAG_IMAGE_PHKH: Final = 1 << (63 - 2)
FLAG_ATTESTATION_PHKH: Final = 1 << (63 - 3)
FLAG_SECRET_STORE_HASH: Final = 1 << (63 - 4)
FLAG_FIRMWARE_STATE: Final = 1 << (63 - 5)

#: the largest ARCB the ultravisor device accepts
ARCB_MAX_SIZE: Final = 0x100000
MEASUREMENT_MAX_SIZE: Final = 0x8000
ADDITIONAL_MAX_SIZE: Final = 0x8000
USER_DATA_MAX_SIZE: Final = 0x100

NOT_AN_ARCB: Final = "Input does not contain an attestation request"
ARCB_TOO_SMALL: Final = "Provided binary request is too small"


def arcb_size(key_slot_count: int, encrypted_size: int = MEASUREMENT_KEY_SIZE + NONCE_SIZE) -> int:
    """Total length of an ARCB: 0x140 + 0x50 per key slot with a nonce."""
    return ARCB_HEAD.size + ARCB_KEY_SLOT.size * key_slot_count + encrypted_size + TAG_SIZE


#: A key slot of an ARCB is a :class:`~secexkit.formats.keyslot.KeySlot`.
ArcbKeySlot = KeySlot


class ParsedArcb(NamedTuple):
    """The plaintext structure of an ARCB (nothing decrypted).

    :func:`parse_arcb` checks exactly what the reference's decoder checks before
    decryption; :meth:`key_slots` adds the key-slot structure that only a party
    holding a host private key (the ultravisor) needs.
    """

    version: int
    length: int
    iv: bytes
    key_slot_count: int
    flags: int
    mai: int
    customer_public_key: bytes
    aad_size: int
    encrypted_size: int
    raw: bytes

    @property
    def aad(self) -> bytes:
        """The authenticated plaintext: everything before the encrypted part."""
        return self.raw[: self.aad_size]

    @property
    def ciphertext(self) -> bytes:
        """The encrypted measurement key and nonce."""
        return self.raw[self.aad_size : self.aad_size + self.encrypted_size]

    @property
    def tag(self) -> bytes:
        """The AES-256-GCM tag (last 16 bytes)."""
        return self.raw[self.length - TAG_SIZE : self.length]

    @property
    def has_nonce(self) -> bool:
        """Whether the encrypted part holds a nonce (the reference decides by size, not flag)."""
        return self.encrypted_size == MEASUREMENT_KEY_SIZE + NONCE_SIZE

    def key_slots(self) -> tuple[ArcbKeySlot, ...]:
        """The key slots; :class:`FormatError` unless they fill the AAD exactly."""
        nks = self.key_slot_count
        if nks == 0 or ARCB_HEAD.size + ARCB_KEY_SLOT.size * nks != self.aad_size:
            raise FormatError(
                NOT_AN_ARCB,
                f"{nks} key slots do not fill the {self.aad_size}-byte authenticated part",
            )
        return parse_key_slots(self.raw, ARCB_HEAD.size, nks)


def parse_arcb(data: bytes) -> ParsedArcb:
    """Parse an ARCB with the reference decoder's checks, in its order.

    Magic, header size and length fields, version, the authenticated flags block,
    the measurement algorithm, the encrypted size.  Unlike the reference, a blob
    shorter than its length field is refused here instead of failing later.
    """
    data = bytes(data)
    if data[:8] != ARCB_MAGIC:
        raise FormatError(NOT_AN_ARCB)
    if len(data) < REQUEST_HEADER_SIZE:
        raise FormatError(ARCB_TOO_SMALL, f"{len(data)} bytes, the request header alone has 48")
    length = int.from_bytes(data[0x0C:0x10], "big")
    sea = int.from_bytes(data[0x2C:0x30], "big")
    if length < len(data) or sea + TAG_SIZE > length or length - sea - TAG_SIZE < REQUEST_HEADER_SIZE:
        raise FormatError(
            ARCB_TOO_SMALL,
            f"{len(data)} bytes, the header says {length} (encrypted part {sea})",
        )
    if length > len(data):
        raise FormatError(ARCB_TOO_SMALL, f"truncated: {len(data)} of {length} bytes present")
    version = int.from_bytes(data[0x08:0x0C], "big")
    if version != ARCB_VERSION_1:
        raise FormatError(f"The attestation request has an unknown version {version}")
    aad_size = length - sea - TAG_SIZE
    if aad_size < 0x40:
        raise FormatError(ARCB_TOO_SMALL, "no room for the attestation flags")
    mai = int.from_bytes(data[0x38:0x3C], "big")
    if mai != MAI_HMAC_SHA512:
        # the reference's message has a literal "(.0)" (a formatting slip)
        raise FormatError("The attestation request has an unknown algorithm type (.0)",
                          f"measurement algorithm identifier {mai}")
    if sea < MEASUREMENT_KEY_SIZE:
        raise FormatError(
            f"The attestation request encrypted sice is to0 small {sea}. "
            "Request probably tampered with."
        )
    return ParsedArcb(
        version=version,
        length=length,
        iv=data[0x10:0x1C],
        key_slot_count=data[0x27],
        flags=int.from_bytes(data[0x30:0x38], "big"),
        mai=mai,
        # a customer key needs the full head; shorter AADs fail authentication anyway
        customer_public_key=data[0x40:0xE0] if aad_size >= ARCB_HEAD.size else b"",
        aad_size=aad_size,
        encrypted_size=sea,
        raw=data,
    )


# ----------------------------------------------------------------- additional data


class AdditionalItem(NamedTuple):
    """One item of the additional data: its flag, size and names."""

    flag: int
    size: int
    key: str
    display: str
    missing_name: str


#: The items in the order the ultravisor concatenates them (flag bit order).
ADDITIONAL_DATA_ITEMS: Final = (
    AdditionalItem(FLAG_IMAGE_PHKH, 32, "image_phkh", "Image PHKH", "Image PHKH"),
    AdditionalItem(FLAG_ATTESTATION_PHKH, 32, "attestation_phkh", "Attestation PHKH",
                   "Attestation PHKH"),
    AdditionalItem(FLAG_SECRET_STORE_HASH, 64, "secret_store_hash", "Secret store hash",
                   "Secret store state"),
    AdditionalItem(FLAG_FIRMWARE_STATE, 320, "firmware_state", "Firmware state", "Firmware hash"),
)


def expected_additional_size(flags: int) -> int:
    """How many bytes of additional data the flags ask the ultravisor for."""
    return sum(item.size for item in ADDITIONAL_DATA_ITEMS if flags & item.flag)


class AdditionalData(NamedTuple):
    """Additional data split into its items (``None`` = not requested)."""

    image_phkh: bytes | None = None
    attestation_phkh: bytes | None = None
    secret_store_hash: bytes | None = None
    firmware_state: bytes | None = None
    #: bytes after the items the flags announce
    unrecognized: bytes | None = None

    def items(self) -> Iterator[tuple[str, str, bytes]]:
        """(YAML key, display name, value) of the present items, in wire order."""
        for item in ADDITIONAL_DATA_ITEMS:
            value = getattr(self, item.key)
            if value is not None:
                yield item.key, item.display, value
        if self.unrecognized is not None:
            yield "unrecognized", "Unrecognized", self.unrecognized


def parse_additional_data(data: bytes, flags: int) -> AdditionalData:
    """Split additional data by the attestation flags (reference rules and messages)."""
    values: dict[str, bytes] = {}
    position = 0
    for item in ADDITIONAL_DATA_ITEMS:
        if not flags & item.flag:
            continue
        if len(data) - position < item.size:
            raise FormatError(
                f"Attestation flags indicating that the additional data contains "
                f"{item.missing_name}, but no data was provided."
            )
        values[item.key] = bytes(data[position : position + item.size])
        position += item.size
    rest = bytes(data[position:])
    return AdditionalData(**values, unrecognized=rest or None)


# ------------------------------------------------------------------ exchange file

EXCHANGE_MAGIC: Final = b"pvattest"
EXCHANGE_VERSION_1: Final = 0x100
EXCHANGE_FORMAT_ERROR: Final = "The input has not the correct format:"
#: the five blobs of an exchange file, in header and writing order
EXCHANGE_ENTRY_NAMES: Final = ("arcb", "measurement", "additional", "user", "cuid")

EXCHANGE_HEADER = Layout(
    "pvattest exchange header",
    0x40,
    [
        raw("magic", 0x00, 8),
        u("version", 0x08, 4),
        u("size", 0x0C, 4),
        u("arcb_size", 0x18, 4),
        u("arcb_offset", 0x1C, 4),
        u("measurement_size", 0x20, 4),
        u("measurement_offset", 0x24, 4),
        u("additional_size", 0x28, 4),
        u("additional_offset", 0x2C, 4),
        u("user_size", 0x30, 4),
        u("user_offset", 0x34, 4),
        u("cuid_size", 0x38, 4),
        u("cuid_offset", 0x3C, 4),
    ],
)

#: One entry: ``bytes`` = data stored in the file, ``int`` = only an expected size
#: (offset 0; used for measurement and additional data in requests), ``None`` = absent.
ExchangeItem = bytes | int | None


def _bad(message: str, *details: str) -> FormatError:
    return FormatError(f"{EXCHANGE_FORMAT_ERROR} {message}", *details)


class ExchangeFile(NamedTuple):
    """The generic content of a version-1 exchange file: five entries.

    :meth:`to_bytes` writes the header and the ``bytes`` entries contiguously
    from 0x40 in the order ARCB, measurement, additional, user, CUID -- the
    layout of the reference writer for requests and responses alike.  An empty
    ``bytes`` entry is written as (0, current offset), which readers take as absent.
    """

    arcb: ExchangeItem = None
    measurement: ExchangeItem = None
    additional: ExchangeItem = None
    user: ExchangeItem = None
    cuid: ExchangeItem = None

    def to_bytes(self) -> bytes:
        """Serialize (header + blobs)."""
        values: dict[str, int | bytes] = {
            "magic": EXCHANGE_MAGIC,
            "version": EXCHANGE_VERSION_1,
        }
        offset = EXCHANGE_HEADER.size
        blobs = []
        for name, item in zip(EXCHANGE_ENTRY_NAMES, self, strict=True):
            if item is None:
                size, where = 0, 0
            elif isinstance(item, int):
                size, where = item, 0
            else:
                size, where = len(item), offset
                offset += len(item)
                blobs.append(bytes(item))
            values[f"{name}_size"] = size
            values[f"{name}_offset"] = where
        if offset >= 1 << 32:
            raise ValueError("an exchange file is limited to 4 GiB")
        values["size"] = offset
        return EXCHANGE_HEADER.pack(values) + b"".join(blobs)


def _entry(data: bytes, header: dict[str, int | bytes], name: str) -> ExchangeItem:
    size = int(header[f"{name}_size"])
    offset = int(header[f"{name}_offset"])
    if size == 0:
        return None
    if offset == 0:
        return size
    if offset + size > len(data):
        raise _bad(
            f"The {name} entry reaches beyond the end of the file",
            f"{size} bytes at offset {offset:#x}, the file has {len(data)}",
        )
    if offset + size > int(header["size"]):
        # stricter than the reference (ADR 0080): the header's size covers every blob
        raise _bad(
            f"The {name} entry reaches beyond the size in the header",
            f"{size} bytes at offset {offset:#x}, the header says {int(header['size'])}",
        )
    return data[offset : offset + size]


def _check_header(data: bytes) -> dict[str, int | bytes]:
    if len(data) < EXCHANGE_HEADER.size:
        raise _bad("Invalid Header.")
    if data[:8] != EXCHANGE_MAGIC:
        raise _bad("Does not start with the magic value.")
    header = EXCHANGE_HEADER.unpack(data)
    version = int(header["version"])
    if version != EXCHANGE_VERSION_1:
        raise _bad(f"Unsupported version: ({version})")
    if len(data) < int(header["size"]):
        raise _bad("File size too small")
    if data[0x10:0x18] != bytes(8):
        # stricter than the reference (ADR 0080): every writer leaves them zero
        raise _bad("The reserved header bytes are not zero")
    return header


def parse_exchange(data: bytes) -> ExchangeFile:
    """Read all five entries of an exchange file (header checks of the reference).

    This is the generic reader; :meth:`ExchangeRequest.from_bytes` and
    :meth:`ExchangeResponse.from_bytes` add the checks of each kind.
    """
    data = bytes(data)
    header = _check_header(data)
    return ExchangeFile(*(_entry(data, header, name) for name in EXCHANGE_ENTRY_NAMES))


def _check_size(size: int, low: int, high: int, field: str) -> None:
    if size < low:
        raise _bad(f"The {field} field is too small ({size})")
    if size > high:
        raise _bad(f"The {field} field is too large ({size})")


def _item_size(item: ExchangeItem) -> int:
    if item is None:
        return 0
    return item if isinstance(item, int) else len(item)


class ExchangeRequest(NamedTuple):
    """What ``pvattest create`` writes: the ARCB and the sizes the ultravisor must fill."""

    arcb: bytes
    measurement_size: int = MEASUREMENT_SIZE
    additional_size: int = 0

    def check(self) -> None:
        """The reference's size limits (measurement 1..0x8000, additional 0..0x8000)."""
        _check_size(self.measurement_size, 1, MEASUREMENT_MAX_SIZE, "Expected measurement size")
        _check_size(self.additional_size, 0, ADDITIONAL_MAX_SIZE, "Expected additional data size")
        _check_size(len(self.arcb), 0, ARCB_MAX_SIZE, "Attestation request")

    def to_bytes(self) -> bytes:
        """The request exchange file, byte for byte as the reference writes it."""
        self.check()
        return ExchangeFile(
            self.arcb, self.measurement_size, self.additional_size or None
        ).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> ExchangeRequest:
        """Read a request; user-data and CUID entries are ignored, as by the reference."""
        data = bytes(data)
        header = _check_header(data)
        arcb = _entry(data, header, "arcb")
        if not isinstance(arcb, bytes):
            raise _bad("Contains no attestation request.")
        measurement = _entry(data, header, "measurement")
        additional = _entry(data, header, "additional")
        request = cls(arcb, _item_size(measurement), _item_size(additional))
        request.check()
        return request


class ExchangeResponse(NamedTuple):
    """What ``pvattest perform`` writes: the ARCB and the ultravisor's answer."""

    arcb: bytes
    measurement: bytes
    additional: bytes | None
    user_data: bytes | None
    cuid: bytes

    def check(self) -> None:
        """Size limits of the reference (ARCB, measurement, additional, user data, CUID)."""
        _check_size(len(self.arcb), 0, ARCB_MAX_SIZE, "Attestation request data")
        _check_size(len(self.measurement), 0, MEASUREMENT_MAX_SIZE, "Attestation Measurement")
        if self.additional is not None:
            _check_size(len(self.additional), 0, ADDITIONAL_MAX_SIZE, "Additional data")
        if self.user_data is not None:
            _check_size(len(self.user_data), 0, USER_DATA_MAX_SIZE, "User data")
        if len(self.cuid) != CUID_SIZE:
            raise _bad(
                f"Configuration UID has an invalid size. Expected size 16, is {len(self.cuid)}"
            )

    def to_bytes(self) -> bytes:
        """The response exchange file, byte for byte as the reference writes it."""
        self.check()
        return ExchangeFile(
            self.arcb, self.measurement, self.additional, self.user_data, self.cuid
        ).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> ExchangeResponse:
        """Read a response (reference checks and messages, in its order)."""
        data = bytes(data)
        header = _check_header(data)
        arcb = _entry(data, header, "arcb")
        if not isinstance(arcb, bytes):
            raise _bad("Contains no attestation request.")
        measurement = _entry(data, header, "measurement")
        if not isinstance(measurement, bytes):
            raise _bad("Contains no attestation response (Measurement missing).")
        additional = _entry(data, header, "additional")
        user = _entry(data, header, "user")
        cuid = _entry(data, header, "cuid")
        if not isinstance(cuid, bytes):
            raise _bad("Contains no attestation response (CUID missing).")
        if len(cuid) != CUID_SIZE:
            raise _bad(f"Configuration UID has an invalid size. Expected size 16, is {len(cuid)}")
        for name, item in (("additional", additional), ("user", user)):
            if isinstance(item, int):
                # the reference reads this as absent; no writer produces it (ADR 0080)
                raise _bad(f"The {name} entry has a size ({item}) but no data")
        response = cls(
            arcb,
            measurement,
            additional if isinstance(additional, bytes) else None,
            user if isinstance(user, bytes) else None,
            cuid,
        )
        response.check()
        return response


# ------------------------------------------------------------- uvio_attest (ioctl)

#: The argument of the attestation ioctl (``UVIO_IOCTL_ATT``, nr 1); 0x138 bytes.
UVIO_ATTEST = Layout(
    "uvio_attest",
    0x138,
    [
        u("arcb_address", 0x000, 8),
        u("measurement_address", 0x008, 8),
        u("additional_address", 0x010, 8),
        raw("user_data", 0x018, USER_DATA_MAX_SIZE),
        raw("cuid", 0x118, CUID_SIZE),
        u("arcb_length", 0x128, 4),
        u("measurement_length", 0x12C, 4),
        u("additional_length", 0x130, 4),
        u("user_data_length", 0x134, 2),
        u("reserved", 0x136, 2),
    ],
)
