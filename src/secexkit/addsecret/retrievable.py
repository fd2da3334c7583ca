"""Retrievable secrets: plaintext, AES, AES-XTS, HMAC-SHA and EC private keys.

A retrievable secret is stored by the ultravisor and handed back to the guest
(as plaintext or as an IBM protected key).  This module turns the user's input
file into the payload the ultravisor expects, with the reference's size and
key-type rules and messages (spec add-secret-request.md §8.1).
"""

from __future__ import annotations

import enum
import logging
from typing import Final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from ..errors import InputError
from ..formats.names import RETRIEVABLE_KIND_NAMES
from ..formats.request import SecretType
from ..formats.retrievable import (
    EC_PRIVATE_KEY_SIZES,
    MAX_PLAINTEXT_SIZE,
    MAX_RETRIEVE_SIZE,
    PLAINTEXT_FRAME,
    RETRIEVABLE_TYPES,
    frame_plaintext,
    unframe_plaintext,
)
from ..secret import SecretBytes
from .secrets import GuestSecret, secret_id_from_name

__all__ = [
    "MAX_PLAINTEXT_SIZE",
    "MAX_RETRIEVE_SIZE",
    "PLAINTEXT_FRAME",
    "RETRIEVABLE_TYPES",
    "RetrievableKind",
    "aes_payload",
    "aes_xts_payload",
    "ec_payload",
    "hmac_sha_payload",
    "plaintext_from_payload",
    "plaintext_payload",
    "retrievable_secret",
]

log = logging.getLogger(__name__)

class RetrievableKind(enum.StrEnum):
    """The ``--type`` values of ``pvsecret create retrievable``."""

    PLAIN = "plain"
    AES = "aes"
    AES_XTS = "aes-xts"
    HMAC_SHA = "hmac-sha"
    EC = "ec"

    @property
    def display(self) -> str:
        """How the reference names the kind when reading the input file."""
        return RETRIEVABLE_KIND_NAMES[self.value]


def _size_error(kind: str, value: object, expected: str, *details: str) -> InputError:
    return InputError(
        f"Incorrect key size for a {kind}. Is: {value}; expected: {expected}", *details
    )


def plaintext_payload(data: bytes) -> bytes:
    """``u16 length || data || zero padding`` to a multiple of 16 (0..8190 bytes of data)."""
    if len(data) > MAX_PLAINTEXT_SIZE:
        raise _size_error("PLAINTEXT", len(data), f"less than {MAX_RETRIEVE_SIZE}")
    return frame_plaintext(data)


_AES_TYPES: Final = {128: SecretType.AES_128, 192: SecretType.AES_192, 256: SecretType.AES_256}
_XTS_TYPES: Final = {128: SecretType.AES_XTS_128, 256: SecretType.AES_XTS_256}
_HMAC_TYPES: Final = {256: SecretType.HMAC_SHA_256, 512: SecretType.HMAC_SHA_512}


#: the data of a retrieved plaintext frame, or ``None`` (see :mod:`secexkit.formats.retrievable`)
plaintext_from_payload = unframe_plaintext


def aes_payload(data: bytes) -> tuple[SecretType, bytes]:
    """A raw AES key of 16, 24 or 32 bytes."""
    bits = len(data) * 8
    if bits not in _AES_TYPES:
        raise _size_error("AES-KEY", bits, "128, 192, or 256")
    return _AES_TYPES[bits], data


def _double_key(data: bytes, kind: str, table: dict[int, SecretType], expected: str
                ) -> tuple[SecretType, bytes]:
    """Two keys of equal size; the size rule names the bits of one half.

    Unlike the reference (which divides the length by two, rounding down, and
    so accepts 33/65/129-byte files) an odd length is refused: see
    docs/adr/0031-odd-length-double-keys.md.
    """
    bits = len(data) // 2 * 8
    if len(data) % 2:
        raise _size_error(
            kind, f"{len(data)} bytes", expected,
            "the key must be two halves of equal size; an odd length cannot be split",
        )
    if bits not in table:
        raise _size_error(kind, bits, expected)
    return table[bits], data


def aes_xts_payload(data: bytes) -> tuple[SecretType, bytes]:
    """Two concatenated AES keys: 32 (XTS-128) or 64 (XTS-256) bytes."""
    return _double_key(data, "AES-XTS-KEY", _XTS_TYPES, "128 or 256")


def hmac_sha_payload(data: bytes) -> tuple[SecretType, bytes]:
    """An HMAC key already pre-processed to the block size (K0): 64 or 128 bytes."""
    return _double_key(data, "HMAC-SHA-KEY", _HMAC_TYPES, "256 or 512")


_EC_CURVES: Final[dict[str, SecretType]] = {
    "secp256r1": SecretType.EC_SECP256R1,
    "secp384r1": SecretType.EC_SECP384R1,
    "secp521r1": SecretType.EC_SECP521R1,
}
#: OpenSSL long names where they differ from pyca's curve names
_OPENSSL_NAMES: Final = {"secp192r1": "prime192v1"}


def _not_a_private_key(data: bytes) -> str:
    """Why ``data`` is no (unencrypted) private key, for the end of an error line."""
    if not data.strip():
        return "the file is empty"
    if b"-----BEGIN" in data:
        if b"ENCRYPTED" in data:
            return "the key is encrypted; provide an unencrypted key"
        if b"CERTIFICATE-----" in data:
            return "it holds a certificate, not a private key"
        if b"PUBLIC KEY-----" in data:
            return "it holds a public key, not a private key"
    return "no private key found"


def load_private_key(data: bytes, source: str, what: str) -> PrivateKeyTypes:
    """A private key from DER, else PEM (unencrypted PKCS#8 or traditional).

    Errors keep the reference's text and add why the file is not usable.
    """
    for loader in (serialization.load_der_private_key, serialization.load_pem_private_key):
        try:
            return loader(data, None)
        except TypeError:  # encrypted (PEM or DER PKCS#8): no password is asked for
            raise InputError(
                f"Cannot read {source} as {what} from PEM or DER: "
                "the key is encrypted; provide an unencrypted key"
            ) from None
        except (ValueError, UnsupportedAlgorithm):
            continue
    raise InputError(f"Cannot read {source} as {what} from PEM or DER: {_not_a_private_key(data)}")


def ec_payload(key: PrivateKeyTypes) -> tuple[SecretType, bytes]:
    """The private scalar (left-padded to the curve's slot) or raw Edwards key."""
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in _EC_CURVES:
        secret_type = _EC_CURVES[key.curve.name]
        size = EC_PRIVATE_KEY_SIZES[secret_type]
        return secret_type, key.private_numbers().private_value.to_bytes(size, "big")
    if isinstance(key, ed25519.Ed25519PrivateKey):
        size = EC_PRIVATE_KEY_SIZES[SecretType.EC_ED25519]
        return SecretType.EC_ED25519, key.private_bytes_raw().rjust(size, b"\0")
    if isinstance(key, ed448.Ed448PrivateKey):
        size = EC_PRIVATE_KEY_SIZES[SecretType.EC_ED448]
        return SecretType.EC_ED448, key.private_bytes_raw().rjust(size, b"\0")
    if isinstance(key, ec.EllipticCurvePrivateKey):
        found = _OPENSSL_NAMES.get(key.curve.name, key.curve.name)
    else:
        found = f"undefined ({type(key).__name__.removesuffix('PrivateKey')} key)"
    raise InputError(
        f"Incorrect curve or format for a EC-PRIVATE-KEY. Is: {found}; "
        "expected: secp256r1, secp384r1, secp521r1, ed25519, or ed448"
    )


def retrievable_secret(
    name: str,
    kind: RetrievableKind | str,
    data: bytes | SecretBytes,
    *,
    source: str = "the secret",
    use_name: bool = False,
) -> GuestSecret:
    """A named retrievable secret from the contents of the user's ``--secret`` file.

    ``source`` names the input in error messages (the file path).
    """
    kind = RetrievableKind(kind)
    raw = data.reveal() if isinstance(data, SecretBytes) else bytes(data)
    secret_type: int
    if kind is RetrievableKind.PLAIN:
        secret_type, payload = SecretType.PLAINTEXT, plaintext_payload(raw)
    elif kind is RetrievableKind.AES:
        secret_type, payload = aes_payload(raw)
    elif kind is RetrievableKind.AES_XTS:
        secret_type, payload = aes_xts_payload(raw)
    elif kind is RetrievableKind.HMAC_SHA:
        secret_type, payload = hmac_sha_payload(raw)
    else:
        key = load_private_key(raw, source, kind.display)
        secret_type, payload = ec_payload(key)
    log.debug("retrievable secret %r: type %#06x, %d payload bytes", name, secret_type, len(payload))
    return GuestSecret(
        secret_type, SecretBytes(payload), secret_id_from_name(name, use_name=use_name), name
    )
