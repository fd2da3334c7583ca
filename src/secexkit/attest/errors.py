"""Errors specific to attestation (kept here until the lead moves them to :mod:`secexkit.errors`)."""

from __future__ import annotations

from ..errors import VerificationError

__all__ = ["MEASUREMENT_MISMATCH", "MeasurementMismatchError"]

MEASUREMENT_MISMATCH = (
    "Attestation measurement verification failed. "
    "Calculated and received attestation measurement are not equal."
)


class MeasurementMismatchError(VerificationError):
    """The ultravisor's measurement differs from the one computed from the request and header.

    The response is not from the expected guest (other image, CUID, user data,
    nonce or additional data) or was modified.  ``pvattest verify`` exits with 2.
    """

    def __init__(self, *details: str) -> None:
        super().__init__(MEASUREMENT_MISMATCH, *details)
