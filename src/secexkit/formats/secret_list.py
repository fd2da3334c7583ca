"""The ultravisor's secret list: binary format, human and YAML renderings (spec §15).

The list-secrets call fills a buffer with a 16-byte header and 48-byte entries.
``pvsecret list --format bin`` writes the header and the stored entries
exactly as returned (reserved fields included); the human and YAML outputs
are the reference's renderings.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final

from ..errors import FormatError
from ._layout import Layout, raw, u
from .names import secret_type_name
from .sizes import SECRET_ID_SIZE

__all__ = [
    "LIST_ENTRY",
    "LIST_HEADER",
    "SecretEntry",
    "SecretList",
    "format_secret_id",
    "parse_secret_list",
]

LIST_HEADER = Layout(
    "secret list header",
    0x10,
    [
        u("stored", 0x00, 2),
        u("total", 0x02, 2),
        u("next_index", 0x04, 2),
        raw("reserved_06", 0x06, 2),
        raw("reserved_08", 0x08, 8),
    ],
)

LIST_ENTRY = Layout(
    "secret list entry",
    0x30,
    [
        u("index", 0x00, 2),
        u("secret_type", 0x02, 2),
        u("length", 0x04, 4),
        raw("reserved_08", 0x08, 8),
        raw("secret_id", 0x10, SECRET_ID_SIZE),
    ],
)

MAX_ENTRIES: Final = 0xFFFF


def format_secret_id(secret_id: bytes) -> str:
    """``"<ascii> | 0x<hex>"`` when the ID is printable text, else ``"0x<hex>"``."""
    hex_id = "0x" + secret_id.hex()
    text, nul, rest = secret_id.partition(b"\0")  # text needs a terminating NUL (as in Rust)
    if nul and text and not any(rest) and all(0x20 <= c < 0x7F or c in b"\t\n\f\r" for c in text):
        return f"{text.decode('ascii')} | {hex_id}"
    return hex_id


@dataclass(frozen=True)
class SecretEntry:
    """One secret of the store: index, type, payload length and 32-byte ID."""

    index: int
    secret_type: int
    length: int
    secret_id: bytes
    reserved: bytes = bytes(8)

    def __post_init__(self) -> None:
        if len(self.secret_id) != SECRET_ID_SIZE:
            raise ValueError(f"a secret ID is {SECRET_ID_SIZE} bytes")

    @property
    def type_name(self) -> str:
        """The reference's display name of the secret type."""
        return secret_type_name(self.secret_type)

    def to_bytes(self) -> bytes:
        """The 48-byte wire form."""
        return LIST_ENTRY.pack(
            {
                "index": self.index,
                "secret_type": self.secret_type,
                "length": self.length,
                "reserved_08": self.reserved,
                "secret_id": self.secret_id,
            }
        )

    def human(self) -> str:
        """``<index> <type name>:`` then `` <ID display>`` (two lines)."""
        return f"{self.index} {self.type_name}:\n {format_secret_id(self.secret_id)}"


@dataclass(frozen=True)
class SecretList:
    """The list as the ultravisor returned it (the entries stored in the buffer)."""

    total: int
    entries: tuple[SecretEntry, ...] = ()
    next_index: int = 0
    reserved: bytes = field(default=bytes(10))

    def __post_init__(self) -> None:
        if len(self.entries) > MAX_ENTRIES:
            raise ValueError("a secret list holds at most 65535 entries")
        if len(self.reserved) != 10:
            raise ValueError("the header has 10 reserved bytes")

    def __iter__(self) -> Iterator[SecretEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def of(cls, entries: Iterable[SecretEntry]) -> SecretList:
        """A complete list (total = number of entries)."""
        items = tuple(entries)
        return cls(len(items), items)

    def to_bytes(self) -> bytes:
        """The binary format: header and stored entries (``--format bin``)."""
        header = LIST_HEADER.pack(
            {
                "stored": len(self.entries),
                "total": self.total,
                "next_index": self.next_index,
                "reserved_06": self.reserved[:2],
                "reserved_08": self.reserved[2:],
            }
        )
        return header + b"".join(entry.to_bytes() for entry in self.entries)

    def human(self) -> str:
        """The default output of ``pvsecret list``."""
        lines = [f"Total number of secrets: {self.total}"]
        if self.entries:
            lines.append("")
        lines.extend(entry.human() for entry in self.entries)
        return "\n".join(lines) + "\n"

    def yaml(self) -> str:
        """The ``--format yaml`` output (only the header's total is emitted)."""
        lines = [f"total_num_secrets: {self.total}"]
        if not self.entries:
            lines.append("secrets: []")
        else:
            lines.append("secrets:")
            for entry in self.entries:
                lines += [
                    f"- index: {entry.index}",
                    f"  stype: {entry.secret_type}",
                    f"  len: {entry.length}",
                    f"  id: {_yaml_id(entry.secret_id)}",
                ]
        return "\n".join(lines) + "\n"

    def find(self, secret_id: bytes) -> list[SecretEntry]:
        """Every entry with this ID, in list order."""
        return [entry for entry in self.entries if entry.secret_id == secret_id]


def _yaml_id(secret_id: bytes) -> str:
    """``0x`` + 64 hex digits; quoted when YAML 1.2 would read it as an integer.

    serde_yaml quotes hex strings whose value fits 128 bits, so only IDs
    starting with 16 zero bytes are quoted.
    """
    text = "0x" + secret_id.hex()
    return f"'{text}'" if int.from_bytes(secret_id, "big") < 1 << 128 else text


def parse_secret_list(data: bytes | bytearray | memoryview, source: str = "secret list"
                      ) -> SecretList:
    """Parse a list buffer: the header, then exactly ``stored`` entries.

    Bytes after the stored entries (the rest of the ioctl buffer) are ignored.
    """
    if len(data) < LIST_HEADER.size:
        raise FormatError(
            f"Cannot decode the {source}: {len(data)} bytes, the header alone has {LIST_HEADER.size}"
        )
    header = LIST_HEADER.unpack(data)
    stored = int(header["stored"])
    need = LIST_HEADER.size + stored * LIST_ENTRY.size
    if len(data) < need:
        raise FormatError(
            f"Cannot decode the {source}: it claims {stored} entries but has room for "
            f"{(len(data) - LIST_HEADER.size) // LIST_ENTRY.size}",
            f"{len(data)} bytes, need {need}",
        )
    entries = []
    for i in range(stored):
        v = LIST_ENTRY.unpack(data, LIST_HEADER.size + i * LIST_ENTRY.size)
        entries.append(
            SecretEntry(
                int(v["index"]),
                int(v["secret_type"]),
                int(v["length"]),
                bytes(v["secret_id"]),
                bytes(v["reserved_08"]),
            )
        )
    return SecretList(
        int(header["total"]),
        tuple(entries),
        int(header["next_index"]),
        bytes(header["reserved_06"]) + bytes(header["reserved_08"]),
    )
