"""The verification API: host-key documents in, verified host keys out (ADR 0040).

Two calls, one per need:

* :func:`verify_host_key_documents` returns the verified :class:`~secexkit.HostKey`
  of every document, in order, and raises the first failure;
* :func:`check_host_key_documents` returns one :class:`DocumentResult` per document
  (for reports such as ``pvverify``); a failure of the trust set-up (no signing key,
  broken chain, unreadable certificate) still raises.

Both do all of it: read and parse the inputs (bounded), establish trust in the IBM Z
signing key, plan and download the CRLs (unless offline), check every document
without further I/O, and make sure that the host key our DER walker extracted is the
key of the certificate that was verified.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..errors import InputError, SecexError, UsageError
from ..fileio import MAX_CERTIFICATE_FILE, read_input
from ..hostkeys import HostKey, HostKeyDocument, parse_host_key_document
from ._chain import TrustAnchors
from ._load import quiet_parsing
from ._names import describe_name
from ._text import printable
from .fetch import CrlFetcher, FetchLimits, HttpCrlFetcher
from .sources import CertificateInput, CrlInput, PathInput, RootInput, load_trust_inputs
from .verifier import HostKeyVerifier, establish_trust

#: a host-key document: a file name, its contents (PEM or DER), or a parsed document
DocumentInput = HostKeyDocument | PathInput | bytes


class DocumentResult:
    """The verdict on one host-key document: its verified key, or why it was refused.

    ``source``: where the document came from (file name, or ``<document N>``);
    ``host_key``: the verified host key (None if refused); ``error``: why the document
    was refused (None if verified);

    ``not_after``: the end of the document's validity period (None if it could not be
    parsed).
    """

    __slots__ = ("error", "host_key", "not_after", "source")

    def __init__(self, source: str, host_key: HostKey | None = None,
                 error: SecexError | None = None, *,
                 not_after: dt.datetime | None = None) -> None:
        self.source = source
        self.host_key = host_key
        self.error = error
        self.not_after = not_after

    def __repr__(self) -> str:
        verdict = "ok" if self.error is None else f"error={self.error!r}"
        return f"DocumentResult({self.source!r}, {verdict})"

    @property
    def ok(self) -> bool:
        """Was the document verified?"""
        return self.error is None


@dataclass(frozen=True)
class CertificateDates:
    """A certificate of the chain of trust and the end of its validity.

    ``role``: ``"signing-key"`` (the IBM Z signing key), ``"intermediate"`` or
    ``"root"``; ``subject``: its subject (printable); ``source``: where it came from.
    """

    role: str
    subject: str
    source: str
    not_after: dt.datetime


@dataclass(frozen=True)
class CrlDates:
    """A CRL used by the verification and when its issuer promises the next one.

    ``next_update`` is None when the CRL names no next update.
    """

    issuer: str
    source: str
    next_update: dt.datetime | None


@dataclass(frozen=True)
class VerificationReport:
    """What :func:`host_key_verification_report` found: a verdict per document, and the
    dates to watch (certificates of the chain, CRLs), e.g. for monitoring expiry."""

    documents: list[DocumentResult]
    certificates: tuple[CertificateDates, ...]
    crls: tuple[CrlDates, ...]


def _chain_dates(verifier: HostKeyVerifier) -> tuple[CertificateDates, ...]:
    chain = verifier.chain or [verifier.signing_key]
    found = []
    for number, link in enumerate(chain):
        role = ("signing-key" if number == 0 else
                "root" if number == len(chain) - 1 and link.cert.issuer == link.cert.subject
                else "intermediate")
        found.append(CertificateDates(role, describe_name(link.cert.subject),
                                      printable(link.source), link.cert.not_valid_after_utc))
    return tuple(found)


def _crl_dates(verifier: HostKeyVerifier) -> tuple[CrlDates, ...]:
    crls = list(verifier.crls)
    if verifier.downloads is not None:
        crls += verifier.downloads.downloaded()
    seen: set[bytes] = set()
    found = []
    for crl in crls:
        if crl.der in seen:
            continue
        seen.add(crl.der)
        found.append(CrlDates(describe_name(crl.crl.issuer), printable(crl.source),
                              crl.crl.next_update_utc))
    return tuple(found)


def _same_key(key: HostKey, certificate: x509.Certificate) -> bool:
    def point(public_key: object) -> bytes:
        raw: bytes = public_key.public_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return raw

    try:
        return point(key.public_key) == point(certificate.public_key())
    except (ValueError, TypeError, AttributeError):
        return False


def verified_host_key(verifier: HostKeyVerifier, document: HostKeyDocument, *,
                      download: bool = True) -> HostKey:
    """Check ``document`` and return its host key, making sure it is the key of the
    certificate that was verified.  ``download=False``: no I/O at all (the download step
    for the document was done before)."""
    with quiet_parsing():  # e.g. a non-positive serial: cryptography warns while loading
        certificate = document.certificate
    if download:
        verifier.verify(certificate, document.source)
    else:
        verifier.check(certificate, document.source)
    key = document.host_key
    if not _same_key(key, certificate):
        raise InputError(f"The host-key document {printable(document.source)} is ambiguous: "
                         "its key differs between the certificate parsers")
    return key


def load_document(document: DocumentInput, number: int = 1) -> HostKeyDocument:
    """A :class:`HostKeyDocument` from a path (read bounded), bytes or itself."""
    if isinstance(document, HostKeyDocument):
        return document
    if isinstance(document, bytes):
        return parse_host_key_document(document, f"<document {number}>")
    path = os.fspath(document)
    data = read_input(path, "host-key document", MAX_CERTIFICATE_FILE)
    return parse_host_key_document(data, path)


def _source_of(document: DocumentInput, number: int) -> str:
    if isinstance(document, HostKeyDocument):
        return document.source
    if isinstance(document, bytes):
        return f"<document {number}>"
    return os.fspath(document)


def check_host_key_documents(
        documents: Sequence[DocumentInput], certificates: Sequence[CertificateInput],
        crls: Sequence[CrlInput] = (), root_ca: RootInput | None = None, *,
        offline: bool = False, fetcher: CrlFetcher | None = None,
        now: dt.datetime | None = None, limits: FetchLimits | None = None,
        system_anchors: Callable[[], TrustAnchors] | None = None) -> list[DocumentResult]:
    """Verify every host-key document; one :class:`DocumentResult` per document, in order.

    ``certificates``: the IBM Z signing-key certificate and intermediate CA
    certificates; ``crls``: CRLs (also taken from certificate files); ``root_ca``: the
    trusted root (default: the system trust store, ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``).
    Each input is a file name (read whole, bounded), its bytes (PEM or DER) or the parsed
    object.  Unless ``offline``, missing CRLs are downloaded from the distribution points
    of the chain's certificates and of the documents through ``fetcher`` (default an
    :class:`~secexkit.trust.HttpCrlFetcher`) within ``limits`` (default: the fetcher's,
    see :class:`~secexkit.trust.FetchLimits`).  ``now`` (timezone-aware, default the
    current UTC time) is the time of the verification.

    Raises :class:`~secexkit.trust.TrustError` when the IBM Z signing key cannot be
    trusted, :class:`~secexkit.errors.InputError` for unreadable trust inputs and
    :class:`~secexkit.errors.UsageError` for ``offline`` with a ``fetcher``.
    """
    return host_key_verification_report(
        documents, certificates, crls, root_ca, offline=offline, fetcher=fetcher, now=now,
        limits=limits, system_anchors=system_anchors).documents


def host_key_verification_report(
        documents: Sequence[DocumentInput], certificates: Sequence[CertificateInput],
        crls: Sequence[CrlInput] = (), root_ca: RootInput | None = None, *,
        offline: bool = False, fetcher: CrlFetcher | None = None,
        now: dt.datetime | None = None, limits: FetchLimits | None = None,
        system_anchors: Callable[[], TrustAnchors] | None = None) -> VerificationReport:
    """:func:`check_host_key_documents` plus the dates to monitor: the not-after of the
    chain's certificates and the next update of every CRL used (given or downloaded).

    Same arguments and errors as :func:`check_host_key_documents`.
    """
    if offline and fetcher is not None:
        raise UsageError("a fetcher cannot be used offline")
    now = dt.datetime.now(dt.UTC) if now is None else now
    if now.tzinfo is None or now.utcoffset() is None:
        raise UsageError("the verification time must be timezone-aware")
    inputs = load_trust_inputs(certificates, crls, root_ca, system_anchors=system_anchors)
    if not offline and fetcher is None:
        fetcher = HttpCrlFetcher(limits=limits)
    verifier = establish_trust(inputs, fetcher=None if offline else fetcher, now=now,
                               limits=limits)
    loaded: list[HostKeyDocument | SecexError] = []
    for number, item in enumerate(documents, start=1):
        try:
            loaded_document = load_document(item, number)
            with quiet_parsing():
                _ = loaded_document.certificate
            loaded.append(loaded_document)
        except SecexError as exc:
            loaded.append(exc)
    with quiet_parsing():  # the download step for all documents, before any check
        verifier.download_for([d.certificate for d in loaded if isinstance(d, HostKeyDocument)])
    results = []
    for number, (item, document) in enumerate(zip(documents, loaded, strict=True), start=1):
        source = _source_of(item, number)
        if isinstance(document, SecexError):
            results.append(DocumentResult(source, error=document))
            continue
        with quiet_parsing():
            not_after = document.certificate.not_valid_after_utc
        try:
            key = verified_host_key(verifier, document, download=False)
        except SecexError as exc:
            results.append(DocumentResult(source, error=exc, not_after=not_after))
        else:
            results.append(DocumentResult(source, host_key=key, not_after=not_after))
    return VerificationReport(results, _chain_dates(verifier), _crl_dates(verifier))


def verify_host_key_documents(
        documents: Sequence[DocumentInput], certificates: Sequence[CertificateInput],
        crls: Sequence[CrlInput] = (), root_ca: RootInput | None = None, *,
        offline: bool = False, fetcher: CrlFetcher | None = None,
        now: dt.datetime | None = None, limits: FetchLimits | None = None,
        system_anchors: Callable[[], TrustAnchors] | None = None) -> list[HostKey]:
    """The verified host key of every document, in order; the first failure is raised.

    The arguments are those of :func:`check_host_key_documents`.  Use the keys to build
    requests (e.g. ``AddSecretRequest(...).build(keys)``)::

        keys = verify_host_key_documents(["z16.crt"], ["ibm-z-signing.crt", "digicert-ca.crt"])
    """
    results = check_host_key_documents(documents, certificates, crls, root_ca, offline=offline,
                                       fetcher=fetcher, now=now, limits=limits,
                                       system_anchors=system_anchors)
    keys = []
    for result in results:
        if result.error is not None:
            raise result.error
        assert result.host_key is not None
        keys.append(result.host_key)
    return keys
