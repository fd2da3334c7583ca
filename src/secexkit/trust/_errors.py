"""The error raised when host-key verification fails."""

from __future__ import annotations

from ..errors import VerificationError


class TrustError(VerificationError):
    """Host-key verification failed.

    ``check`` names the failed check (stable identifiers, see ``CHECKS``),
    ``reason`` is the reference's wording of the verdict (e.g. "Host-key document
    is revoked."), ``level`` the chain depth for ``check == "chain"`` (0 = the
    IBM Z signing key), ``code`` the equivalent OpenSSL verify code when known and
    ``document`` the host-key document concerned (None for chain/setup failures).
    """

    CHECKS = (
        "no-signing-key", "many-signing-keys", "chain",
        "security-bits", "before-validity", "after-validity", "akid", "signature",
        "no-crl", "revoked", "key-type",
    )

    def __init__(self, message: str, *details: str, check: str, reason: str,
                 level: int | None = None, code: int | None = None,
                 document: str | None = None) -> None:
        super().__init__(message, *details)
        self.check = check
        self.reason = reason
        self.level = level
        self.code = code
        self.document = document
