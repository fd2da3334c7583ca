"""The ultravisor's side of attestation, in software: answer an ARCB like the firmware would.

Useful for tests, for demonstrations without IBM Z hardware and as the core of a
future software ultravisor.  :func:`answer_attestation` opens the request with a
host private key, assembles the additional data the flags ask for, computes the
measurement over the guest's SE-header tags, and returns the response that
``pvattest perform`` would write.
"""

from __future__ import annotations

from typing import Final

from cryptography.hazmat.primitives.asymmetric import ec

from .. import crypto
from ..errors import InputError
from ..formats.attestation import (
    FLAG_ATTESTATION_PHKH,
    FLAG_FIRMWARE_STATE,
    FLAG_IMAGE_PHKH,
    FLAG_SECRET_STORE_HASH,
    USER_DATA_MAX_SIZE,
    ExchangeResponse,
)
from ..formats.se_header import BootHdrTags
from .check import secret_store_hash
from .measurement import compute_measurement
from .request import open_arcb_with_host_key

__all__ = ["FIRMWARE_STATE_SIZE", "answer_attestation"]

FIRMWARE_STATE_SIZE: Final = 320


def answer_attestation(
    arcb: bytes,
    host_private_key: ec.EllipticCurvePrivateKey,
    tags: BootHdrTags,
    cuid: bytes,
    user_data: bytes | None = None,
    *,
    image_phkh: bytes | None = None,
    secret_store: bytes | None = None,
    firmware_state: bytes | None = None,
) -> ExchangeResponse:
    """Play the ultravisor for ``arcb`` on a guest booted from the header with ``tags``.

    ``image_phkh`` is the hash of the host key that unpacked the image (default:
    the attesting host key); ``secret_store`` the 64-byte secret-store hash
    (default: empty, unlocked store); ``firmware_state`` 320 opaque bytes
    (default zeros).  Only the items the ARCB's flags request are returned.
    """
    if user_data is not None and len(user_data) > USER_DATA_MAX_SIZE:
        raise InputError(
            f"The input has not the correct format: User data is too large. "
            f"Maximal size {USER_DATA_MAX_SIZE}"
        )
    opened, _ = open_arcb_with_host_key(arcb, host_private_key)
    own_hash = crypto.host_key_hash(host_private_key.public_key())
    flags = opened.flags
    additional = b""
    if flags & FLAG_IMAGE_PHKH:
        additional += image_phkh if image_phkh is not None else own_hash
    if flags & FLAG_ATTESTATION_PHKH:
        additional += own_hash
    if flags & FLAG_SECRET_STORE_HASH:
        additional += secret_store if secret_store is not None else secret_store_hash([], False)
    if flags & FLAG_FIRMWARE_STATE:
        additional += firmware_state if firmware_state is not None else bytes(FIRMWARE_STATE_SIZE)
    user = user_data or None
    measurement = compute_measurement(
        opened.measurement_key, tags, cuid, user_data=user, nonce=opened.nonce,
        additional=additional or None,
    )
    return ExchangeResponse(bytes(arcb), measurement, additional or None, user, bytes(cuid))
