"""Parsing certificates and CRLs from bytes: DER (one object) or PEM (every block).

Pure functions: they never read files.  ``ValueError`` from here always carries a
short reason; callers turn it into an error that names the input.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

from cryptography import x509

from ..crypto.der import iter_pem

CERT_LABELS = (b"CERTIFICATE", b"X509 CERTIFICATE")
CRL_LABELS = (b"X509 CRL",)


@contextlib.contextmanager
def quiet_parsing() -> Iterator[None]:
    """cryptography warns (UserWarning, deprecation) about odd but parseable fields, e.g. a
    three-letter country name or a non-positive serial; those warnings would reach the user
    as extra stderr lines.  The verdict is ours alone, so they are silenced here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def check_certificate(cert: x509.Certificate) -> x509.Certificate:
    """Decode every field the verification reads (cryptography parses some lazily).

    Raises ValueError if any of them is malformed.
    """
    try:
        with quiet_parsing():
            _ = (cert.subject.rdns, cert.issuer.rdns, cert.serial_number,
                 cert.not_valid_before_utc, cert.not_valid_after_utc)
            for ext in cert.extensions:
                _ = ext.value
    except Exception as exc:  # cryptography decodes lazily; any failure means malformed
        raise ValueError(f"malformed certificate: {exc}") from None
    return cert


def check_crl(crl: x509.CertificateRevocationList) -> x509.CertificateRevocationList:
    """Decode every field of a CRL the verification reads; ValueError if malformed."""
    try:
        with quiet_parsing():
            _ = (crl.issuer.rdns, crl.last_update_utc, crl.next_update_utc)
            for ext in crl.extensions:
                _ = ext.value
            crl.get_revoked_certificate_by_serial_number(0)  # walks every entry
            for entry in crl:
                _ = (entry.serial_number, entry.revocation_date_utc)
                for ext in entry.extensions:
                    _ = ext.value
    except Exception as exc:  # cryptography decodes lazily; any failure means malformed
        raise ValueError(f"malformed CRL: {exc}") from None
    return crl


class PemObjects:
    """What a PEM file holds: certificates and CRLs in file order, and undecodable blocks."""

    __slots__ = ("bad_certificates", "bad_crls", "certificates", "crls")

    def __init__(self) -> None:
        self.certificates: list[x509.Certificate] = []
        self.crls: list[x509.CertificateRevocationList] = []
        self.bad_certificates = 0
        self.bad_crls = 0


def parse_pem(data: bytes) -> PemObjects:
    """Every certificate and CRL of a PEM text; other block types are ignored."""
    with warnings.catch_warnings():  # e.g. old roots with a non-positive serial number
        warnings.simplefilter("ignore")
        return _parse_pem(data)


def _parse_pem(data: bytes) -> PemObjects:
    found = PemObjects()
    for label, body in iter_pem(data):
        if label in CERT_LABELS:
            try:
                if body is None:
                    raise ValueError("undecodable PEM block")
                found.certificates.append(check_certificate(x509.load_der_x509_certificate(body)))
            except (ValueError, x509.InvalidVersion):
                found.bad_certificates += 1
        elif label in CRL_LABELS:
            try:
                if body is None:
                    raise ValueError("undecodable PEM block")
                found.crls.append(check_crl(x509.load_der_x509_crl(body)))
            except (ValueError, x509.InvalidVersion):
                found.bad_crls += 1
    return found


def _der_certificate(data: bytes) -> x509.Certificate | None:
    if not data.startswith(b"\x30"):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return check_certificate(x509.load_der_x509_certificate(data))
    except (ValueError, x509.InvalidVersion):
        return None


def _der_crl(data: bytes) -> x509.CertificateRevocationList | None:
    if not data.startswith(b"\x30"):
        return None
    try:
        return check_crl(x509.load_der_x509_crl(data))
    except (ValueError, x509.InvalidVersion):
        return None


def parse_certificates(data: bytes) -> list[x509.Certificate]:
    """A DER certificate, else every PEM certificate (none: empty list).

    Raises ValueError if a PEM certificate block cannot be decoded.
    """
    cert = _der_certificate(data)
    if cert is not None:
        return [cert]
    found = parse_pem(data)
    if found.bad_certificates:
        raise ValueError("a PEM CERTIFICATE block is not a valid certificate")
    return found.certificates


def parse_crls(data: bytes) -> list[x509.CertificateRevocationList]:
    """A DER CRL, else every PEM CRL (none: empty list).

    Raises ValueError if a PEM CRL block cannot be decoded.
    """
    crl = _der_crl(data)
    if crl is not None:
        return [crl]
    found = parse_pem(data)
    if found.bad_crls:
        raise ValueError("a PEM X509 CRL block is not a valid CRL")
    return found.crls
