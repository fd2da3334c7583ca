"""Host-key document verification: establish trust in the IBM Z signing key once,
then check each host-key document (HKD) in the reference's order.

Network before a pure verifier (ADR 0041): the chain is built from the given
certificates and the trust anchors (no CRL needed), the distribution points of the
chain's certificates and of the documents are planned, downloaded through a
:class:`~secexkit.trust.fetch.CrlFetcher` within one :class:`DownloadBudget`, and only
then are the chain and the documents checked, without I/O.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec

from ..errors import FetchError, InputError
from ._chain import ChainFailure, TrustAnchors, build_chain, check_chain
from ._crl import CrlPool, hkd_crl_problem, merge_crls, revocation_of
from ._errors import Check, Parts, Term, TrustError
from ._load import check_certificate, parse_crls, quiet_parsing
from ._names import describe_name, is_ibm_signing_subject, signing_key_crl_issuers
from ._text import printable
from ._x509 import (
    MIN_SECURITY_BITS,
    SourcedCert,
    SourcedCrl,
    akid_matches,
    akid_of,
    aware_utc,
    certificate_key_bits,
    distribution_points,
    fmt_time,
    signature_name,
    signature_security_bits,
    signed_by,
    unhandled_critical,
)
from .fetch import CrlFetcher, DownloadBudget, FetchLimits

log = logging.getLogger(__name__)

PREFIX = "Host-key verification failed"


class TrustInputs:
    """What the user gave: certificates, CRLs (given, and those inside certificate /
    root files) and the trust anchors (a root CA or the system's)."""

    __slots__ = ("anchors", "certificates", "crls", "empty_files")

    def __init__(self, certificates: list[SourcedCert], crls: list[SourcedCrl],
                 anchors: TrustAnchors, empty_files: Sequence[str] = ()) -> None:
        self.certificates = certificates
        self.crls = crls
        self.anchors = anchors
        #: certificate files that hold no certificate (accepted, as by the reference)
        self.empty_files = list(empty_files)


def _uris(uris: Sequence[str]) -> str:
    return ", ".join(printable(uri) for uri in uris)


class CrlDownloads:
    """The download step: first-CRL-per-certificate downloads through a fetcher, each URI
    fetched once, all of them within one :class:`DownloadBudget`.

    ``limits`` (default: the fetcher's) sets the per-URI timeout, the byte cap and the
    budget of the run.  Results are kept, so the checks after it need no I/O.
    """

    def __init__(self, fetcher: CrlFetcher, limits: FetchLimits | None = None) -> None:
        if not isinstance(fetcher, CrlFetcher):
            raise TypeError("a fetcher must be a secexkit.trust.CrlFetcher (subclass it and "
                            "implement transfer())")
        self.fetcher = fetcher
        self.limits = limits if limits is not None else fetcher.limits
        self.budget = DownloadBudget(self.limits.budget)
        self.failures: dict[str, str] = {}
        self._done: dict[str, list[SourcedCrl]] = {}

    def first_for(self, cert: x509.Certificate, *, fetch: bool = True) -> list[SourcedCrl]:
        """The CRLs from the first distribution-point URI that yields at least one
        (``fetch=False``: only what was downloaded already; no I/O)."""
        for uri in distribution_points(cert):
            if uri in self._done:
                return self._done[uri]
            if uri in self.failures or not fetch:
                continue
            try:
                # the base class's fetch, whatever the fetcher's class does
                body = CrlFetcher.fetch(self.fetcher, uri, limits=self.limits,
                                        budget=self.budget)
                crls = parse_crls(body)
            except FetchError as exc:
                self.failures[uri] = str(exc)
            except ValueError as exc:
                self.failures[uri] = f"the response is not a CRL ({exc})"
            else:
                if crls:
                    found = [SourcedCrl(crl, uri) for crl in crls]
                    self._done[uri] = found
                    log.debug("Downloaded %d CRL(s) from %s", len(found), printable(uri))
                    return found
                self.failures[uri] = "the response holds no CRL (neither DER nor PEM)"
            log.info("CRL download from %s failed: %s", printable(uri), self.failures[uri])
        return []

    def download(self, certs: Iterable[x509.Certificate]) -> None:
        """Download the CRLs of every certificate (a plan from :func:`plan_downloads`)."""
        for cert in certs:
            self.first_for(cert)

    def downloaded(self) -> list[SourcedCrl]:
        """Every CRL downloaded so far, in download order."""
        return [crl for found in self._done.values() for crl in found]

    def notes_for(self, uris: Sequence[str]) -> list[str]:
        """One line per URI of ``uris`` whose download failed."""
        return [f"{printable(uri)}: {self.failures[uri]}" for uri in uris if uri in self.failures]


def plan_downloads(chain: Sequence[SourcedCert],
                   documents: Iterable[x509.Certificate] = ()) -> list[x509.Certificate]:
    """The planning step: the certificates whose CRLs are needed, in download order.

    The chain's certificates except its trust anchor (only those: not every given
    certificate, ADR 0043), then the host-key documents.
    """
    return [link.cert for link in chain[:-1]] + list(documents)


def select_signing_key(certs: Sequence[SourcedCert], empty_files: Sequence[str] = (),
                       ) -> tuple[SourcedCert, list[SourcedCert]]:
    """Exactly one certificate must be an IBM Z signing key; the others are intermediates.

    ``empty_files`` (certificate files without any certificate) are named in the error.
    """
    signing = [c for c in certs if is_ibm_signing_subject(c.cert.subject)]
    if not signing:
        given = ", ".join(c.label for c in certs) or "none"
        empty: Parts = []
        if empty_files:
            empty = ["; these ", Term.CERTIFICATE_INPUTS, " hold no certificate: ",
                     ", ".join(f"'{printable(path)}'" for path in empty_files)]
        raise TrustError(
            [f"{PREFIX}: Specify one IBM Z signing key (none of the certificates is an "
             "IBM Z signing-key certificate", *empty, "); add it ", Term.CERTIFICATES],
            f"given certificates: {given}",
            "an IBM Z signing-key subject has C=US, ST=New York, L=Poughkeepsie or Armonk, "
            "O and CN 'International Business Machines Corporation' and an OU ending in "
            "'Key Signing Service'",
            check=Check.NO_SIGNING_KEY, reason="Specify one IBM Z signing key")
    if len(signing) > 1:
        raise TrustError(
            f"{PREFIX}: Specify only one IBM Z signing key (found {len(signing)}: "
            + ", ".join(c.label for c in signing) + ")",
            check=Check.MANY_SIGNING_KEYS, reason="Specify only one IBM Z signing key")
    return signing[0], [c for c in certs if c is not signing[0]]


def _chain_hint(failure: ChainFailure, offline: bool, downloads: CrlDownloads | None,
                ) -> tuple[Parts, list[str]]:
    kind = failure.kind
    details = list(failure.details)
    if kind == "no-issuer":
        if failure.level == 0:
            return ["give the intermediate CA certificate ", Term.CERTIFICATES], details
        return ["give the root CA that issued it ", Term.ROOT_CA], details
    if kind == "wrong-issuer":
        return ["give the CA certificate that really issued it ", Term.CERTIFICATES], details
    if kind in ("no-crl", "crl-invalid"):
        issuer = describe_name(failure.cert.cert.issuer)
        uris = distribution_points(failure.cert.cert)
        if downloads is not None:
            details += [f"download {note}" for note in downloads.notes_for(uris)]
        stale = kind == "crl-invalid" and "expired" in failure.reason
        what = "a current CRL" if stale else "the CRL"
        if offline:
            where = f" (from {_uris(uris)})" if uris else ""
            return [f"give {what} of '{issuer}'{where} ", Term.CRLS, ", or ",
                    Term.ALLOW_DOWNLOADS, " to download it"], details
        if uris:
            return [f"downloading it from {_uris(uris)} did not give a valid CRL; "
                    f"give {what} of '{issuer}' ", Term.CRLS], details
        return [f"give {what} of '{issuer}' ", Term.CRLS], details
    if kind == "revoked":
        return ["this certificate must not be used; get a current one"], details
    if kind == "expired":
        return ["get a current certificate (or check the system clock)"], details
    if kind == "not-yet-valid":
        return ["check the system clock"], details
    if kind == "untrusted-root":
        return ["give the trusted root CA ", Term.ROOT_CA], details
    return ["the certificate chain does not meet the requirements"], details


def _is_p521(document: x509.Certificate) -> bool:
    try:
        key = document.public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP521R1)


class HostKeyVerifier:
    """Checks host-key documents against an already verified IBM Z signing key.

    :meth:`download_for` is the download step for documents; :meth:`check` is pure.
    :meth:`verify` does both for one document.
    """

    def __init__(self, signing_key: SourcedCert, chain: list[SourcedCert], crls: CrlPool,  # noqa: PLR0917
                 anchors: TrustAnchors, downloads: CrlDownloads | None,
                 now: dt.datetime) -> None:
        self.signing_key = signing_key
        self.chain = chain
        self.crls = crls
        self.anchors = anchors
        self.downloads = downloads
        self.now = aware_utc(now)

    def _fail(self, source: str, check: Check, reason: str, extra: str,
              hint: str | Parts, *details: str) -> TrustError:
        hint_parts: Parts = [hint] if isinstance(hint, str) else hint
        return TrustError([f"{PREFIX} for '{printable(source)}': {reason}{extra}; ",
                           *hint_parts], *details, check=check, reason=reason, document=source)

    def local_crls(self) -> list[SourcedCrl]:
        """Stored CRLs of the signing key: first issuer-name variant that has any."""
        for name in signing_key_crl_issuers(self.signing_key.cert.subject):
            found = merge_crls(self.crls.by_issuer(name), self.anchors.crls(name))
            if found:
                return found
        return []

    def download_for(self, documents: Iterable[x509.Certificate]) -> None:
        """The download step for ``documents`` (nothing when offline)."""
        if self.downloads is not None:
            self.downloads.download(documents)

    def verify(self, document: x509.Certificate, source: str) -> None:
        """Download the document's CRL if needed, then :meth:`check` it."""
        self.download_for([document])
        self.check(document, source)

    def check(self, document: x509.Certificate, source: str) -> None:
        """Raise :class:`TrustError` unless the document can be trusted (no I/O)."""
        with quiet_parsing():
            self._check(document, source)

    def _check(self, document: x509.Certificate, source: str) -> None:
        try:
            check_certificate(document)
        except ValueError as exc:
            raise InputError(f"The provided Host Key Document in '{printable(source)}' is not "
                             f"a valid certificate: {exc}") from None
        signing = self.signing_key.cert
        signer = f"'{describe_name(signing.subject)}' ({printable(self.signing_key.source)})"
        bits = certificate_key_bits(document)
        if bits < MIN_SECURITY_BITS:
            raise self._fail(source, Check.SECURITY_BITS,
                             f"Not enough bits of security. ({bits}, {MIN_SECURITY_BITS} expected)",
                             "", "this is not a valid IBM Z host-key document")
        start, end = document.not_valid_before_utc, document.not_valid_after_utc
        if self.now < start:
            raise self._fail(source, Check.BEFORE_VALIDITY, "Before validity period",
                             f" (valid from {fmt_time(start)})",
                             "check the system clock or use a current host-key document")
        if self.now >= end:
            raise self._fail(source, Check.AFTER_VALIDITY, "After validity period",
                             f" (expired on {fmt_time(end)})",
                             "get a current host-key document for this machine")
        try:
            akid = akid_of(document)
            critical = unhandled_critical(document)
        except ValueError as exc:
            raise self._fail(source, Check.AKID, "Authority Key Id mismatch",
                             f" (malformed extensions: {exc})",
                             "this is not a valid IBM Z host-key document") from None
        if not akid_matches(akid, signing):
            raise self._fail(source, Check.AKID, "Authority Key Id mismatch",
                             f" (not issued by the IBM Z signing key {signer})",
                             ["give the signing-key certificate that issued it ",
                              Term.CERTIFICATES])
        if not signed_by(document, signing):
            raise self._fail(source, Check.SIGNATURE, "Signature verification failed",
                             f" (not signed by the IBM Z signing key {signer})",
                             "the document is damaged, forged or from another signing key")
        digest_bits = signature_security_bits(document)
        if digest_bits < MIN_SECURITY_BITS:  # stricter than the reference (ADR 0015)
            raise self._fail(source, Check.SIGNATURE, "Signature verification failed",
                             f" (signed with {signature_name(document)}: {digest_bits} bits of "
                             f"security, {MIN_SECURITY_BITS} required)",
                             "this is not a valid IBM Z host-key document")
        if critical:  # stricter than the reference (ADR 0042): RFC 5280 4.2
            raise self._fail(source, Check.CRITICAL_EXTENSION,
                             "Host-key document has an unknown critical extension",
                             f" ({critical[0]})", "this is not a valid IBM Z host-key document")
        candidates = self.local_crls()
        uris = distribution_points(document)
        if self.downloads is not None:
            candidates += self.downloads.first_for(document, fetch=False)
        valid: list[SourcedCrl] = []
        rejected: list[str] = []
        first_problem = ""
        for crl in candidates:
            problem = hkd_crl_problem(crl, signing, self.now, document)
            if problem is None:
                valid.append(crl)
            else:
                rejected.append(f"ignored {crl.label}: it {problem}")
                first_problem = first_problem or f": the {crl.label} {problem}"
        if not valid:
            notes = [] if self.downloads is None else \
                [f"download {note}" for note in self.downloads.notes_for(uris)]
            stale = any("expired" in line for line in rejected)
            what = "a current CRL" if stale else "the CRL"
            hint: Parts
            if self.downloads is None:
                hint = [f"give {what} of the IBM Z signing key ", Term.CRLS, ", or ",
                        Term.ALLOW_DOWNLOADS]
            elif uris:
                hint = [f"downloading it from {_uris(uris)} failed; give {what} of the "
                        "IBM Z signing key ", Term.CRLS]
            else:
                hint = [f"give {what} of the IBM Z signing key ", Term.CRLS]
            more: Parts = []
            if len(rejected) > 1:
                more = [f" (and {len(rejected) - 1} more, ", Term.MORE_DETAILS, ")"]
            prefix = f"{PREFIX} for '{printable(source)}': No valid CRL found"
            raise TrustError([prefix, f" for the IBM Z signing key {signer}{first_problem}",
                              *more, "; ", *hint], *rejected, *notes, check=Check.NO_CRL,
                             reason="No valid CRL found", document=source)
        revoked = revocation_of(document.serial_number, valid)
        if revoked is not None:
            crl, entry = revoked
            raise self._fail(source, Check.REVOKED, "Host-key document is revoked.",
                             f" (since {fmt_time(entry.revocation_date_utc)}, {crl.label})",
                             "do not use it; get a current host-key document for this machine")
        if not _is_p521(document):  # stricter than the reference (ADR 0015)
            raise self._fail(source, Check.KEY_TYPE, "Host-key document has no EC secp521r1 key",
                             "", "this is not a valid IBM Z host-key document")
        log.debug("Host-key document '%s' verified", printable(source))


def establish_trust(inputs: TrustInputs, *, fetcher: CrlFetcher | None,
                    now: dt.datetime, limits: FetchLimits | None = None) -> HostKeyVerifier:
    """Pick the IBM Z signing key and validate its chain; ``fetcher=None`` means offline.

    Builds the chain, downloads the CRLs of its certificates (``limits``, default the
    fetcher's), then validates it without I/O.  ``now`` must be timezone-aware
    (ValueError otherwise).
    """
    with quiet_parsing():
        return _establish_trust(inputs, fetcher, now, limits)


def _establish_trust(inputs: TrustInputs, fetcher: CrlFetcher | None,
                     now: dt.datetime, limits: FetchLimits | None) -> HostKeyVerifier:
    now = aware_utc(now)
    pool = CrlPool(inputs.crls)
    downloads = None if fetcher is None else CrlDownloads(fetcher, limits)
    signing, untrusted = select_signing_key(inputs.certificates, inputs.empty_files)
    chain: list[SourcedCert] = []
    try:
        chain = build_chain(signing, untrusted, inputs.anchors, now)
        if downloads is not None:
            for cert in plan_downloads(chain):
                for crl in downloads.first_for(cert):
                    pool.add(crl)
        check_chain(chain, inputs.anchors, pool, now)
    except ChainFailure as failure:
        log.debug("Failed to verify the signing key with the chain of trust: %s", failure)
        hint, details = _chain_hint(failure, downloads is None, downloads)
        reason = ("The IBM Z signing key could not be verified. Error occurred at level "
                  f"{failure.level}")
        chain_text = " <- ".join(link.label for link in failure.chain)
        if chain_text:
            details.append(f"chain: {chain_text}")
        if failure.code is not None:
            details.append(f"OpenSSL-equivalent verify code: {failure.code}")
        raise TrustError([f"{PREFIX}: {reason}: {failure.reason}; ", *hint], *details,
                         check=Check.CHAIN, reason=reason, level=failure.level,
                         code=failure.code) from None
    log.debug("IBM Z signing key verified: %s", " <- ".join(link.label for link in chain))
    return HostKeyVerifier(signing, chain, pool, inputs.anchors, downloads, now)
