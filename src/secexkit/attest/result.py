"""What ``pvattest verify`` shows: the result text and the YAML document, as the reference writes them.

Every value is ``0x`` + lowercase hex.  The reference's YAML writer (serde_yaml)
single-quotes such a string when it would otherwise read back as an integer,
i.e. when the hex value fits in 128 bits (always for the 16-byte CUID); longer
values are plain.  The CUID line is what ``pvsecret create --cuid FILE`` reads.
"""

from __future__ import annotations

from typing import Final

from .measurement import VerifiedAttestation

__all__ = ["hex_value", "verify_text", "verify_yaml", "yaml_hex"]

_INT128_LIMIT: Final = 1 << 128


def hex_value(data: bytes) -> str:
    """``0x`` + lowercase hex, no separators."""
    return "0x" + data.hex()


def yaml_hex(data: bytes) -> str:
    """A ``0x…`` value as serde_yaml writes it: quoted iff it would parse as a 128-bit integer."""
    text = hex_value(data)
    if data and int.from_bytes(data, "big") < _INT128_LIMIT:
        return f"'{text}'"
    return text


def verify_yaml(result: VerifiedAttestation) -> str:
    """The ``pvattest verify -o FILE`` document (keys ``cuid``, ``add``, ``add_fields``, ``user_data``)."""
    lines = [f"cuid: {yaml_hex(result.cuid)}"]
    if result.additional is not None:
        lines.append(f"add: {yaml_hex(result.additional)}")
    if result.additional_fields is not None:
        lines.append("add_fields:")
        items = list(result.additional_fields.items())
        if not items:
            lines[-1] += " {}"
        lines.extend(f"  {key}: {yaml_hex(value)}" for key, _, value in items)
    if result.user_data is not None:
        lines.append(f"user_data: {yaml_hex(result.user_data)}")
    return "\n".join(lines) + "\n"


def verify_text(result: VerifiedAttestation) -> str:
    """The result block ``pvattest verify`` logs after ``Attestation measurement verified``.

    Ends with a newline; the reference's logger appends one more, which makes
    the final empty line.
    """
    out = ["Config UID:\n", hex_value(result.cuid), "\n"]
    if result.additional is not None:
        out += ["Additional-data:\n", hex_value(result.additional), "\n"]
    if result.additional_fields is not None:
        out.append("Additional-data content:\n")
        for _, display, value in result.additional_fields.items():
            out += [display, "\n", hex_value(value), "\n"]
        out.append("\n")
    if result.user_data is not None:
        out += ["user-data:\n", hex_value(result.user_data), "\n"]
    return "".join(out)
