"""Reading the trust inputs: certificates, CRLs and the root CA, as paths, bytes or
parsed objects.

This is the I/O edge of the trust package.  Paths are read through
:func:`secexkit.fileio.read_input` (bounded: ``MAX_CERTIFICATE_FILE`` for certificate
and root files, ``MAX_CRL_FILE`` for CRL files; devices refused).  The inputs are read in
the reference's order so that errors appear in the same order: root CA, CRL files
(fatal), CRLs inside certificate files (ignored when absent or broken), then the
certificates.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence

from cryptography import x509

from ..errors import InputError
from ..fileio import MAX_CERTIFICATE_FILE, MAX_CRL_FILE, read_input
from ._chain import AnchorList, TrustAnchors
from ._load import check_certificate, check_crl, parse_certificates, parse_crls, parse_pem
from ._text import printable
from ._x509 import SourcedCert, SourcedCrl
from .verifier import TrustInputs

log = logging.getLogger(__name__)

#: a file name, read whole within its limit
PathInput = str | os.PathLike[str]
#: a certificate input: a file, its contents (PEM or DER), or a parsed certificate
CertificateInput = PathInput | bytes | x509.Certificate
#: a CRL input: a file, its contents (PEM or DER), or a parsed CRL
CrlInput = PathInput | bytes | x509.CertificateRevocationList
#: the root CA: a file, its contents, or parsed certificates
RootInput = PathInput | bytes | Sequence[x509.Certificate]
#: reads a whole file (tests inject one); OSError or InputError on failure
Reader = Callable[[str], bytes]


def _read(path: str, what: str, limit: int, read: Reader | None) -> bytes:
    """The file's bytes; :class:`InputError` "Cannot read <what> at `<path>`: ..." or
    "<what> `<path>` is larger than N bytes"."""
    if read is None:
        return read_input(path, what, limit)
    try:
        return read(path)
    except OSError as exc:
        raise InputError(f"Cannot read {what} at `{printable(path)}`: "
                         f"{exc.strerror or exc}") from None


def _load_error(exc: InputError, what: str, path: str, verb: str) -> InputError:
    """``Cannot load <verb> from <path>: <reason>`` from a read error of :func:`_read`."""
    prefix = f"Cannot read {what} at `{printable(path)}`: "
    text = str(exc)
    if text.startswith(prefix):
        return InputError(f"Cannot load {verb} from {printable(path)}: {text[len(prefix):]}")
    return exc


def _root_data(root_ca: RootInput, read: Reader | None) -> tuple[str, bytes | None,
                                                                 list[x509.Certificate]]:
    if isinstance(root_ca, bytes):
        return "<root CA>", root_ca, []
    if isinstance(root_ca, str | os.PathLike):
        path = os.fspath(root_ca)
        try:
            return path, _read(path, "root CA", MAX_CERTIFICATE_FILE, read), []
        except InputError as exc:
            raise _load_error(exc, "root CA", path, "certificate") from None
    return "<root CA>", None, list(root_ca)


def load_root_ca(root_ca: RootInput, read: Reader | None = None) -> AnchorList:
    """The root CA: PEM (every certificate, plus CRLs) or one DER certificate."""
    label, data, given = _root_data(root_ca, read)
    shown = printable(label)
    if data is None:
        try:
            certs = [check_certificate(cert) for cert in given]
        except ValueError as exc:
            raise InputError(f"Cannot load certificate from {shown}: {exc}") from None
        crls: list[x509.CertificateRevocationList] = []
    else:
        found = parse_pem(data)
        certs, crls = found.certificates, found.crls
        if not certs:
            try:
                certs = parse_certificates(data)
            except ValueError as exc:
                raise InputError(f"Cannot load certificate from {shown}: {exc}") from None
    if not certs:
        raise InputError(f"Cannot load certificate from {shown}: no certificate in PEM or DER")
    return AnchorList([SourcedCert(c, label) for c in certs],
                      [SourcedCrl(c, label) for c in crls],
                      description=f"the root CA {shown}")


def load_crl_file(crl: CrlInput, read: Reader | None = None, label: str = "<CRL>",
                  ) -> list[SourcedCrl]:
    """A CRL input: one DER CRL or every PEM CRL; none at all is an error."""
    if isinstance(crl, x509.CertificateRevocationList):
        try:
            return [SourcedCrl(check_crl(crl), label)]
        except ValueError as exc:
            raise InputError(f"Cannot load CRL from {printable(label)}: {exc}") from None
    if isinstance(crl, bytes):
        data = crl
    else:
        label = os.fspath(crl)
        try:
            data = _read(label, "CRL", MAX_CRL_FILE, read)
        except InputError as exc:
            raise _load_error(exc, "CRL", label, "CRL") from None
    try:
        crls = parse_crls(data)
    except ValueError as exc:
        raise InputError(f"Cannot load CRL from {printable(label)}: {exc}") from None
    if not crls:
        raise InputError(f"Cannot load CRL from {printable(label)}: no CRL in PEM or DER")
    return [SourcedCrl(crl, label) for crl in crls]


def load_trust_inputs(certificates: Sequence[CertificateInput], crls: Sequence[CrlInput],
                      root_ca: RootInput | None, *, read: Reader | None = None,
                      system_anchors: Callable[[], TrustAnchors] | None = None) -> TrustInputs:
    """Every certificate, CRL and the root CA; the system trust store if ``root_ca`` is None.

    Bytes and parsed objects are named ``<certificate N>``, ``<CRL N>``, ``<root CA>``
    in messages.
    """
    if root_ca is not None:
        anchors: TrustAnchors = load_root_ca(root_ca, read)
    else:
        if system_anchors is None:
            from .system import SystemTrustStore

            system_anchors = SystemTrustStore.from_environment
        anchors = system_anchors()
    found_crls: list[SourcedCrl] = []
    for number, crl in enumerate(crls, start=1):
        found_crls += load_crl_file(crl, read, f"<CRL {number}>")
    labels: list[str] = []
    cert_data: dict[int, bytes] = {}
    for index, item in enumerate(certificates):
        if isinstance(item, x509.Certificate):
            labels.append(f"<certificate {index + 1}>")
            continue
        if isinstance(item, bytes):
            labels.append(f"<certificate {index + 1}>")
            cert_data[index] = item
        else:
            labels.append(os.fspath(item))
            try:
                cert_data[index] = _read(labels[-1], "certificate", MAX_CERTIFICATE_FILE, read)
            except InputError:
                continue  # reported below, after the CRLs of the other files
        try:  # a CRL (PEM or DER) in a certificate file is used; a broken one is ignored
            found = parse_crls(cert_data[index])
        except ValueError:
            found = parse_pem(cert_data[index]).crls
        found_crls += [SourcedCrl(crl, labels[-1]) for crl in found]
    result: list[SourcedCert] = []
    empty: list[str] = []
    for index, item in enumerate(certificates):
        label = labels[index]
        if isinstance(item, x509.Certificate):
            try:
                result.append(SourcedCert(check_certificate(item), label))
            except ValueError as exc:
                raise InputError(f"Cannot load certificate from {label}: {exc}") from None
            continue
        if index not in cert_data:  # the error of the first attempt, now in order
            cert_data[index] = _read(label, "certificate", MAX_CERTIFICATE_FILE, read)
        try:
            certs = parse_certificates(cert_data[index])
        except ValueError as exc:
            raise InputError(f"Cannot load certificate from {printable(label)}: {exc}") from None
        if not certs:
            log.info("The certificate file '%s' holds no certificate", printable(label))
            empty.append(label)
        result += [SourcedCert(cert, label) for cert in certs]
    return TrustInputs(result, found_crls, anchors, empty)
