"""Path validation of the IBM Z signing-key certificate to a trusted root.

Mirrors what the reference asks of OpenSSL (X509_STRICT, CRL_CHECK + CRL_CHECK_ALL,
TRUSTED_FIRST, CHECK_SS_SIGNATURE, depth 2, security level 2, purpose ANY), in
OpenSSL's order: build the chain, check CA extensions and the strict profile,
security bits, revocation of every certificate, then signatures and validity from
the anchor down.  A failure names the depth (0 = the signing-key certificate) with
the OpenSSL verify code where one applies and a readable reason.
Pure functions: trusted certificates come through :class:`TrustAnchors`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Protocol

from cryptography import x509

from ..errors import VerificationError
from ._constraints import ConstraintViolation, check_name_constraints, check_policies
from ._crl import UNABLE_TO_GET_CRL, CrlPool, chain_crl_problem, merge_crls, revocation_of
from ._names import canonical_name, describe_name, names_equal
from ._x509 import (
    MIN_SECURITY_BITS,
    SourcedCert,
    SourcedCrl,
    akid_matches,
    akid_of,
    aware_utc,
    certificate_key_bits,
    extension,
    extensions_of,
    fmt_time,
    key_usage,
    self_issued,
    signature_name,
    signature_security_bits,
    signed_by,
    skid,
    unhandled_critical,
)

MAX_INTERMEDIATES = 2

# OpenSSL verify codes (X509_V_ERR_*), for reference and tests.
UNABLE_TO_GET_ISSUER_CERT = 2
CERT_SIGNATURE_FAILURE = 7
CERT_NOT_YET_VALID = 9
CERT_HAS_EXPIRED = 10
DEPTH_ZERO_SELF_SIGNED_CERT = 18
SELF_SIGNED_CERT_IN_CHAIN = 19
UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20
CERT_CHAIN_TOO_LONG = 22
CERT_REVOKED = 23
INVALID_CA = 24
PATH_LENGTH_EXCEEDED = 25
AKID_SKID_MISMATCH = 30
UNHANDLED_CRITICAL_EXTENSION = 34
APPLICATION_VERIFICATION = 50
EE_KEY_TOO_SMALL = 66
CA_KEY_TOO_SMALL = 67
CA_MD_TOO_WEAK = 68


class TrustAnchors(Protocol):
    """Trusted certificates (and CRLs that come with them), looked up by name."""

    description: str

    def issuers(self, name: x509.Name) -> Sequence[SourcedCert]:
        """Trusted certificates whose subject is ``name``."""
        ...

    def crls(self, issuer: x509.Name) -> Sequence[SourcedCrl]:
        """CRLs shipped with the trust store whose issuer is ``issuer``."""
        ...


class AnchorList:
    """Trust anchors held in memory (``--root-ca``)."""

    def __init__(self, certs: Sequence[SourcedCert], crls: Sequence[SourcedCrl] = (),
                 description: str = "the given root CA") -> None:
        """``description`` names the anchors in messages."""
        self.description = description
        self._certs = list(certs)
        self._crls = CrlPool(crls)

    def issuers(self, name: x509.Name) -> Sequence[SourcedCert]:
        """The root certificates whose subject is ``name``."""
        key = canonical_name(name)
        return [c for c in self._certs if canonical_name(c.cert.subject) == key]

    def crls(self, issuer: x509.Name) -> Sequence[SourcedCrl]:
        """CRLs that came with the roots, issued by ``issuer``."""
        return self._crls.by_issuer(issuer)


class ChainFailure(VerificationError):
    """The signing-key certificate did not verify; ``level`` is the failing depth.

    Internal to the trust package (turned into a :class:`TrustError` with a hint);
    a :class:`~secexkit.errors.VerificationError` so that nothing escapes the hierarchy.
    """

    def __init__(self, level: int, code: int | None, reason: str, kind: str, cert: SourcedCert,  # noqa: PLR0917
                 chain: list[SourcedCert] | None = None, crl_issuer: SourcedCert | None = None,
                 details: list[str] | None = None) -> None:
        super().__init__(f"level {level}: {reason}")
        self.level = level
        self.code = code
        self.reason = reason
        self.kind = kind
        self.cert = cert
        self.chain = list(chain or [])
        self.crl_issuer = crl_issuer
        self.details = tuple(details or ())


def _is_trusted(cert: x509.Certificate, anchors: TrustAnchors) -> bool:
    return any(a.cert == cert for a in anchors.issuers(cert.subject))


def _issued(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    """X509_check_issued-like: names, AKID, key usage of the issuer."""
    if not names_equal(child.issuer, issuer.subject):
        return False
    try:
        if not akid_matches(akid_of(child), issuer):
            return False
        usage = key_usage(issuer)
    except ValueError:
        return False
    return usage is None or usage.key_cert_sign


def _valid_now(cert: x509.Certificate, now: dt.datetime) -> bool:
    return cert.not_valid_before_utc <= now < cert.not_valid_after_utc


def _pick(child: x509.Certificate, candidates: Sequence[SourcedCert], chain: Sequence[SourcedCert],
          now: dt.datetime) -> SourcedCert | None:
    usable = [c for c in candidates
              if _issued(child, c.cert) and all(c.cert != link.cert for link in chain)]
    if len(usable) < 2:
        return usable[0] if usable else None
    for candidate in usable:  # prefer one that really signed it and is currently valid
        if signed_by(child, candidate.cert) and _valid_now(candidate.cert, now):
            return candidate
    return usable[0]


def build_chain(leaf: SourcedCert, untrusted: Sequence[SourcedCert], anchors: TrustAnchors,
                now: dt.datetime) -> list[SourcedCert]:
    """leaf, intermediates..., trust anchor (trusted certificates are tried first)."""
    chain = [leaf]
    while True:
        current = chain[-1]
        level = len(chain) - 1
        if len(chain) > 1 and self_issued(current.cert) and _is_trusted(current.cert, anchors):
            return chain
        if self_issued(current.cert) and signed_by(current.cert, current.cert):
            if _is_trusted(current.cert, anchors):
                return chain
            code = DEPTH_ZERO_SELF_SIGNED_CERT if level == 0 else SELF_SIGNED_CERT_IN_CHAIN
            raise ChainFailure(level, code,
                               f"{current.label} is self-signed but not a trusted root",
                               "untrusted-root", current, chain)
        if len(chain) > MAX_INTERMEDIATES + 1:
            raise ChainFailure(level, CERT_CHAIN_TOO_LONG,
                               f"the chain needs more than {MAX_INTERMEDIATES} intermediate "
                               "certificates", "too-long", current, chain)
        trusted = anchors.issuers(current.cert.issuer)
        found = _pick(current.cert, trusted, chain, now)
        if found is None:
            others = [c for c in untrusted if names_equal(c.cert.subject, current.cert.issuer)]
            found = _pick(current.cert, others, chain, now)
        if found is not None:
            chain.append(found)
            if self_issued(found.cert) and _is_trusted(found.cert, anchors):
                return chain
            continue
        issuer = describe_name(current.cert.issuer)
        same_name = [*trusted, *(c for c in untrusted
                                 if names_equal(c.cert.subject, current.cert.issuer))]
        if same_name:
            candidate = same_name[0]
            usage = None
            try:
                usage = key_usage(candidate.cert)
                akid_ok = akid_matches(akid_of(current.cert), candidate.cert)
            except ValueError:
                akid_ok = False
            if akid_ok and usage is not None and not usage.key_cert_sign:
                raise ChainFailure(
                    level, UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
                    f"the issuer of {current.label} was given as {candidate.label}, but its "
                    "key usage does not allow signing certificates (keyCertSign)",
                    "no-issuer", current, chain)
            raise ChainFailure(
                level, AKID_SKID_MISMATCH,
                f"the issuer '{issuer}' of {current.label} was given as "
                f"{candidate.label}, but that certificate has a different key "
                "(authority/subject key identifier mismatch)", "wrong-issuer", current, chain)
        raise ChainFailure(
            level, UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
            f"the issuer '{issuer}' of {current.label} is neither among the given "
            f"certificates nor in {anchors.description}", "no-issuer", current, chain)


def _check_extensions(chain: list[SourcedCert]) -> None:
    count = len(chain)
    below = 0  # non-self-issued intermediates below the current certificate
    for level, link in enumerate(chain):
        cert = link.cert
        label = link.label

        def fail(reason: str, code: int | None = None, _level: int = level,
                 _link: SourcedCert = link) -> ChainFailure:
            return ChainFailure(_level, code, reason, "profile", _link, chain)

        try:
            critical = unhandled_critical(cert)
            constraints = extension(cert, x509.BasicConstraints)
            usage = key_usage(cert)
            akid_ext = extension(cert, x509.AuthorityKeyIdentifier)
            skid_ext = extension(cert, x509.SubjectKeyIdentifier)
        except ValueError as exc:
            raise fail(f"{label} has malformed extensions ({exc})",
                       UNHANDLED_CRITICAL_EXTENSION) from None
        if critical:
            raise fail(f"{label} has an unhandled critical extension {critical[0]}",
                       UNHANDLED_CRITICAL_EXTENSION)
        ca = constraints is not None and constraints.value.ca
        if level > 0:
            if not ca:
                raise fail(f"{label} is used as a CA but is not a CA certificate "
                           "(basicConstraints CA:TRUE missing)", INVALID_CA)
            if usage is not None and not usage.key_cert_sign:
                raise fail(f"{label} is used as a CA but its key usage lacks keyCertSign",
                           INVALID_CA)
            path_len = constraints.value.path_length if constraints is not None else None
            if level > 1 and path_len is not None and below > path_len:
                raise fail(f"{label} allows at most {path_len} intermediate certificates below it",
                           PATH_LENGTH_EXCEEDED)
            if level < count - 1 and not self_issued(cert):
                below += 1
        # RFC 5280 profile checks that OpenSSL applies with X509_STRICT.
        if ca:
            if constraints is not None and not constraints.critical:
                raise fail(f"{label} is a CA but its basicConstraints are not critical")
            if usage is None:
                raise fail(f"{label} is a CA but has no key usage extension")
            if skid_ext is None:
                raise fail(f"{label} is a CA but has no subject key identifier")
        else:
            if usage is not None and usage.key_cert_sign:
                raise fail(f"{label} has key usage keyCertSign but is not a CA")
            if constraints is not None and constraints.value.path_length is not None:
                raise fail(f"{label} has a path length constraint but is not a CA")
        if constraints is not None and constraints.value.path_length is not None \
                and (usage is None or not usage.key_cert_sign):
            raise fail(f"{label} has a path length constraint but its key usage lacks keyCertSign")
        try:
            alt_names = extension(cert, x509.SubjectAlternativeName)
        except ValueError as exc:
            raise fail(f"{label} has malformed extensions ({exc})",
                       UNHANDLED_CRITICAL_EXTENSION) from None
        empty_subject = len(list(cert.subject)) == 0
        if alt_names is not None and len(alt_names.value) == 0:
            raise fail(f"{label} has an empty subject alternative name")
        if empty_subject and (ca or (usage is not None and usage.crl_sign) or alt_names is None):
            raise fail(f"{label} has an empty subject name")
        if empty_subject and alt_names is not None and not alt_names.critical:
            raise fail(f"{label} has an empty subject name and a non-critical subject "
                       "alternative name")
        if akid_ext is not None and akid_ext.critical:
            raise fail(f"{label} has a critical authority key identifier")
        if skid_ext is not None and skid_ext.critical:
            raise fail(f"{label} has a critical subject key identifier")
        if level < count - 1 and akid_ext is None:
            raise fail(f"{label} has no authority key identifier")
        if len(list(cert.issuer)) == 0:
            raise fail(f"{label} has an empty issuer name")
        if cert.version != x509.Version.v3 and len(extensions_of(cert)) > 0:
            raise fail(f"{label} has extensions but is not an X.509 v3 certificate")


def _check_security(chain: list[SourcedCert]) -> None:
    for level, link in enumerate(chain):
        bits = certificate_key_bits(link.cert)
        if bits < MIN_SECURITY_BITS:
            raise ChainFailure(
                level, EE_KEY_TOO_SMALL if level == 0 else CA_KEY_TOO_SMALL,
                f"the key of {link.label} provides {bits} bits of security, "
                f"{MIN_SECURITY_BITS} are required", "weak-key", link, chain)
        if level < len(chain) - 1:
            sig_bits = signature_security_bits(link.cert)
            if sig_bits < MIN_SECURITY_BITS:
                raise ChainFailure(
                    level, CA_MD_TOO_WEAK,
                    f"{link.label} is signed with {signature_name(link.cert)} "
                    f"({sig_bits} bits of security, {MIN_SECURITY_BITS} required)",
                    "weak-signature", link, chain)


def _check_revocation(chain: list[SourcedCert], crls: CrlPool, anchors: TrustAnchors,
                      now: dt.datetime) -> None:
    for level, link in enumerate(chain):
        issuer = chain[level + 1] if level + 1 < len(chain) else link
        candidates = merge_crls(crls.by_issuer(link.cert.issuer),
                                anchors.crls(link.cert.issuer))
        valid: list[SourcedCrl] = []
        problems: list[tuple[int, str, SourcedCrl]] = []
        for crl in candidates:
            # A root has no CRL distribution points; its own CRL's issuing distribution
            # point name is not held against it (ADR 0015).
            problem = chain_crl_problem(crl, link.cert, issuer, now,
                                        match_point=level < len(chain) - 1)
            if problem is None:
                valid.append(crl)
            else:
                problems.append((problem[0], problem[1], crl))
        if not valid:
            details = [f"{crl.label} {why}" for _, why, crl in problems]
            if problems:
                code, why, crl = problems[0]
                reason = f"the only {crl.label} {why}" if len(problems) == 1 else \
                    f"no valid CRL of '{describe_name(issuer.cert.subject)}': the {crl.label} {why}"
                kind = "crl-invalid"
            else:
                code = UNABLE_TO_GET_CRL
                reason = (f"no CRL of '{describe_name(issuer.cert.subject)}' is available "
                          f"to check {link.label}")
                kind = "no-crl"
            raise ChainFailure(level, code, reason, kind, link, chain, issuer, details)
        revoked = revocation_of(link.cert.serial_number, valid)
        if revoked is not None:
            crl, entry = revoked
            raise ChainFailure(
                level, CERT_REVOKED,
                f"{link.label} (serial {link.cert.serial_number:#x}) is revoked since "
                f"{fmt_time(entry.revocation_date_utc)} according to the {crl.label}",
                "revoked", link, chain, issuer)


def _check_signatures_and_times(chain: list[SourcedCert], now: dt.datetime) -> None:
    for level in range(len(chain) - 1, -1, -1):
        link = chain[level]
        issuer = chain[level + 1] if level + 1 < len(chain) else link
        if not signed_by(link.cert, issuer.cert):
            raise ChainFailure(level, CERT_SIGNATURE_FAILURE,
                               f"the signature of {link.label} does not verify with the key "
                               f"of {issuer.label}", "signature", link, chain)
        start, end = link.cert.not_valid_before_utc, link.cert.not_valid_after_utc
        if now < start:
            raise ChainFailure(level, CERT_NOT_YET_VALID,
                               f"{link.label} is not valid before {fmt_time(start)}",
                               "not-yet-valid", link, chain)
        if now >= end:  # OpenSSL's X509_cmp_time: expired at notAfter itself
            raise ChainFailure(level, CERT_HAS_EXPIRED,
                               f"{link.label} expired on {fmt_time(end)}", "expired", link, chain)


def _check_constraints(chain: list[SourcedCert], check: Callable[[list[SourcedCert]], None],
                       ) -> None:
    try:
        check(chain)
    except ConstraintViolation as violation:
        link = chain[violation.level]
        raise ChainFailure(violation.level, violation.code, violation.reason, "constraints",
                           link, chain) from None
    except ValueError as exc:
        raise ChainFailure(0, UNHANDLED_CRITICAL_EXTENSION,
                           f"a certificate of the chain has malformed extensions ({exc})",
                           "profile", chain[0], chain) from None


def check_chain(chain: list[SourcedCert], anchors: TrustAnchors, crls: CrlPool,
                now: dt.datetime) -> list[SourcedCert]:
    """Validate a chain from :func:`build_chain` (pure: the CRLs are all in ``crls``).

    OpenSSL's order: extensions, security level, revocation, signatures and times,
    name constraints, policies.  Raises :class:`ChainFailure`.
    """
    now = aware_utc(now)
    leaf = chain[0]
    if len(chain) < 2:
        raise ChainFailure(0, APPLICATION_VERIFICATION,
                           f"{leaf.label} is itself a trusted root; a chain of at least "
                           "two certificates is required", "short-chain", leaf, chain)
    _check_extensions(chain)
    _check_security(chain)
    _check_revocation(chain, crls, anchors, now)
    _check_signatures_and_times(chain, now)
    _check_constraints(chain, check_name_constraints)
    _check_constraints(chain, check_policies)
    return chain


def validate_chain(leaf: SourcedCert, untrusted: Sequence[SourcedCert], anchors: TrustAnchors,
                   crls: CrlPool, now: dt.datetime) -> list[SourcedCert]:
    """The validated chain (leaf ... anchor) or :class:`ChainFailure`; ``now`` must be aware."""
    now = aware_utc(now)
    return check_chain(build_chain(leaf, untrusted, anchors, now), anchors, crls, now)


__all__ = ["AnchorList", "ChainFailure", "TrustAnchors", "build_chain", "check_chain", "skid",
           "validate_chain"]
