"""Reading NAME.yaml (``!Association`` / ``!Retrievable``) and YAML 1.2 core scalars.

The reference reads YAML with serde_yaml, which resolves plain scalars with
the YAML 1.2 core schema: ``yes``/``no``/``on``/``off`` stay strings, ``017``
is decimal, and integers that do not fit 128 bits stay strings (a 64-digit
hex secret ID is a string).  PyYAML implements YAML 1.1, so
:class:`Yaml12Loader` replaces its implicit resolvers.  The writer of NAME.yaml
lives in :mod:`secexkit.addsecret.name_yaml`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

import yaml

from ..errors import FormatError
from ..formats.names import secret_type_name
from ..formats.request import SecretType

__all__ = [
    "SecretInfo",
    "Yaml12Loader",
    "load_yaml12",
    "parse_secret_id",
    "parse_secret_info",
]

_INT_LIMIT: Final = 1 << 128
_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")


class Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with the YAML 1.2 core schema and the NAME.yaml tags."""


Yaml12Loader.yaml_implicit_resolvers = {}
for _tag, _regex, _first in (
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        list("-+0123456789."),
    ),
):
    Yaml12Loader.add_implicit_resolver(_tag, re.compile(_regex), _first)


def _construct_int(loader: yaml.SafeLoader, node: yaml.Node) -> int | str:
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    try:
        value = int(text, 0) if text[:2] in ("0x", "0o") else int(text, 10)
    except ValueError:
        return text
    # serde_yaml keeps integers beyond 128 bits as strings
    return value if -_INT_LIMIT // 2 <= value < _INT_LIMIT else text


def _construct_bool(loader: yaml.SafeLoader, node: yaml.Node) -> bool:
    return str(loader.construct_scalar(node)).lower() == "true"  # type: ignore[arg-type]


Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
Yaml12Loader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)


@dataclass(frozen=True)
class SecretInfo:
    """The non-confidential description of a secret (one NAME.yaml document)."""

    #: serde variant: "Association", "Retrievable", "UpdateCck" or "Null"
    variant: str
    name: str | None = None
    secret_id: bytes | None = None
    #: the secret type number (retrievable secrets only)
    secret_type: int | None = None

    @property
    def display(self) -> str:
        """How the reference names the secret kind (e.g. in retrieve errors)."""
        if self.variant == "Null":
            return "Meta"
        if self.variant == "Association":
            return secret_type_name(SecretType.ASSOCIATION)
        if self.variant == "UpdateCck":
            return secret_type_name(SecretType.UPDATE_CCK)
        assert self.secret_type is not None
        return secret_type_name(self.secret_type)

    @property
    def retrievable(self) -> bool:
        """Whether a guest can retrieve this secret type."""
        return self.variant == "Retrievable"


_RETRIEVABLE_NUMBERS: Final = frozenset(range(0x03, 0x0B)) | frozenset(range(0x11, 0x16))


def parse_secret_id(text: str, what: str = "secret ID") -> bytes:
    """``0x`` followed by exactly 64 hex digits (either case)."""
    if len(text) != 66 or not text.startswith("0x"):
        raise FormatError(
            f"Invalid {what}: expected '0x' followed by 64 hex digits",
            f"got {len(text)} characters",
        )
    digits = text[2:]
    # bytes.fromhex alone would skip whitespace and return fewer than 32 bytes
    if not all(c in _HEX_DIGITS for c in digits):
        raise FormatError(f"Invalid {what}: not a hex string")
    return bytes.fromhex(digits)


def _fields(node: yaml.Node, tag: str) -> dict[str, str]:
    """Raw text of the scalar entries of a tagged mapping (names are strings, always)."""
    if not isinstance(node, yaml.MappingNode):
        raise yaml.constructor.ConstructorError(None, None, f"{tag} must be a mapping",
                                                node.start_mark)
    out: dict[str, str] = {}
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and isinstance(value, yaml.ScalarNode):
            out[str(key.value)] = str(value.value)
    return out


def _need(fields: dict[str, str], key: str, tag: str) -> str:
    if key not in fields:
        raise FormatError(f"{tag}: missing field '{key}'")
    return fields[key]


def _association(loader: yaml.SafeLoader, node: yaml.Node) -> SecretInfo:
    fields = _fields(node, "!Association")
    return SecretInfo(
        "Association",
        _need(fields, "name", "!Association"),
        parse_secret_id(_need(fields, "id", "!Association")),
    )


def _retrievable(loader: yaml.SafeLoader, node: yaml.Node) -> SecretInfo:
    fields = _fields(node, "!Retrievable")
    kind = _need(fields, "kind", "!Retrievable")
    number, sep, _ = kind.partition(" ")
    if not sep or not number.isascii() or not number.isdigit() or (
        int(number) not in _RETRIEVABLE_NUMBERS
    ):
        raise FormatError(
            f"!Retrievable: invalid kind '{kind}'",
            "expected '<number> (<name>)' with a retrievable secret type number",
        )
    return SecretInfo(
        "Retrievable",
        _need(fields, "name", "!Retrievable"),
        parse_secret_id(_need(fields, "id", "!Retrievable")),
        int(number),
    )


def _update_cck(loader: yaml.SafeLoader, node: yaml.Node) -> SecretInfo:
    return SecretInfo("UpdateCck")


Yaml12Loader.add_constructor("!Association", _association)
Yaml12Loader.add_constructor("!Retrievable", _retrievable)
Yaml12Loader.add_constructor("!UpdateCck", _update_cck)


def load_yaml12(text: str | bytes, source: str = "YAML input") -> Any:
    """Load one YAML document with the 1.2 core schema; errors are :class:`FormatError`."""
    try:
        return yaml.load(text, Loader=Yaml12Loader)  # noqa: S506 - a SafeLoader subclass
    except FormatError as exc:
        raise FormatError(f"{source}: {exc}", *exc.details) from None
    except yaml.YAMLError as exc:
        detail = str(exc).splitlines()
        raise FormatError(f"{source} is not valid YAML", *detail) from None
    except RecursionError:
        raise FormatError(f"{source} is nested too deeply") from None


def parse_secret_info(text: str | bytes, source: str = "secret description") -> SecretInfo:
    """Parse a NAME.yaml document written by ``pvsecret create``."""
    value = load_yaml12(text, source)
    if isinstance(value, SecretInfo):
        return value
    if value is None or value == "Null":
        return SecretInfo("Null")
    raise FormatError(
        f"{source} does not describe a secret",
        "expected a !Association or !Retrievable document as written by 'pvsecret create'",
    )
