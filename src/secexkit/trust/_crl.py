"""CRL pool and CRL validity rules (for the chain and for host-key documents).
Pure functions, no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence

from cryptography import x509

from ._names import CanonicalName, canonical_name
from ._x509 import (
    MIN_SECURITY_BITS,
    SourcedCert,
    SourcedCrl,
    akid_matches,
    akid_of,
    extension,
    fmt_time,
    has_entry_issuers,
    is_ca,
    key_usage,
    signature_name,
    signature_security_bits,
    signed_by,
    unhandled_critical,
)

# OpenSSL verify codes used for CRL problems (X509_V_ERR_*).
CRL_SIGNATURE_FAILURE = 8
CRL_NOT_YET_VALID = 11
CRL_HAS_EXPIRED = 12
KEYUSAGE_NO_CRL_SIGN = 35
UNHANDLED_CRITICAL_CRL_EXTENSION = 36
UNABLE_TO_GET_CRL = 3


class CrlPool:
    """All CRLs known to a verification (files, trust store, downloads), by issuer name."""

    def __init__(self, crls: Iterable[SourcedCrl] = ()) -> None:
        self._all: list[SourcedCrl] = []
        self._by_issuer: dict[CanonicalName, list[SourcedCrl]] = {}
        self._seen: set[bytes] = set()  # DER of every CRL: duplicates found in O(1)
        for crl in crls:
            self.add(crl)

    def add(self, crl: SourcedCrl) -> None:
        """Add ``crl`` unless the same CRL (same DER) is already known."""
        key = crl.der
        if key in self._seen:
            return
        self._seen.add(key)
        self._all.append(crl)
        self._by_issuer.setdefault(canonical_name(crl.crl.issuer), []).append(crl)

    def by_issuer(self, name: x509.Name) -> list[SourcedCrl]:
        """The CRLs whose issuer is ``name`` (canonical comparison), in the order added."""
        return list(self._by_issuer.get(canonical_name(name), ()))

    def __iter__(self) -> Iterator[SourcedCrl]:
        return iter(self._all)

    def __len__(self) -> int:
        return len(self._all)


def merge_crls(first: Sequence[SourcedCrl], extra: Sequence[SourcedCrl]) -> list[SourcedCrl]:
    """``first`` followed by the CRLs of ``extra`` not in it (linear, by DER)."""
    seen = {crl.der for crl in first}
    merged = list(first)
    for crl in extra:
        if crl.der not in seen:
            seen.add(crl.der)
            merged.append(crl)
    return merged


def entries_problem(crl: x509.CertificateRevocationList) -> str | None:
    """Malformed revocation entries make the whole CRL unusable (checked once, up front)."""
    try:
        crl.get_revoked_certificate_by_serial_number(0)  # walks every entry
    except ValueError as exc:
        return f"has malformed revocation entries ({exc})"
    return None


def crl_time_problem(crl: x509.CertificateRevocationList, now: dt.datetime,
                     *, require_next_update: bool) -> tuple[int, str] | None:
    last = crl.last_update_utc
    following = crl.next_update_utc
    if now < last:
        return CRL_NOT_YET_VALID, f"is not valid before {fmt_time(last)}"
    if following is None:
        return (CRL_HAS_EXPIRED, "has no next-update time") if require_next_update else None
    if now >= following:
        return CRL_HAS_EXPIRED, f"expired on {fmt_time(following)}"
    return None


def _scope_problem(crl: x509.CertificateRevocationList, subject: x509.Certificate,
                   *, match_point: bool) -> str | None:
    """Why ``crl`` is not a complete CRL covering ``subject``; None if it is.

    Fails closed on what we do not evaluate: unhandled critical extensions (of the CRL
    or of an entry), delta CRLs, indirect CRLs (also entries naming another issuer),
    reason-partitioned and attribute-certificate CRLs.  With ``match_point`` a CRL whose
    issuing distribution point names a distribution point must share a name with one
    of ``subject``'s CRL distribution points (OpenSSL's crl_crldp_check).
    Raises ValueError on malformed extensions.
    """
    critical = unhandled_critical(crl)
    if critical:
        return f"has unhandled critical extension {critical[0]}"
    if extension(crl, x509.DeltaCRLIndicator) is not None:
        return "is a delta CRL"
    if has_entry_issuers(crl):
        return "is an indirect CRL (entries name other certificate issuers)"
    idp = extension(crl, x509.IssuingDistributionPoint)
    if idp is None:
        return None
    scope = idp.value
    if scope.indirect_crl or scope.only_some_reasons or scope.only_contains_attribute_certs:
        return "is an indirect or partial CRL"
    if scope.only_contains_user_certs and is_ca(subject):
        return "covers only end-entity certificates"
    if scope.only_contains_ca_certs and not is_ca(subject):
        return "covers only CA certificates"
    if match_point and not _point_matches(scope, subject):
        return "covers another distribution point than the certificate's"
    return None


def _point_matches(scope: x509.IssuingDistributionPoint, subject: x509.Certificate) -> bool:
    if scope.relative_name is not None:
        return False  # not evaluated: fail closed
    if scope.full_name is None:
        return True
    points = extension(subject, x509.CRLDistributionPoints)
    if points is None:
        return False
    wanted = set(scope.full_name)
    return any(point.full_name and wanted.intersection(point.full_name)
               for point in points.value)


def _weak_signature(crl: x509.CertificateRevocationList) -> str | None:
    bits = signature_security_bits(crl)
    if bits < MIN_SECURITY_BITS:
        return (f"is signed with {signature_name(crl)} ({bits} bits of security, "
                f"{MIN_SECURITY_BITS} required)")
    return None


def chain_crl_problem(crl: SourcedCrl, subject: x509.Certificate, issuer: SourcedCert,
                      now: dt.datetime, *, match_point: bool = True) -> tuple[int, str] | None:
    """Why ``crl`` cannot tell whether ``subject`` (issued by ``issuer``) is revoked; None if it can.

    The CRL must be complete and in scope for ``subject`` (see :func:`_scope_problem`;
    ``match_point=False`` skips the distribution-point name, for the trust anchor itself),
    signed by the issuer's key (AKID consistent) with a digest of at least 112 bits,
    the issuer must be allowed to sign CRLs, and ``now`` inside its validity window.
    """
    value = crl.crl
    try:
        scope = _scope_problem(value, subject, match_point=match_point)
        akid = akid_of(value)
    except ValueError as exc:
        return UNABLE_TO_GET_CRL, f"has malformed extensions ({exc})"
    if scope is not None:
        code = UNHANDLED_CRITICAL_CRL_EXTENSION if "critical" in scope else UNABLE_TO_GET_CRL
        return code, scope
    if not akid_matches(akid, issuer.cert):
        return CRL_SIGNATURE_FAILURE, f"was not issued by the key of {issuer.label} (key identifier)"
    usage = key_usage(issuer.cert)
    if usage is not None and not usage.crl_sign:
        return KEYUSAGE_NO_CRL_SIGN, f"is signed by {issuer.label}, whose key usage lacks cRLSign"
    weak = _weak_signature(value)
    if weak is not None:
        return CRL_SIGNATURE_FAILURE, weak
    if not signed_by(value, issuer.cert):
        return CRL_SIGNATURE_FAILURE, f"has a signature that does not verify with {issuer.label}"
    entries = entries_problem(value)
    if entries is not None:
        return UNABLE_TO_GET_CRL, entries
    return crl_time_problem(value, now, require_next_update=False)


def hkd_crl_problem(crl: SourcedCrl, signing_key: x509.Certificate, now: dt.datetime,
                    document: x509.Certificate | None = None) -> str | None:
    """The reference's rules for a CRL of host-key documents: next update present,
    inside its window, AKID consistent with the signing key, signature by it.

    Stricter than the reference (ADR 0015): the CRL must also be complete for
    ``document`` (no delta, indirect or partitioned CRL, no unhandled critical
    extension; the distribution-point name is not compared) and signed with a digest
    of at least 112 bits.
    """
    value = crl.crl
    problem = crl_time_problem(value, now, require_next_update=True)
    if problem is not None:
        return problem[1]
    try:
        akid = akid_of(value)
        scope = None if document is None else _scope_problem(value, document, match_point=False)
    except ValueError as exc:
        return f"has malformed extensions ({exc})"
    if not akid_matches(akid, signing_key):
        return "was not issued by the IBM Z signing key (authority key identifier mismatch)"
    if scope is not None:
        return scope
    weak = _weak_signature(value)
    if weak is not None:
        return weak
    if not signed_by(value, signing_key):
        return "has a signature that does not verify with the IBM Z signing key"
    return entries_problem(value)


def revocation_of(serial: int, crls: Sequence[SourcedCrl],
                  ) -> tuple[SourcedCrl, x509.RevokedCertificate] | None:
    for crl in crls:
        if serial >= 0:
            entry = crl.crl.get_revoked_certificate_by_serial_number(serial)
        else:  # RFC 5280 forbids it, old certificates have it; the lookup API refuses it
            entry = next((e for e in crl.crl if e.serial_number == serial), None)
        if entry is not None:
            return crl, entry
    return None
