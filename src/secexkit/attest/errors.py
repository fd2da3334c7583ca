"""The attestation error texts; the classes live in :mod:`secexkit.errors`."""

from __future__ import annotations

from ..errors import MeasurementMismatchError

__all__ = ["MEASUREMENT_MISMATCH", "MeasurementMismatchError", "measurement_mismatch"]

#: the reference's message for a measurement mismatch
MEASUREMENT_MISMATCH = (
    "Attestation measurement verification failed. "
    "Calculated and received attestation measurement are not equal."
)


def measurement_mismatch(*details: str) -> MeasurementMismatchError:
    """The error for a measurement mismatch, with the reference's message."""
    return MeasurementMismatchError(MEASUREMENT_MISMATCH, *details)
