"""Binary structures of an SE boot image besides the SE header.

* the IPL parameter block (IPIB) the boot loader hands to the ultravisor: a
  fixed part followed by one entry per secured component;
* the argument blocks patched into the last bytes of the boot loaders
  ``stage3a.bin`` (where header and IPIB are) and ``stage3b_reloc.bin``
  (where kernel, command line and ramdisk are, and the kernel PSW);
* the 8-byte short PSW at offset 0 of the image.

Every integer is big-endian.  The image metadata at 0xC000 lives in
:mod:`secexkit.formats.se_header` next to the header search that reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..errors import FormatError
from ._layout import Layout, raw, u

IPL_PARM_BLOCK_VERSION: Final = 1
IPL_PARM_BLOCK_PV_VERSION: Final = 1
#: parameter block type "protected virtualization"
IPL_PBT_PV: Final = 5

#: IPIB header (8 bytes) and the fixed part of the PV block (128 bytes)
IPIB_FIXED = Layout(
    "IPIB",
    0x88,
    [
        u("length", 0x00, 4),
        u("flags", 0x04, 1),
        u("version", 0x07, 1),
        u("pv_length", 0x08, 4),
        u("pbt", 0x0C, 1),
        raw("loadparm", 0x10, 8),
        u("pv_version", 0x6F, 1),
        u("component_count", 0x74, 4),
        u("header_address", 0x78, 8),
        u("header_size", 0x80, 8),
    ],
)
#: offset of the PV block inside the IPIB (after the 8-byte IPIB header)
IPIB_PV_OFFSET: Final = 8

IPIB_COMPONENT = Layout(
    "IPIB component",
    0x18,
    [
        u("tweak_prefix", 0x00, 8),
        u("address", 0x08, 8),
        u("length", 0x10, 8),
    ],
)

#: the last 24 bytes of stage3a.bin; offsets relative to the block's own address
STAGE3A_ARGS = Layout(
    "stage3a arguments",
    24,
    [
        u("header_offset", 0x00, 8),
        u("header_size", 0x08, 8),
        u("ipib_offset", 0x10, 8),
    ],
)

#: the last 64 bytes of stage3b_reloc.bin; sizes are the unpadded input sizes
STAGE3B_ARGS = Layout(
    "stage3b arguments",
    64,
    [
        u("kernel_address", 0x00, 8),
        u("kernel_size", 0x08, 8),
        u("cmdline_address", 0x10, 8),
        u("cmdline_size", 0x18, 8),
        u("initrd_address", 0x20, 8),
        u("initrd_size", 0x28, 8),
        u("psw_mask", 0x30, 8),
        u("psw_address", 0x38, 8),
    ],
)

SHORT_PSW = Layout("short PSW", 8, [u("psw", 0, 8)])

PSW_MASK_EA: Final = 0x0000000100000000
PSW_MASK_BA: Final = 0x0000000080000000
#: the initial PSW mask written everywhere by ``pvimg create`` (64-bit addressing)
DEFAULT_PSW_MASK: Final = PSW_MASK_EA | PSW_MASK_BA
_PSW32_ADDR_MASK: Final = 0x000000007FFFFFFF
_PSW_MASK_BIT_12: Final = 0x0008000000000000


def short_psw(mask: int, address: int) -> bytes:
    """The 8-byte short PSW: mask with bit 12 set, OR a 31-bit address."""
    if mask & _PSW32_ADDR_MASK or mask & _PSW_MASK_BIT_12 or address & ~_PSW32_ADDR_MASK:
        raise ValueError("PSW cannot be expressed as a short PSW")
    return SHORT_PSW.pack({"psw": mask | _PSW_MASK_BIT_12 | address})


def parse_short_psw(data: bytes) -> tuple[int, int]:
    """(mask, address) of a short PSW."""
    value = int(SHORT_PSW.unpack(data)["psw"])
    return value & ~_PSW32_ADDR_MASK & ~_PSW_MASK_BIT_12, value & _PSW32_ADDR_MASK


@dataclass(frozen=True)
class IpibComponent:
    """One secured component as the IPIB lists it."""

    tweak_prefix: int
    address: int
    length: int


@dataclass(frozen=True)
class Ipib:
    """The PV IPL parameter block of an SE image."""

    header_address: int
    header_size: int
    components: tuple[IpibComponent, ...]

    @property
    def size(self) -> int:
        """Bytes of the whole block, fixed part and components."""
        return IPIB_FIXED.size + IPIB_COMPONENT.size * len(self.components)

    def to_bytes(self) -> bytes:
        """The wire form (the writer side of :func:`parse_ipib`)."""
        fixed = IPIB_FIXED.pack(
            {
                "length": self.size,
                "flags": 0,
                "version": IPL_PARM_BLOCK_VERSION,
                "pv_length": self.size - IPIB_PV_OFFSET,
                "pbt": IPL_PBT_PV,
                "loadparm": bytes(8),
                "pv_version": IPL_PARM_BLOCK_PV_VERSION,
                "component_count": len(self.components),
                "header_address": self.header_address,
                "header_size": self.header_size,
            }
        )
        entries = b"".join(
            IPIB_COMPONENT.pack(
                {"tweak_prefix": c.tweak_prefix, "address": c.address, "length": c.length}
            )
            for c in self.components
        )
        return fixed + entries


#: more components than this cannot come from pvimg (at most 4 are written)
MAX_IPIB_COMPONENTS: Final = 1024


def parse_ipib(data: bytes | bytearray | memoryview) -> Ipib:
    """Parse an IPIB (trailing bytes are ignored); malformed input -> FormatError."""
    head = {k: int(v) for k, v in IPIB_FIXED.unpack(data).items()
            if k != "loadparm"}
    count = head["component_count"]
    if head["pbt"] != IPL_PBT_PV:
        raise FormatError(f"IPIB is not a PV parameter block (type {head['pbt']})")
    if count > MAX_IPIB_COMPONENTS:
        raise FormatError(f"IPIB lists {count} components, more than {MAX_IPIB_COMPONENTS}")
    size = IPIB_FIXED.size + IPIB_COMPONENT.size * count
    if head["length"] != size or head["pv_length"] != size - IPIB_PV_OFFSET:
        raise FormatError(
            f"IPIB lengths {head['length']}/{head['pv_length']} do not match {count} components"
        )
    if len(data) < size:
        raise FormatError(f"IPIB is truncated: {len(data)} of {size} bytes present")
    components = []
    for i in range(count):
        entry = IPIB_COMPONENT.unpack(data, IPIB_FIXED.size + i * IPIB_COMPONENT.size)
        components.append(
            IpibComponent(int(entry["tweak_prefix"]), int(entry["address"]), int(entry["length"]))
        )
    return Ipib(head["header_address"], head["header_size"], tuple(components))


def patch_tail(blob: bytes, layout: Layout, values: dict[str, int | bytes], what: str) -> bytes:
    """Overwrite the last ``layout.size`` bytes of a boot loader with its arguments."""
    if len(blob) <= layout.size:
        raise FormatError(f"{what} is too small ({len(blob)} bytes) to carry its arguments")
    return blob[: len(blob) - layout.size] + layout.pack(values)


def read_tail(blob: bytes | bytearray | memoryview, layout: Layout, what: str) -> dict[str, int]:
    """The argument block at the end of a boot loader, as integers."""
    if len(blob) <= layout.size:
        raise FormatError(f"{what} is too small ({len(blob)} bytes) to carry its arguments")
    values = layout.unpack(blob, len(blob) - layout.size)
    return {k: int(v) for k, v in values.items()}
