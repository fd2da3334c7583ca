"""Small generated keys and self-signed host-key documents for tests (no CA chain)."""

from __future__ import annotations

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def self_signed(key: ec.EllipticCurvePrivateKey, name: str) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA512())
    )


def write_host_key_document(directory: Path, name: str, curve: ec.EllipticCurve | None = None,
                            der: bool = False) -> tuple[Path, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(curve or ec.SECP521R1())
    cert = self_signed(key, name)
    path = directory / f"{name}.{'der' if der else 'crt'}"
    encoding = serialization.Encoding.DER if der else serialization.Encoding.PEM
    path.write_bytes(cert.public_bytes(encoding))
    return path, key
