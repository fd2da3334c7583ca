"""Reading the trust inputs from files: ``--cert``, ``--crl`` and ``--root-ca``.

This is the I/O edge of the trust package; the files are read in the reference's
order so that errors appear in the same order: root CA, ``--crl`` files (fatal),
CRLs inside ``--cert`` files (ignored when absent or broken), then the certificates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from ..errors import InputError
from ._chain import AnchorList, TrustAnchors
from ._load import parse_certificates, parse_crls, parse_pem
from ._x509 import SourcedCert, SourcedCrl
from .verifier import TrustInputs

log = logging.getLogger(__name__)

Reader = Callable[[str], bytes]


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as stream:
        return stream.read()


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def load_root_ca(path: str, read: Reader = read_bytes) -> AnchorList:
    """``--root-ca``: PEM (every certificate, plus CRLs) or one DER certificate."""
    try:
        data = read(path)
    except OSError as exc:
        raise InputError(f"Cannot load certificate from {path}: {_reason(exc)}") from None
    found = parse_pem(data)
    certs = found.certificates
    if not certs:
        try:
            certs = parse_certificates(data)
        except ValueError as exc:
            raise InputError(f"Cannot load certificate from {path}: {exc}") from None
    if not certs:
        raise InputError(f"Cannot load certificate from {path}: no certificate in PEM or DER")
    return AnchorList([SourcedCert(c, path) for c in certs],
                      [SourcedCrl(c, path) for c in found.crls],
                      description=f"--root-ca {path}")


def load_crl_file(path: str, read: Reader = read_bytes) -> list[SourcedCrl]:
    """``--crl``: one DER CRL or every PEM CRL; none at all is an error."""
    try:
        data = read(path)
    except OSError as exc:
        raise InputError(f"Cannot load CRL from {path}: {_reason(exc)}") from None
    try:
        crls = parse_crls(data)
    except ValueError as exc:
        raise InputError(f"Cannot load CRL from {path}: {exc}") from None
    if not crls:
        raise InputError(f"Cannot load CRL from {path}: no CRL in PEM or DER")
    return [SourcedCrl(crl, path) for crl in crls]


def load_trust_inputs(cert_paths: Sequence[str], crl_paths: Sequence[str],
                      root_ca: str | None, *, read: Reader = read_bytes,
                      system_anchors: Callable[[], TrustAnchors] | None = None) -> TrustInputs:
    """Everything ``--cert/--crl/--root-ca`` name; the system trust store without ``--root-ca``."""
    if root_ca is not None:
        anchors: TrustAnchors = load_root_ca(root_ca, read)
    else:
        if system_anchors is None:
            from .system import SystemTrustStore

            system_anchors = SystemTrustStore.from_environment
        anchors = system_anchors()
    crls: list[SourcedCrl] = []
    for path in crl_paths:
        crls += load_crl_file(path, read)
    cert_data: dict[str, bytes] = {}
    for path in cert_paths:
        try:
            cert_data[path] = read(path)
        except OSError:
            continue  # reported below, after the CRLs of the other files
        try:  # a CRL (PEM or DER) in a certificate file is used; a broken one is ignored
            found = parse_crls(cert_data[path])
        except ValueError:
            found = parse_pem(cert_data[path]).crls
        crls += [SourcedCrl(crl, path) for crl in found]
    certificates: list[SourcedCert] = []
    empty: list[str] = []
    for path in cert_paths:
        if path not in cert_data:
            try:
                read(path)
            except OSError as exc:
                raise InputError(f"Cannot read certificate at `{path}`: {_reason(exc)}") from None
        try:
            certs = parse_certificates(cert_data[path])
        except ValueError as exc:
            raise InputError(f"Cannot load certificate from {path}: {exc}") from None
        if not certs:
            log.info("The --cert file '%s' holds no certificate", path)
            empty.append(path)
        certificates += [SourcedCert(cert, path) for cert in certs]
    return TrustInputs(certificates, crls, anchors, empty)
