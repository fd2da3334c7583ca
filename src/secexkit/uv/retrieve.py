"""``pvsecret retrieve``: find a secret in the store, fetch it, and format it (spec §14, §16.5).

The guest names the secret by its NAME.yaml, a hex ID, its name or its
index.  Plaintext secrets come back with their 2-byte length frame and
padding, which is removed; every other type is an IBM protected key (usable
only inside this guest) and is written as PEM with a ``kind:`` header.
"""

from __future__ import annotations

import base64
import enum
import logging
from dataclasses import dataclass
from typing import Final

import yaml

from ..addsecret.name_yaml_reader import Yaml12Loader, parse_secret_id, parse_secret_info
from ..addsecret.retrievable import RETRIEVABLE_TYPES, plaintext_from_payload
from ..addsecret.secrets import secret_id_from_name
from ..errors import FormatError, InputError
from ..formats.names import secret_type_name
from ..formats.request import SecretType
from ..formats.secret_list import SecretEntry, SecretList, format_secret_id
from ..secret import SecretBytes
from .device import UvDevice, list_secrets, retrieve_secret

__all__ = [
    "InputFormat",
    "RetrievedSecret",
    "SecretSelector",
    "find_entry",
    "interpret_retrieved",
    "retrieve",
    "selector_from_input",
    "to_pem",
]

log = logging.getLogger(__name__)

_PEM_LINE: Final = 64


class InputFormat(enum.StrEnum):
    """``--inform`` of ``pvsecret retrieve``."""

    YAML = "yaml"
    HEX = "hex"
    NAME = "name"
    IDX = "idx"


@dataclass(frozen=True)
class SecretSelector:
    """Which secret to retrieve: by ID or by index."""

    secret_id: bytes | None = None
    index: int | None = None
    #: ``--inform name``: the whole name, for names longer than an ID (31 bytes)
    name: str | None = None

    def __str__(self) -> str:
        if self.secret_id is not None:
            return f"ID {format_secret_id(self.secret_id)}"
        return f"index {self.index}"


def selector_from_input(inform: InputFormat | str, value: str, yaml_text: bytes | None = None
                        ) -> SecretSelector:
    """Interpret the retrieve INPUT; for ``yaml`` pass the file's contents as ``yaml_text``."""
    inform = InputFormat(inform)
    if inform is InputFormat.YAML:
        if yaml_text is None:
            raise ValueError("the yaml input format needs the file contents")
        info = parse_secret_info(yaml_text, f"'{value}'")
        if not info.retrievable:
            raise InputError(
                f"'{value}' contains a {info.display}-secret, which is not retrievable"
            )
        return SecretSelector(secret_id=info.secret_id)
    if inform is InputFormat.HEX:
        return SecretSelector(secret_id=_hex_id(value))
    if inform is InputFormat.NAME:
        return SecretSelector(secret_id=secret_id_from_name(value, use_name=True), name=value)
    text = value.removeprefix("+")
    if not text.isascii() or not text.isdigit() or int(text) > 0xFFFF:
        raise InputError(f"Invalid index value '{value}'", "expected a decimal number 0..65535")
    return SecretSelector(index=int(text))


def _hex_id(value: str) -> bytes:
    """The argument is a YAML scalar (plain or quoted) holding ``0x`` + 64 hex digits."""
    shown = value if len(value) <= 80 else value[:77] + "..."
    problem = "expected '0x' followed by 64 hex digits"
    try:
        node = yaml.compose(value, Loader=Yaml12Loader)
    except yaml.YAMLError:
        node = None
    if isinstance(node, yaml.ScalarNode):
        try:
            return parse_secret_id(str(node.value))
        except FormatError as exc:
            if "not a hex string" in str(exc):
                problem = "not a hex string"
    raise InputError(f"Cannot parse SecretId information from {shown!r}: {problem}")


def _ascii_text(secret_id: bytes) -> str | None:
    display = format_secret_id(secret_id)
    suffix = " | 0x" + secret_id.hex()
    return display[: -len(suffix)] if display.endswith(suffix) else None


def find_entry(secrets: SecretList, selector: SecretSelector) -> SecretEntry:
    """The entry ``pvsecret retrieve`` uses; raises :class:`InputError` if there is none.

    An ID that is not found and is ASCII text is tried once more hashed
    (a name given with ``--inform name`` for a secret created without ``--use-name``).
    The reference hashes only the first 31 bytes of a longer name, so such secrets
    are never found by name; the whole name is tried last (docs/adr/0035).
    """
    if selector.index is not None:
        for entry in secrets:
            if entry.index == selector.index:
                return entry
    elif selector.secret_id is not None:
        matches = secrets.find(selector.secret_id)
        text = _ascii_text(selector.secret_id)
        if not matches and text is not None:
            matches = secrets.find(secret_id_from_name(text))
        if not matches and selector.name is not None:
            matches = secrets.find(secret_id_from_name(selector.name))
        if matches:
            if len(matches) > 1:
                log.warning(
                    "There are multiple secrets in the secret store with that id. Indices: %s",
                    ", ".join(str(e.index) for e in matches),
                )
            return matches[0]
    raise InputError(f"The UV secret-store has no secret with the {selector}")


@dataclass(frozen=True)
class RetrievedSecret:
    """A secret as the guest gets it back."""

    secret_type: int
    data: SecretBytes

    @property
    def is_plaintext(self) -> bool:
        """Whether the secret is a plaintext secret (else an IBM protected key)."""
        return self.secret_type == SecretType.PLAINTEXT

    def to_pem(self) -> bytes:
        """The secret as PEM: plaintext secrets, or IBM protected keys labelled with their kind."""
        if self.is_plaintext:
            return to_pem("PLAINTEXT SECRET", self.data.reveal())
        return to_pem("IBM PROTECTED KEY", self.data.reveal(),
                      header=f"kind: {secret_type_name(self.secret_type)}")


def interpret_retrieved(secret_type: int, raw: SecretBytes) -> RetrievedSecret:
    """Strip the plaintext frame when it is intact; otherwise keep the bytes as they are."""
    if secret_type == SecretType.PLAINTEXT:
        data = plaintext_from_payload(raw.reveal())
        if data is not None:
            return RetrievedSecret(secret_type, SecretBytes(data))
        return RetrievedSecret(secret_type, raw)
    if secret_type not in RETRIEVABLE_TYPES:
        log.warning(
            "Retrieved an unretrievable Secret! Will continue; interpreting it as a protected key."
        )
    return RetrievedSecret(secret_type, raw)


def to_pem(label: str, data: bytes, header: str | None = None) -> bytes:
    """PEM with 64-character base64 lines and an optional header block (OpenSSL layout)."""
    encoded = base64.b64encode(data).decode("ascii")
    lines = [f"-----BEGIN {label}-----"]
    if header is not None:
        lines += [header, ""]
    lines += [encoded[i : i + _PEM_LINE] for i in range(0, len(encoded), _PEM_LINE)]
    lines.append(f"-----END {label}-----")
    return ("\n".join(lines) + "\n").encode("ascii")


def retrieve(device: UvDevice, selector: SecretSelector) -> RetrievedSecret:
    """List the store, find the entry, retrieve it."""
    entry = find_entry(list_secrets(device), selector)
    log.info("Try to retrieve secret at index: %d", entry.index)
    return interpret_retrieved(entry.secret_type, retrieve_secret(device, entry))
