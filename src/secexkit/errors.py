"""Exception hierarchy of secexkit.

Every error the library raises on purpose derives from :class:`SecexError`.  Its
``str()`` is one line meant for a user: it names the input and what is wrong.
``details`` holds further lines (causes, hints) that the CLI shows with ``-v``.
Messages never contain secret bytes.
"""

from __future__ import annotations

__all__ = [
    "CryptoError",
    "FormatError",
    "InputError",
    "NotAvailableError",
    "SecexError",
    "UltravisorError",
    "UsageError",
    "VerificationError",
]


class SecexError(Exception):
    """Base class of all secexkit errors."""

    def __init__(self, message: str, *details: str) -> None:
        super().__init__(message)
        self.message = message
        self.details: tuple[str, ...] = details

    def __str__(self) -> str:
        return self.message


class UsageError(SecexError):
    """The command line (or API call) is inconsistent: conflicting or missing options."""


class InputError(SecexError):
    """An input (file, value) is missing, unreadable or has the wrong size or content."""


class FormatError(InputError):
    """A binary structure (SE header, request, list) is malformed."""


class CryptoError(SecexError):
    """A cryptographic operation failed (bad key, authentication failure)."""


class VerificationError(SecexError):
    """A host-key document, certificate chain, CRL or signature did not verify."""


class NotAvailableError(SecexError):
    """The operation needs something this machine does not have (s390x, /dev/uv, loaders)."""


class UltravisorError(SecexError):
    """The ultravisor answered an ioctl with an error return code."""

    def __init__(self, message: str, rc: int, rrc: int) -> None:
        super().__init__(f"Ultravisor: '{message}' ({rc:#06x},{rrc:#06x})")
        self.rc = rc
        self.rrc = rrc


class FetchError(InputError):
    """A download (a CRL distribution point) failed; ``str()`` is a one-line reason.

    An :class:`InputError`: the input (the resource at a URI) could not be obtained
    within the limits (ADR 0041).  Verification records it and goes on with the
    next URI; it reaches a caller only from a fetcher called directly.
    """


__all__ += ["FetchError"]


class DeviceIoError(SecexError):
    """A system call on the ultravisor device failed (``errno`` says why)."""

    def __init__(self, message: str, err: int) -> None:
        super().__init__(message)
        self.errno = err


__all__ += ["DeviceIoError"]


class MeasurementMismatchError(VerificationError):
    """An attestation measurement differs from the one computed from the request and header.

    The response is not from the expected guest (other image, CUID, user data,
    nonce or additional data) or was modified.  ``pvattest verify`` exits with 2.
    """


__all__ += ["MeasurementMismatchError"]
