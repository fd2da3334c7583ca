"""Host-key documents: reading the files and the P-521 host keys they carry.

This module only loads; whether a document is trustworthy is decided by
:mod:`secexkit.trust`.  The host key is taken from the certificate's
SubjectPublicKeyInfo without importing ``cryptography.x509`` (ADR 0002); the
full certificate object is parsed on demand for verification.
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import TYPE_CHECKING, Final

from cryptography.hazmat.primitives.asymmetric import ec

from . import crypto
from .crypto import der
from .errors import FormatError, InputError

if TYPE_CHECKING:
    from cryptography import x509

log = logging.getLogger(__name__)

_EC_PUBLIC_KEY: Final = bytes.fromhex("2a8648ce3d0201")
_CURVE_NAMES: Final = {
    bytes.fromhex("2b81040023"): "secp521r1",
    bytes.fromhex("2b81040022"): "secp384r1",
    bytes.fromhex("2a8648ce3d030107"): "prime256v1",
    bytes.fromhex("2b8104000a"): "secp256k1",
}
_KEY_TYPES: Final = {
    bytes.fromhex("2a864886f70d010101"): "RSA",
    bytes.fromhex("2b6570"): "Ed25519",
    bytes.fromhex("2b6571"): "Ed448",
}
_P521: Final = bytes.fromhex("2b81040023")


class HostKey:
    """An EC secp521r1 host public key, with the hash (PHKH) that names it in key slots."""

    __slots__ = ("hash", "public_key", "source")

    def __init__(self, public_key: ec.EllipticCurvePublicKey, source: str = "<host key>") -> None:
        if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
            public_key.curve, ec.SECP521R1
        ):
            raise InputError(f"The host key in {source} is not an EC secp521r1 key")
        self.public_key = public_key
        self.source = source
        #: SHA-256 of the 160-byte coordinate encoding
        self.hash: bytes = crypto.host_key_hash(public_key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HostKey) and other.hash == self.hash

    def __hash__(self) -> int:
        return hash(self.hash)

    def __repr__(self) -> str:
        return f"HostKey({self.source!r}, hash={self.hash.hex()})"


class HostKeyDocument:
    """One host-key document: the DER certificate and where it came from."""

    def __init__(self, der: bytes, source: str) -> None:
        self.der = der
        self.source = source

    def __repr__(self) -> str:
        return f"HostKeyDocument({self.source!r})"

    @cached_property
    def certificate(self) -> x509.Certificate:
        """The full X.509 certificate (imports ``cryptography.x509``)."""
        from cryptography import x509

        try:
            return x509.load_der_x509_certificate(self.der)
        except (ValueError, x509.InvalidVersion) as exc:
            raise InputError(
                f"The provided Host Key Document in '{self.source}' is not a valid certificate: {exc}"
            ) from None

    @cached_property
    def host_key(self) -> HostKey:
        """The EC secp521r1 host key of the document (:class:`~secexkit.errors.InputError` if not)."""
        algorithm, parameter, point = der.spki_parts(der.certificate_spki(self.der))
        if algorithm != _EC_PUBLIC_KEY or parameter != _P521:
            kind = (_CURVE_NAMES.get(parameter or b"", "EC, unknown curve")
                    if algorithm == _EC_PUBLIC_KEY else _KEY_TYPES.get(algorithm, "unknown type"))
            raise InputError(
                f"The host-key document {self.source} does not hold an EC secp521r1 key ({kind})"
            )
        try:
            key = ec.EllipticCurvePublicKey.from_encoded_point(crypto.CURVE, point)
        except ValueError:
            raise InputError(
                f"The host-key document {self.source} holds an invalid secp521r1 point"
            ) from None
        return HostKey(key, self.source)


def parse_host_key_document(data: bytes, source: str) -> HostKeyDocument:
    """Parse one host-key document: a DER certificate or PEM with at least one.

    Only the first certificate of a PEM file is used (warning, as the reference).
    """
    no_certificate = f"The provided host key document in {source} contains no certificate!"
    if b"-----BEGIN" not in data:
        try:
            der.certificate_spki(data)
        except FormatError:
            raise InputError(no_certificate) from None
        return HostKeyDocument(data, source)
    try:
        blocks = der.pem_blocks(data, b"CERTIFICATE")
        if blocks:
            der.certificate_spki(blocks[0])
    except FormatError as exc:
        raise InputError(
            f"The provided Host Key Document in '{source}' is not in PEM or DER format", str(exc)
        ) from None
    if not blocks:
        raise InputError(no_certificate)
    if len(blocks) > 1:
        log.warning("The host-key document in '%s' contains more than one certificate!", source)
    return HostKeyDocument(blocks[0], source)
