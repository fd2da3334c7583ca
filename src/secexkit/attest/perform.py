"""``pvattest perform`` without the device: the ``uvio_attest`` argument and the response it yields.

The ultravisor device layer (:mod:`secexkit.uv`) owns the buffers and the ioctl;
this module only packs the argument from a request and turns the device's
output into the response exchange record, as the reference does (additional
data cut to the length the ultravisor reports, the measurement buffer as is).
"""

from __future__ import annotations

from typing import NamedTuple

from ..errors import FormatError, InputError
from ..formats.attestation import (
    ADDITIONAL_MAX_SIZE,
    ARCB_MAX_SIZE,
    CUID_SIZE,
    MEASUREMENT_MAX_SIZE,
    USER_DATA_MAX_SIZE,
    UVIO_ATTEST,
    ExchangeRequest,
    ExchangeResponse,
)

__all__ = [
    "AttestOutput",
    "check_user_data_size",
    "pack_attest_argument",
    "response_from_device",
    "unpack_attest_output",
]


def check_user_data_size(user_data: bytes) -> None:
    """``-u`` holds at most 256 bytes (reference message)."""
    if len(user_data) > USER_DATA_MAX_SIZE:
        raise InputError(
            "The input has not the correct format: User data is too large. "
            f"Maximal size {USER_DATA_MAX_SIZE}"
        )


def pack_attest_argument(
    request: ExchangeRequest,
    user_data: bytes,
    *,
    arcb_address: int,
    measurement_address: int,
    additional_address: int,
) -> bytearray:
    """The 0x138-byte ``uvio_attest`` for ``request`` (buffer addresses from the device layer).

    ``additional_address`` must be 0 when the request expects no additional data.
    The kernel's own limits are checked here too, so a bad request never reaches it.
    """
    check_user_data_size(user_data)
    if not 0 < len(request.arcb) <= ARCB_MAX_SIZE:
        raise FormatError(f"The attestation request must be 1..{ARCB_MAX_SIZE} bytes")
    if not 0 < request.measurement_size <= MEASUREMENT_MAX_SIZE:
        raise FormatError(f"The measurement size must be 1..{MEASUREMENT_MAX_SIZE}")
    if not 0 <= request.additional_size <= ADDITIONAL_MAX_SIZE:
        raise FormatError(f"The additional-data size must be 0..{ADDITIONAL_MAX_SIZE}")
    if (request.additional_size == 0) != (additional_address == 0):
        raise ValueError("an additional-data buffer is needed exactly when additional data is expected")
    return bytearray(UVIO_ATTEST.pack({
        "arcb_address": arcb_address,
        "measurement_address": measurement_address,
        "additional_address": additional_address,
        "user_data": user_data.ljust(USER_DATA_MAX_SIZE, b"\0"),
        "cuid": bytes(CUID_SIZE),
        "arcb_length": len(request.arcb),
        "measurement_length": request.measurement_size,
        "additional_length": request.additional_size,
        "user_data_length": len(user_data),
        "reserved": 0,
    }))


class AttestOutput(NamedTuple):
    """What the ultravisor wrote back into ``uvio_attest``."""

    cuid: bytes
    additional_length: int


def unpack_attest_output(argument: bytes | bytearray) -> AttestOutput:
    """CUID and the returned additional-data length from the argument after the ioctl."""
    values = UVIO_ATTEST.unpack(argument)
    return AttestOutput(bytes(values["cuid"]), int(values["additional_length"]))


def response_from_device(
    request: ExchangeRequest,
    user_data: bytes | None,
    argument: bytes | bytearray,
    measurement: bytes,
    additional: bytes,
) -> ExchangeResponse:
    """The response ``perform`` writes, from the buffers after a successful ioctl.

    ``user_data`` is ``None`` without ``-u``; an empty ``-u`` file gives ``b""``,
    written as the entry (0, offset) like the reference.
    """
    output = unpack_attest_output(argument)
    if output.additional_length > len(additional):
        raise FormatError("The ultravisor reported more additional data than the buffer holds")
    cut = additional[: output.additional_length]
    return ExchangeResponse(request.arcb, bytes(measurement), cut or None, user_data, output.cuid)
