"""Host-key documents: reading the files and the P-521 host keys they carry.

This module only loads; whether a document is trustworthy is decided by
:mod:`secexkit.trust`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric import ec

from . import crypto
from .errors import InputError

if TYPE_CHECKING:
    from cryptography import x509

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HostKey:
    """An EC secp521r1 host public key, with the hash that names it in key slots."""

    public_key: ec.EllipticCurvePublicKey
    source: str = "<host key>"

    def __post_init__(self) -> None:
        if not isinstance(self.public_key, ec.EllipticCurvePublicKey) or not isinstance(
            self.public_key.curve, ec.SECP521R1
        ):
            raise InputError(f"The host key in {self.source} is not an EC secp521r1 key")

    @cached_property
    def hash(self) -> bytes:
        """PHKH: SHA-256 of the 160-byte coordinate encoding."""
        return crypto.host_key_hash(self.public_key)


@dataclass(frozen=True)
class HostKeyDocument:
    """The certificate of one host-key document and the key it carries."""

    certificate: x509.Certificate
    source: str

    @cached_property
    def host_key(self) -> HostKey:
        try:
            key = self.certificate.public_key()
        except ValueError as exc:
            raise InputError(f"The host-key document {self.source} has an unusable key: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP521R1):
            kind = getattr(getattr(key, "curve", None), "name", None) or type(key).__name__
            raise InputError(
                f"The host-key document {self.source} does not hold an EC secp521r1 key ({kind})"
            )
        return HostKey(key, self.source)


def parse_host_key_document(data: bytes, source: str) -> HostKeyDocument:
    """Parse one host-key document: a DER certificate or PEM with at least one.

    Only the first certificate of a PEM file is used (warning, as the reference).
    """
    from cryptography import x509

    if b"-----BEGIN" not in data:
        try:
            return HostKeyDocument(x509.load_der_x509_certificate(data), source)
        except ValueError:
            raise InputError(f"The provided host key document in {source} contains no certificate!") from None
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise InputError(f"The provided host key document in {source} contains no certificate!")
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise InputError(
            f"The provided Host Key Document in '{source}' is not in PEM or DER format"
        ) from None
    if len(certificates) > 1:
        log.warning("The host-key document in '%s' contains more than one certificate!", source)
    return HostKeyDocument(certificates[0], source)
