"""Offset tables for fixed-size big-endian structures.

One :class:`Layout` describes one structure; the same object packs (writer) and
unpacks (reader), so a field's offset is written down exactly once.  Fields are
listed with their absolute offset inside the structure; gaps are reserved bytes,
written as zero and ignored when reading.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Final, NamedTuple

from ..errors import FormatError

_INT_CODES: Final = {1: "B", 2: "H", 4: "I", 8: "Q"}


class Field(NamedTuple):
    """One field: ``kind`` is ``"int"`` (unsigned big-endian) or ``"bytes"``."""

    name: str
    offset: int
    size: int
    kind: str = "bytes"

    @property
    def end(self) -> int:
        return self.offset + self.size


def u(name: str, offset: int, size: int) -> Field:
    """An unsigned big-endian integer field of 1, 2, 4 or 8 bytes."""
    if size not in _INT_CODES:
        raise ValueError(f"no integer field of {size} bytes")
    return Field(name, offset, size, "int")


def raw(name: str, offset: int, size: int) -> Field:
    """A fixed-size byte-string field."""
    return Field(name, offset, size, "bytes")


FieldValue = int | bytes


class Layout:
    """A fixed-size structure made of :class:`Field` entries."""

    def __init__(self, name: str, size: int, fields: Sequence[Field]) -> None:
        self.name = name
        self.size = size
        self.fields: tuple[Field, ...] = tuple(sorted(fields, key=lambda f: f.offset))
        self.by_name: dict[str, Field] = {f.name: f for f in self.fields}
        if len(self.by_name) != len(self.fields):
            raise ValueError(f"{name}: duplicate field names")
        fmt = ">"
        position = 0
        for f in self.fields:
            if f.offset < position:
                raise ValueError(f"{name}: field {f.name} overlaps its predecessor")
            if f.offset > position:
                fmt += f"{f.offset - position}x"
            fmt += _INT_CODES[f.size] if f.kind == "int" else f"{f.size}s"
            position = f.end
        if position > size:
            raise ValueError(f"{name}: fields exceed the size {size:#x}")
        if position < size:
            fmt += f"{size - position}x"
        self._struct = struct.Struct(fmt)
        assert self._struct.size == size

    def __getitem__(self, name: str) -> Field:
        return self.by_name[name]

    def offset(self, name: str) -> int:
        return self.by_name[name].offset

    def slice(self, name: str) -> slice:
        f = self.by_name[name]
        return slice(f.offset, f.end)

    def pack(self, values: Mapping[str, FieldValue]) -> bytes:
        """Serialize; every field must be given, reserved gaps become zero."""
        args: list[FieldValue] = []
        for f in self.fields:
            value = values[f.name]
            if f.kind == "bytes":
                if not isinstance(value, bytes | bytearray | memoryview) or len(value) != f.size:
                    raise ValueError(f"{self.name}.{f.name} must be {f.size} bytes")
            elif not isinstance(value, int) or not 0 <= value < 1 << (8 * f.size):
                raise ValueError(f"{self.name}.{f.name} must fit {f.size} unsigned bytes")
            args.append(value)
        extra = set(values) - set(self.by_name)
        if extra:
            raise ValueError(f"{self.name}: unknown fields {sorted(extra)}")
        return self._struct.pack(*args)

    def unpack(self, data: bytes | bytearray | memoryview, offset: int = 0) -> dict[str, FieldValue]:
        """Parse the structure at ``offset``; too little data is a :class:`FormatError`."""
        if len(data) - offset < self.size:
            raise FormatError(
                f"{self.name}: needs {self.size} bytes, only {max(0, len(data) - offset)} present"
            )
        values = self._struct.unpack_from(data, offset)
        return {f.name: v for f, v in zip(self.fields, values, strict=True)}

    def get_int(self, data: bytes | bytearray | memoryview, name: str, offset: int = 0) -> int:
        f = self.by_name[name]
        return int.from_bytes(data[offset + f.offset : offset + f.end], "big")
