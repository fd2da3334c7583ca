"""Host-key document verification: establish trust in the IBM Z signing key once,
then check each host-key document (HKD) in the reference's order.

Everything here is a pure function of (documents, certificates, CRLs, trust
anchors, time); CRL downloads go through the injected :class:`CrlFetcher`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec

from ..errors import InputError
from ._chain import ChainFailure, TrustAnchors, validate_chain
from ._crl import CrlPool, hkd_crl_problem, revocation_of
from ._errors import TrustError
from ._load import check_certificate, parse_crls, quiet_parsing
from ._names import describe_name, is_ibm_signing_subject, signing_key_crl_issuers
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
)
from .fetch import CrlFetcher, FetchError

log = logging.getLogger(__name__)

PREFIX = "Host-key verification failed"


class TrustInputs:
    """What the user gave: ``--cert`` certificates, CRLs (``--crl``, and those inside
    certificate / root files) and the trust anchors (``--root-ca`` or the system)."""

    __slots__ = ("anchors", "certificates", "crls", "empty_files")

    def __init__(self, certificates: list[SourcedCert], crls: list[SourcedCrl],
                 anchors: TrustAnchors, empty_files: Sequence[str] = ()) -> None:
        self.certificates = certificates
        self.crls = crls
        self.anchors = anchors
        #: ``--cert`` files that hold no certificate (accepted, as by the reference)
        self.empty_files = list(empty_files)


class CrlDownloads:
    """First-CRL-per-certificate downloads through a fetcher, each URI fetched once."""

    def __init__(self, fetcher: CrlFetcher) -> None:
        self.fetcher = fetcher
        self.failures: dict[str, str] = {}
        self._done: dict[str, list[SourcedCrl]] = {}

    def first_for(self, cert: x509.Certificate) -> list[SourcedCrl]:
        """The CRLs from the first distribution-point URI that yields at least one."""
        for uri in distribution_points(cert):
            if uri in self._done:
                return self._done[uri]
            if uri in self.failures:
                continue
            try:
                body = self.fetcher.fetch(uri)
                crls = parse_crls(body)
            except FetchError as exc:
                self.failures[uri] = str(exc)
            except ValueError as exc:
                self.failures[uri] = f"the response is not a CRL ({exc})"
            else:
                if crls:
                    found = [SourcedCrl(crl, uri) for crl in crls]
                    self._done[uri] = found
                    log.debug("Downloaded %d CRL(s) from %s", len(found), uri)
                    return found
                self.failures[uri] = "the response holds no CRL (neither DER nor PEM)"
            log.info("CRL download from %s failed: %s", uri, self.failures[uri])
        return []

    def notes_for(self, uris: Sequence[str]) -> list[str]:
        return [f"{uri}: {self.failures[uri]}" for uri in uris if uri in self.failures]


def select_signing_key(certs: Sequence[SourcedCert], empty_files: Sequence[str] = (),
                       ) -> tuple[SourcedCert, list[SourcedCert]]:
    """Exactly one certificate must be an IBM Z signing key; the others are intermediates.

    ``empty_files`` (``--cert`` files without any certificate) are named in the error.
    """
    signing = [c for c in certs if is_ibm_signing_subject(c.cert.subject)]
    if not signing:
        given = ", ".join(c.label for c in certs) or "none"
        empty = ""
        if empty_files:
            empty = ("; these --cert files hold no certificate: "
                     + ", ".join(f"'{path}'" for path in empty_files))
        raise TrustError(
            f"{PREFIX}: Specify one IBM Z signing key (none of the --cert certificates is an "
            f"IBM Z signing-key certificate{empty}); add it with --cert",
            f"given certificates: {given}",
            "an IBM Z signing-key subject has C=US, ST=New York, L=Poughkeepsie or Armonk, "
            "O and CN 'International Business Machines Corporation' and an OU ending in "
            "'Key Signing Service'",
            check="no-signing-key", reason="Specify one IBM Z signing key")
    if len(signing) > 1:
        raise TrustError(
            f"{PREFIX}: Specify only one IBM Z signing key (found {len(signing)}: "
            + ", ".join(c.label for c in signing) + ")",
            check="many-signing-keys", reason="Specify only one IBM Z signing key")
    return signing[0], [c for c in certs if c is not signing[0]]


def _chain_hint(failure: ChainFailure, offline: bool, downloads: CrlDownloads | None,
                anchors: TrustAnchors) -> tuple[str, list[str]]:
    kind = failure.kind
    details = list(failure.details)
    if kind == "no-issuer":
        if failure.level == 0:
            return "give the intermediate CA certificate with --cert", details
        return "give the root CA that issued it with --root-ca", details
    if kind == "wrong-issuer":
        return "give the CA certificate that really issued it with --cert", details
    if kind in ("no-crl", "crl-invalid"):
        issuer = describe_name(failure.cert.cert.issuer)
        uris = distribution_points(failure.cert.cert)
        if downloads is not None:
            details += [f"download {note}" for note in downloads.notes_for(uris)]
        stale = kind == "crl-invalid" and "expired" in failure.reason
        what = "a current CRL" if stale else "the CRL"
        if offline:
            where = f" (from {', '.join(uris)})" if uris else ""
            return (f"give {what} of '{issuer}'{where} with --crl, or drop --offline to "
                    "download it"), details
        if uris:
            return (f"downloading it from {', '.join(uris)} did not give a valid CRL; "
                    f"give {what} of '{issuer}' with --crl"), details
        return f"give {what} of '{issuer}' with --crl", details
    if kind == "revoked":
        return "this certificate must not be used; get a current one", details
    if kind == "expired":
        return "get a current certificate (or check the system clock)", details
    if kind == "not-yet-valid":
        return "check the system clock", details
    if kind == "untrusted-root":
        return "give the trusted root CA with --root-ca", details
    return "the certificate chain does not meet the requirements", details


def _is_p521(document: x509.Certificate) -> bool:
    try:
        key = document.public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP521R1)


class HostKeyVerifier:
    """Checks host-key documents against an already verified IBM Z signing key."""

    def __init__(self, signing_key: SourcedCert, chain: list[SourcedCert], crls: CrlPool,  # noqa: PLR0917
                 anchors: TrustAnchors, downloads: CrlDownloads | None,
                 now: dt.datetime) -> None:
        self.signing_key = signing_key
        self.chain = chain
        self.crls = crls
        self.anchors = anchors
        self.downloads = downloads
        self.now = aware_utc(now)

    def _fail(self, source: str, check: str, reason: str, extra: str, hint: str,
              *details: str) -> TrustError:
        return TrustError(f"{PREFIX} for '{source}': {reason}{extra}; {hint}", *details,
                          check=check, reason=reason, document=source)

    def local_crls(self) -> list[SourcedCrl]:
        """Stored CRLs of the signing key: first issuer-name variant that has any."""
        for name in signing_key_crl_issuers(self.signing_key.cert.subject):
            found = self.crls.by_issuer(name)
            for extra in self.anchors.crls(name):
                if all(extra.crl != c.crl for c in found):
                    found.append(extra)
            if found:
                return found
        return []

    def verify(self, document: x509.Certificate, source: str) -> None:
        """Raise :class:`TrustError` unless the document can be trusted."""
        with quiet_parsing():
            self._verify(document, source)

    def _verify(self, document: x509.Certificate, source: str) -> None:
        try:
            check_certificate(document)
        except ValueError as exc:
            raise InputError(f"The provided Host Key Document in '{source}' is not a valid "
                             f"certificate: {exc}") from None
        signing = self.signing_key.cert
        signer = f"'{describe_name(signing.subject)}' ({self.signing_key.source})"
        bits = certificate_key_bits(document)
        if bits < MIN_SECURITY_BITS:
            raise self._fail(source, "security-bits",
                             f"Not enough bits of security. ({bits}, {MIN_SECURITY_BITS} expected)",
                             "", "this is not a valid IBM Z host-key document")
        start, end = document.not_valid_before_utc, document.not_valid_after_utc
        if self.now < start:
            raise self._fail(source, "before-validity", "Before validity period",
                             f" (valid from {fmt_time(start)})",
                             "check the system clock or use a current host-key document")
        if self.now >= end:
            raise self._fail(source, "after-validity", "After validity period",
                             f" (expired on {fmt_time(end)})",
                             "get a current host-key document for this machine")
        try:
            akid = akid_of(document)
        except ValueError as exc:
            raise self._fail(source, "akid", "Authority Key Id mismatch",
                             f" (malformed extensions: {exc})",
                             "this is not a valid IBM Z host-key document") from None
        if not akid_matches(akid, signing):
            raise self._fail(source, "akid", "Authority Key Id mismatch",
                             f" (not issued by the IBM Z signing key {signer})",
                             "give the signing-key certificate that issued it with --cert")
        if not signed_by(document, signing):
            raise self._fail(source, "signature", "Signature verification failed",
                             f" (not signed by the IBM Z signing key {signer})",
                             "the document is damaged, forged or from another signing key")
        digest_bits = signature_security_bits(document)
        if digest_bits < MIN_SECURITY_BITS:  # stricter than the reference (ADR 0015)
            raise self._fail(source, "signature", "Signature verification failed",
                             f" (signed with {signature_name(document)}: {digest_bits} bits of "
                             f"security, {MIN_SECURITY_BITS} required)",
                             "this is not a valid IBM Z host-key document")
        candidates = self.local_crls()
        uris = distribution_points(document)
        if self.downloads is not None:
            candidates += self.downloads.first_for(document)
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
            if self.downloads is None:
                hint = f"give {what} of the IBM Z signing key with --crl, or drop --offline"
            elif uris:
                hint = (f"downloading it from {', '.join(uris)} failed; give {what} of the "
                        "IBM Z signing key with --crl")
            else:
                hint = f"give {what} of the IBM Z signing key with --crl"
            if len(rejected) > 1:
                first_problem += f" (and {len(rejected) - 1} more, see -v)"
            raise self._fail(source, "no-crl", "No valid CRL found",
                             f" for the IBM Z signing key {signer}{first_problem}", hint,
                             *rejected, *notes)
        revoked = revocation_of(document.serial_number, valid)
        if revoked is not None:
            crl, entry = revoked
            raise self._fail(source, "revoked", "Host-key document is revoked.",
                             f" (since {fmt_time(entry.revocation_date_utc)}, {crl.label})",
                             "do not use it; get a current host-key document for this machine")
        if not _is_p521(document):  # stricter than the reference (ADR 0015)
            raise self._fail(source, "key-type", "Host-key document has no EC secp521r1 key",
                             "", "this is not a valid IBM Z host-key document")
        log.debug("Host-key document '%s' verified", source)


def establish_trust(inputs: TrustInputs, *, fetcher: CrlFetcher | None,
                    now: dt.datetime) -> HostKeyVerifier:
    """Pick the IBM Z signing key and validate its chain; ``fetcher=None`` means offline.

    ``now`` must be timezone-aware (ValueError otherwise).
    """
    with quiet_parsing():
        return _establish_trust(inputs, fetcher, now)


def _establish_trust(inputs: TrustInputs, fetcher: CrlFetcher | None,
                     now: dt.datetime) -> HostKeyVerifier:
    now = aware_utc(now)
    pool = CrlPool(inputs.crls)
    downloads = None if fetcher is None else CrlDownloads(fetcher)
    if downloads is not None:
        for cert in inputs.certificates:
            for crl in downloads.first_for(cert.cert):
                pool.add(crl)
    signing, untrusted = select_signing_key(inputs.certificates, inputs.empty_files)
    try:
        chain = validate_chain(signing, untrusted, inputs.anchors, pool, now)
    except ChainFailure as failure:
        log.debug("Failed to verify the signing key with the chain of trust: %s", failure)
        hint, details = _chain_hint(failure, downloads is None, downloads, inputs.anchors)
        reason = ("The IBM Z signing key could not be verified. Error occurred at level "
                  f"{failure.level}")
        chain_text = " <- ".join(link.label for link in failure.chain)
        if chain_text:
            details.append(f"chain: {chain_text}")
        if failure.code is not None:
            details.append(f"OpenSSL-equivalent verify code: {failure.code}")
        raise TrustError(f"{PREFIX}: {reason}: {failure.reason}; {hint}", *details,
                         check="chain", reason=reason, level=failure.level,
                         code=failure.code) from None
    log.debug("IBM Z signing key verified: %s", " <- ".join(link.label for link in chain))
    return HostKeyVerifier(signing, chain, pool, inputs.anchors, downloads, now)
