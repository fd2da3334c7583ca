"""The attestation measurement and the verification of an ultravisor response.

measurement = HMAC-SHA512(measurement key, PLD || ALD || TLD || SE-header tag ||
CUID || len(user) u16 || 0 u16 || len(additional) u32 || user data || nonce? ||
additional data), all lengths big-endian.  :func:`verify_response` recomputes it
from the ARCB (opened with the ARPK) and the guest's SE-header tags and compares
it with the ultravisor's in constant time.
"""

from __future__ import annotations

from typing import BinaryIO, NamedTuple

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.constant_time import bytes_eq

from ..errors import FormatError, InputError
from ..formats.attestation import (
    CUID_SIZE,
    MEASUREMENT_KEY_SIZE,
    NONCE_SIZE,
    USER_DATA_MAX_SIZE,
    AdditionalData,
    ExchangeResponse,
    parse_additional_data,
)
from ..formats.se_header import BootHdrTags, read_se_header
from ..secret import SecretBytes
from .errors import measurement_mismatch
from .request import open_arcb

__all__ = [
    "VerifiedAttestation",
    "compute_measurement",
    "measurement_message",
    "read_guest_tags",
    "verify_response",
]


def read_guest_tags(stream: BinaryIO) -> BootHdrTags:
    """PLD, ALD, TLD and tag from ``--hdr``: an SE image or a bare SE header (seekable).

    Anything else is a :class:`FormatError` ``Invalid SE header provided`` (the
    reference's text; the reason is in ``details``).
    """
    try:
        return read_se_header(stream).boot_tags
    except FormatError as exc:
        raise FormatError("Invalid SE header provided", str(exc), *exc.details) from None


def measurement_message(
    tags: BootHdrTags,
    cuid: bytes,
    *,
    user_data: bytes | None = None,
    nonce: bytes | None = None,
    additional: bytes | None = None,
) -> bytes:
    """The bytes the measurement authenticates (spec layout)."""
    user = user_data or b""
    add = additional or b""
    if len(cuid) != CUID_SIZE:
        raise InputError(f"The CUID must be {CUID_SIZE} bytes, not {len(cuid)}")
    if len(user) > USER_DATA_MAX_SIZE:
        raise InputError(f"User data is too large. Maximal size {USER_DATA_MAX_SIZE}")
    if nonce is not None and len(nonce) != NONCE_SIZE:
        raise InputError(f"The nonce must be {NONCE_SIZE} bytes, not {len(nonce)}")
    if len(add) >= 1 << 32:
        raise InputError("Additional data is too large")
    return b"".join((
        tags.to_bytes(),
        cuid,
        len(user).to_bytes(2, "big"),
        bytes(2),
        len(add).to_bytes(4, "big"),
        user,
        nonce or b"",
        add,
    ))


def compute_measurement(
    measurement_key: SecretBytes,
    tags: BootHdrTags,
    cuid: bytes,
    *,
    user_data: bytes | None = None,
    nonce: bytes | None = None,
    additional: bytes | None = None,
) -> bytes:
    """HMAC-SHA512 over :func:`measurement_message` (64 bytes)."""
    if len(measurement_key) != MEASUREMENT_KEY_SIZE:
        raise InputError(f"The measurement key must be {MEASUREMENT_KEY_SIZE} bytes")
    mac = hmac.HMAC(measurement_key.reveal(), hashes.SHA512())
    mac.update(measurement_message(tags, cuid, user_data=user_data, nonce=nonce,
                                   additional=additional))
    return mac.finalize()


class VerifiedAttestation(NamedTuple):
    """A response whose measurement verified: what the guest's ultravisor attested."""

    cuid: bytes
    #: the raw additional data (``None`` if the response has none)
    additional: bytes | None
    #: the additional data split by the request's flags (``None`` without additional data)
    additional_fields: AdditionalData | None
    user_data: bytes | None
    #: the authenticated attestation flags of the request
    flags: int


def verify_response(
    response: ExchangeResponse, tags: BootHdrTags, arpk: SecretBytes
) -> VerifiedAttestation:
    """Verify an ultravisor response against the SE-header tags of the expected image.

    Opens the ARCB with ``arpk`` (:class:`~secexkit.errors.FormatError` or
    :class:`~secexkit.errors.CryptoError` on a bad request), recomputes the
    measurement and compares it in constant time
    (:class:`~secexkit.errors.MeasurementMismatchError` on a difference).
    Additional data shorter than the flags demand is a
    :class:`~secexkit.errors.FormatError` even when the measurement matches.
    """
    opened = open_arcb(response.arcb, arpk)
    expected = compute_measurement(
        opened.measurement_key,
        tags,
        response.cuid,
        user_data=response.user_data,
        nonce=opened.nonce,
        additional=response.additional,
    )
    if not bytes_eq(expected, response.measurement):
        raise measurement_mismatch(
            f"received {len(response.measurement)} bytes, computed {len(expected)}"
        )
    fields = (
        parse_additional_data(response.additional, opened.flags)
        if response.additional is not None
        else None
    )
    return VerifiedAttestation(
        cuid=response.cuid,
        additional=response.additional,
        additional_fields=fields,
        user_data=response.user_data,
        flags=opened.flags,
    )
