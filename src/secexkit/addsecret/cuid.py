"""The configuration unique ID (CUID) that binds a request to one guest instance."""

from __future__ import annotations

from typing import Any, Final

from ..errors import InputError
from ..formats.sizes import CUID_SIZE

_YAML_ERROR: Final = "The CUID-file does not contain a 128bit value or a yaml with a 'cuid' field"
_MAX_DEPTH: Final = 8


def parse_cuid_hex(text: str) -> bytes:
    """``[0x]`` + 32 hex digits (big-endian 128-bit value)."""
    digits = text[2:] if text.startswith("0x") else text
    if len(digits) != 2 * CUID_SIZE:
        raise InputError(
            "CUID hexstring must be 32chars long to cover all 16 bytes",
            f"got {len(digits)} characters after the optional 0x",
        )
    try:
        return bytes.fromhex(digits)
    except ValueError:
        raise InputError("Cannot decode hex string", f"CUID {text!r}") from None


def _scalar_text(node: Any) -> str | None:
    """The text of a YAML string scalar; ``None`` for numbers, booleans and null.

    Quoted scalars are strings.  Plain scalars are resolved with the YAML 1.2
    core schema like the reference, with one deliberate exception (ADR 0003):
    an unquoted ``0x...`` value is taken as the CUID text instead of an integer.
    """
    import yaml

    from .name_yaml import scalar_kind

    if not isinstance(node, yaml.ScalarNode):
        return None
    value = str(node.value)
    if node.style:  # quoted or block scalars are always strings
        return value
    if value.startswith("0x") or scalar_kind(value) == "str":
        return value
    return None


def _find_cuid(node: Any, depth: int) -> str | None:
    import yaml

    if depth > _MAX_DEPTH or not isinstance(node, yaml.MappingNode):
        return None
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "cuid":
            text = _scalar_text(value)
            if text is not None:
                return text
            continue
        found = _find_cuid(value, depth + 1)
        if found is not None:
            return found
    return None


def parse_cuid_file(data: bytes, source: str) -> bytes:
    """A CUID file: 16 raw bytes, or YAML holding a ``cuid`` entry (or a bare string)."""
    if len(data) == CUID_SIZE:
        return data
    import yaml

    try:
        root = yaml.compose(data.decode("utf-8"), Loader=yaml.SafeLoader)
    except (UnicodeDecodeError, yaml.YAMLError):
        raise InputError(_YAML_ERROR, f"in {source}") from None
    text = _scalar_text(root) if isinstance(root, yaml.ScalarNode) else _find_cuid(root, 1)
    if text is None:
        raise InputError(f"No 'cuid' entry found in {source}")
    if not text.startswith("0x"):
        raise InputError(f"CUID value starts not with 0x (in {source})")
    if len(text) - 2 != 2 * CUID_SIZE:
        raise InputError(f"CUID value in {source}: len invalid ({len(text) - 2})")
    try:
        return bytes.fromhex(text[2:])
    except ValueError:
        raise InputError("Cannot decode hex string", f"CUID in {source}") from None
