"""SE header v1 layout, the search for a header inside an SE image, and BootHdrTags.

Only the plaintext structure lives here; the encrypted area is handled by
:mod:`secexkit.image.header` with the header protection key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO, Final, NamedTuple

from ..errors import FormatError
from ._layout import Layout, raw, u
from .keyslot import KEY_SLOT, KeySlot, parse_key_slots
from .sizes import (
    CCK_SIZE,
    COMPONENT_DIGEST_SIZE,
    IV_SIZE,
    PAGE_SIZE,
    PUBLIC_KEY_SIZE,
    TAG_SIZE,
)

SE_HEADER_MAGIC: Final = b"IBMSecEx"
SE_HEADER_VERSION_1: Final = 0x100
#: the header may span at most two pages
MAX_SE_HEADER_SIZE: Final = 2 * PAGE_SIZE
IMAGE_METADATA_MAGIC: Final = b"SeImgLnx"
IMAGE_METADATA_OFFSET: Final = 0xC000
#: how many page-aligned positions are probed for a header without metadata
HEADER_PROBES: Final = 0x15

SE_HEADER_HEAD = Layout(
    "SE header",
    0x1A0,
    [
        raw("magic", 0x000, len(SE_HEADER_MAGIC)),
        u("version", 0x008, 4),
        u("size", 0x00C, 4),
        raw("iv", 0x010, IV_SIZE),
        u("key_slot_count", 0x020, 8),
        u("encrypted_size", 0x028, 8),
        u("page_count", 0x030, 8),
        u("pcf", 0x038, 8),
        raw("customer_public_key", 0x040, PUBLIC_KEY_SIZE),
        raw("pld", 0x0E0, COMPONENT_DIGEST_SIZE),
        raw("ald", 0x120, COMPONENT_DIGEST_SIZE),
        raw("tld", 0x160, COMPONENT_DIGEST_SIZE),
    ],
)
KEY_SLOTS_OFFSET: Final = SE_HEADER_HEAD.size
#: the leading bytes that name the header's version and size
SE_HEADER_PREFIX_SIZE: Final = SE_HEADER_HEAD["size"].end
#: the XTS key of the secured components (two AES-256 keys)
IMAGE_KEY_SIZE: Final = 64

#: the encrypted area of a v1 header (before encryption)
SE_HEADER_SECRETS_V1 = Layout(
    "SE header encrypted area",
    0x80,
    [
        raw("cck", 0x00, CCK_SIZE),
        raw("image_key", 0x20, IMAGE_KEY_SIZE),
        u("psw_mask", 0x60, 8),
        u("psw_address", 0x68, 8),
        u("scf", 0x70, 8),
        u("optional_item_count", 0x78, 4),
    ],
)

IMAGE_METADATA = Layout(
    "SE image metadata",
    28,
    [
        raw("magic", 0x00, len(IMAGE_METADATA_MAGIC)),
        u("header_offset", 0x08, 8),
        u("version", 0x10, 4),
        u("ipib_offset", 0x14, 8),
    ],
)

#: What binds a request to one SE image (copied into add-secret requests).
BOOT_HDR_TAGS = Layout(
    "SE header tags",
    0xD0,
    [
        raw("pld", 0x00, COMPONENT_DIGEST_SIZE),
        raw("ald", 0x40, COMPONENT_DIGEST_SIZE),
        raw("tld", 0x80, COMPONENT_DIGEST_SIZE),
        raw("tag", 0xC0, TAG_SIZE),
    ],
)


def msb0(bit: int) -> int:
    """The value of bit ``bit`` of a 64-bit word numbered MSB0 (bit 0 is the top bit)."""
    return 1 << (63 - bit)


# Plaintext control flags (PCF) of the header.
PCF_ALLOW_DUMPING: Final = msb0(34)
PCF_NO_COMPONENT_ENCRYPTION: Final = msb0(35)
PCF_PCKMO_DEA_TDEA: Final = msb0(56)
PCF_PCKMO_AES: Final = msb0(57)
PCF_PCKMO_ECC: Final = msb0(58)
PCF_PCKMO_HMAC: Final = msb0(59)
PCF_BACKUP_TARGET_KEYS: Final = msb0(62)
# Secret control flags (SCF) of the encrypted area.
SCF_CCK_EXTENSION_SECRET: Final = msb0(1)
SCF_CCK_UPDATE: Final = msb0(2)


def se_header_size(key_slot_count: int) -> int:
    """Size of a v1 header with ``key_slot_count`` slots and no optional items."""
    return KEY_SLOTS_OFFSET + KEY_SLOT.size * key_slot_count + SE_HEADER_SECRETS_V1.size + TAG_SIZE


class _BootHdrTagFields(NamedTuple):
    pld: bytes
    ald: bytes
    tld: bytes
    tag: bytes


class BootHdrTags(_BootHdrTagFields):
    """What binds a request to one SE image: PLD, ALD, TLD and the header tag."""

    __slots__ = ()

    def __new__(cls, pld: bytes, ald: bytes, tld: bytes, tag: bytes) -> BootHdrTags:
        """Check each part's size (:data:`BOOT_HDR_TAGS`)."""
        for name, value in (("pld", pld), ("ald", ald), ("tld", tld), ("tag", tag)):
            size = BOOT_HDR_TAGS[name].size
            if len(value) != size:
                raise ValueError(f"BootHdrTags.{name} must be {size} bytes")
        return super().__new__(cls, pld, ald, tld, tag)

    def to_bytes(self) -> bytes:
        """The 208-byte wire form (``pvsecret create --hdr`` accepts it)."""
        return BOOT_HDR_TAGS.pack(self._asdict())

    @classmethod
    def from_bytes(cls, data: bytes) -> BootHdrTags:
        """Inverse of :meth:`to_bytes`; any other size is a :class:`FormatError`."""
        if len(data) != BOOT_HDR_TAGS.size:
            raise FormatError(f"SE header tags must be {BOOT_HDR_TAGS.size} bytes, not {len(data)}")
        v = BOOT_HDR_TAGS.unpack(data)
        return cls(bytes(v["pld"]), bytes(v["ald"]), bytes(v["tld"]), bytes(v["tag"]))


class SeHeader(NamedTuple):
    """A parsed v1 SE header (the encrypted area left as ciphertext)."""

    version: int
    size: int
    iv: bytes
    page_count: int
    pcf: int
    customer_public_key: bytes
    pld: bytes
    ald: bytes
    tld: bytes
    key_slots: tuple[KeySlot, ...]
    encrypted_area: bytes
    tag: bytes
    raw: bytes

    @property
    def aad(self) -> bytes:
        """The authenticated plaintext part: fixed fields and key slots."""
        return self.raw[: KEY_SLOTS_OFFSET + KEY_SLOT.size * len(self.key_slots)]

    @property
    def boot_tags(self) -> BootHdrTags:
        """PLD, ALD, TLD and tag: what an add-secret request copies."""
        return BootHdrTags(self.pld, self.ald, self.tld, self.tag)


def check_se_header_prefix(data: bytes | bytearray | memoryview) -> int:
    """Magic, version and size of a header from its first bytes; returns the size.

    The one place that decodes the version and size fields: :func:`parse_se_header`
    and the readers of images both go through it.
    """
    if (len(data) < SE_HEADER_PREFIX_SIZE
            or data[SE_HEADER_HEAD.slice("magic")] != SE_HEADER_MAGIC):
        raise FormatError("No Secure Execution header found")
    version = SE_HEADER_HEAD.get_int(data, "version")
    size = SE_HEADER_HEAD.get_int(data, "size")
    if version != SE_HEADER_VERSION_1:
        raise FormatError(f"Unsupported SE header version {version:#x} (only 0x100 is known)")
    if size <= TAG_SIZE or size > MAX_SE_HEADER_SIZE:
        raise FormatError(f"Invalid SE header size {size:#x}")
    return size


def parse_se_header(data: bytes) -> SeHeader:
    """Parse a complete header (exactly ``size`` bytes, or more: the rest is ignored)."""
    size = check_se_header_prefix(data)
    if len(data) < max(size, SE_HEADER_HEAD.size):
        raise FormatError(f"SE header is truncated: {len(data)} of {size} bytes present")
    head = SE_HEADER_HEAD.unpack(data)
    nks = int(head["key_slot_count"])
    sea = int(head["encrypted_size"])
    if nks == 0 or nks > size or sea > size:
        raise FormatError(f"Invalid SE header: {nks} key slots, encrypted area {sea} bytes")
    slots_end = KEY_SLOTS_OFFSET + KEY_SLOT.size * nks
    if slots_end + sea + TAG_SIZE != size:
        raise FormatError(
            f"Invalid SE header: size {size} does not match {nks} key slots and "
            f"an encrypted area of {sea} bytes"
        )
    data = bytes(data[:size])

    def b(name: str) -> bytes:
        return bytes(head[name])

    return SeHeader(
        version=int(head["version"]),
        size=size,
        iv=b("iv"),
        page_count=int(head["page_count"]),
        pcf=int(head["pcf"]),
        customer_public_key=b("customer_public_key"),
        pld=b("pld"),
        ald=b("ald"),
        tld=b("tld"),
        key_slots=parse_key_slots(data, KEY_SLOTS_OFFSET, nks),
        encrypted_area=data[slots_end : slots_end + sea],
        tag=data[size - TAG_SIZE :],
        raw=data,
    )


def _read_at(stream: BinaryIO, offset: int, size: int) -> bytes:
    if offset >= 1 << 63:  # a u64 from the image metadata, beyond any file (seek would raise)
        return b""
    stream.seek(offset)
    return stream.read(size)


def find_se_header_offset(stream: BinaryIO) -> int:
    """Where the SE header starts in an image or extracted header (reference rules).

    First the image metadata at 0xC000 is consulted; without it, the first 21
    page-aligned positions are probed for the magic.
    """
    meta = _read_at(stream, IMAGE_METADATA_OFFSET, IMAGE_METADATA.size)
    if len(meta) == IMAGE_METADATA.size and meta[IMAGE_METADATA.slice("magic")] == IMAGE_METADATA_MAGIC:
        offset = int(IMAGE_METADATA.unpack(meta)["header_offset"])
        if _read_at(stream, offset, len(SE_HEADER_MAGIC)) == SE_HEADER_MAGIC:
            return offset
        raise FormatError(f"No Secure Execution header at offset {offset:#x} named by the image metadata")
    for page in range(HEADER_PROBES):
        if _read_at(stream, page * PAGE_SIZE, len(SE_HEADER_MAGIC)) == SE_HEADER_MAGIC:
            return page * PAGE_SIZE
    raise FormatError("No Secure Execution header found")


def read_se_header_at(stream: BinaryIO, offset: int) -> SeHeader:
    """Parse the header that starts at ``offset`` of a seekable stream."""
    start = _read_at(stream, offset, SE_HEADER_PREFIX_SIZE)
    size = check_se_header_prefix(start)
    return parse_se_header(start + stream.read(size - len(start)))


def read_se_header(stream: BinaryIO) -> SeHeader:
    """Find and parse the SE header in a seekable image or header file."""
    return read_se_header_at(stream, find_se_header_offset(stream))


def pack_se_header_aad(
    *,
    iv: bytes,
    page_count: int,
    pcf: int,
    customer_public_key: bytes,
    pld: bytes,
    ald: bytes,
    tld: bytes,
    key_slots: Sequence[KeySlot],
    encrypted_size: int = SE_HEADER_SECRETS_V1.size,
) -> bytes:
    """The plaintext part of a v1 header (the AES-GCM AAD): fixed fields and key slots.

    The writer side of :func:`parse_se_header`; the encrypted area and the tag
    follow it (see :mod:`secexkit.image.header`).
    """
    size = KEY_SLOTS_OFFSET + KEY_SLOT.size * len(key_slots) + encrypted_size + TAG_SIZE
    if size > MAX_SE_HEADER_SIZE:
        raise FormatError(
            f"An SE header with {len(key_slots)} key slots needs {size} bytes, "
            f"more than the maximum of {MAX_SE_HEADER_SIZE}"
        )
    head = SE_HEADER_HEAD.pack(
        {
            "magic": SE_HEADER_MAGIC,
            "version": SE_HEADER_VERSION_1,
            "size": size,
            "iv": iv,
            "key_slot_count": len(key_slots),
            "encrypted_size": encrypted_size,
            "page_count": page_count,
            "pcf": pcf,
            "customer_public_key": customer_public_key,
            "pld": pld,
            "ald": ald,
            "tld": tld,
        }
    )
    return head + b"".join(slot.to_bytes() for slot in key_slots)


#: the most host keys (key slots) a v1 header can carry: 95
MAX_SE_HEADER_KEY_SLOTS: Final = (
    MAX_SE_HEADER_SIZE - KEY_SLOTS_OFFSET - SE_HEADER_SECRETS_V1.size - TAG_SIZE
) // KEY_SLOT.size
