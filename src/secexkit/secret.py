"""A wrapper for secret bytes that never shows them in reprs, logs or errors."""

from __future__ import annotations

from typing import Final

__all__ = ["SecretBytes"]


class SecretBytes:
    """Bytes that are key material or a secret payload.

    ``repr``/``str`` give only the length; :meth:`reveal` returns the bytes for
    the cryptographic call or the 0600 output file that needs them.
    """

    __slots__ = ("_value",)

    def __init__(self, value: bytes | bytearray | memoryview) -> None:
        self._value: Final = bytes(value)

    def reveal(self) -> bytes:
        """The secret bytes, for the cryptographic call or 0600 file that needs them."""
        return self._value

    def __len__(self) -> int:
        return len(self._value)

    def __repr__(self) -> str:
        return f"SecretBytes(<{len(self._value)} bytes>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretBytes):
            return NotImplemented
        from cryptography.hazmat.primitives.constant_time import bytes_eq

        return bytes_eq(self._value, other._value)

    def __hash__(self) -> int:
        return hash((SecretBytes, len(self._value)))

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("SecretBytes cannot be pickled")
