"""The error raised when host-key verification fails, the names of the checks, and the
inputs a message may point to (rendered in library words, or by the CLI as options)."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence

from ..errors import VerificationError


class Check(enum.StrEnum):
    """Which check failed (stable identifiers; equal to their string values)."""

    NO_SIGNING_KEY = "no-signing-key"
    MANY_SIGNING_KEYS = "many-signing-keys"
    CHAIN = "chain"
    SECURITY_BITS = "security-bits"
    BEFORE_VALIDITY = "before-validity"
    AFTER_VALIDITY = "after-validity"
    AKID = "akid"
    SIGNATURE = "signature"
    CRITICAL_EXTENSION = "critical-extension"
    NO_CRL = "no-crl"
    REVOKED = "revoked"
    KEY_TYPE = "key-type"


class Term(enum.Enum):
    """An input or setting that a message asks the caller to change.

    The library renders each in its own words (:data:`LIBRARY_TERMS`); a front end
    renders them as its option names (the CLI: ``--cert``, ``--crl`` ...).
    """

    CERTIFICATES = "certificates"
    CRLS = "crls"
    ROOT_CA = "root_ca"
    ALLOW_DOWNLOADS = "allow_downloads"
    CERTIFICATE_INPUTS = "certificate_inputs"
    MORE_DETAILS = "more_details"


#: how library messages name the inputs (the keyword arguments of the verification API)
LIBRARY_TERMS: Mapping[Term, str] = {
    Term.CERTIFICATES: "with the certificates",
    Term.CRLS: "with the CRLs",
    Term.ROOT_CA: "as the root CA",
    Term.ALLOW_DOWNLOADS: "allow downloads",
    Term.CERTIFICATE_INPUTS: "given certificate inputs",
    Term.MORE_DETAILS: "see the details",
}

Parts = Sequence["str | Term"]


def render(parts: str | Parts, terms: Mapping[Term, str] = LIBRARY_TERMS) -> str:
    """Join a message's text and :class:`Term` parts, each term in ``terms``' words."""
    if isinstance(parts, str):
        return parts
    return "".join(terms.get(p, LIBRARY_TERMS[p]) if isinstance(p, Term) else p for p in parts)


class TrustError(VerificationError):
    """Host-key verification failed.

    ``check`` names the failed check (a :class:`Check`, equal to its string),
    ``reason`` is the reference's wording of the verdict (e.g. "Host-key document
    is revoked."), ``level`` the chain depth for ``check == Check.CHAIN`` (0 = the
    IBM Z signing key), ``code`` the equivalent OpenSSL verify code when known and
    ``document`` the host-key document concerned (None for chain/setup failures).
    ``str()`` speaks of inputs in library words; :meth:`render` with a front end's
    words gives its message.
    """

    CHECKS = tuple(check.value for check in Check)

    def __init__(self, message: str | Parts, *details: str, check: Check | str, reason: str,
                 level: int | None = None, code: int | None = None,
                 document: str | None = None) -> None:
        super().__init__(render(message), *details)
        self.parts: tuple[str | Term, ...] = (message,) if isinstance(message, str) \
            else tuple(message)
        self.check = Check(check)
        self.reason = reason
        self.level = level
        self.code = code
        self.document = document

    def render(self, terms: Mapping[Term, str]) -> str:
        """The one-line message with every :class:`Term` in ``terms``' words."""
        return render(self.parts, terms)
