"""``perform`` without a device: the uvio_attest argument and the response written from it."""

from __future__ import annotations

import pytest

from secexkit.attest.perform import (
    check_user_data_size,
    pack_attest_argument,
    response_from_device,
    unpack_attest_output,
)
from secexkit.errors import InputError
from secexkit.formats.attestation import UVIO_ATTEST, ExchangeRequest, ExchangeResponse

ARCB = b"\x11" * 400


def test_argument_layout() -> None:
    request = ExchangeRequest(ARCB, 64, 96)
    arg = pack_attest_argument(request, b"hello", arcb_address=0x1000, measurement_address=0x2000,
                               additional_address=0x3000)
    assert len(arg) == UVIO_ATTEST.size == 0x138
    assert arg[0:8] == (0x1000).to_bytes(8, "big")
    assert arg[0x18:0x1D] == b"hello"
    assert arg[0x1D:0x118] == bytes(0x118 - 0x1D)
    assert arg[0x128:0x138] == bytes.fromhex("00000190 00000040 00000060 0005 0000".replace(" ", ""))


def test_user_data_limit() -> None:
    check_user_data_size(bytes(256))
    with pytest.raises(InputError, match=r"User data is too large\. Maximal size 256"):
        check_user_data_size(bytes(257))


def test_no_additional_buffer_without_additional_data() -> None:
    with pytest.raises(ValueError, match="additional-data buffer"):
        pack_attest_argument(ExchangeRequest(ARCB, 64, 0), b"", arcb_address=1,
                             measurement_address=2, additional_address=3)


def test_response_from_device() -> None:
    request = ExchangeRequest(ARCB, 64, 96)
    arg = pack_attest_argument(request, b"", arcb_address=1, measurement_address=2,
                               additional_address=3)
    arg[0x118:0x128] = b"\x42" * 16
    arg[0x130:0x134] = (32).to_bytes(4, "big")  # the UV returned less than expected
    assert unpack_attest_output(arg) == (b"\x42" * 16, 32)
    response = response_from_device(request, b"", arg, b"\x12" * 64, b"\x13" * 96)
    assert response == ExchangeResponse(ARCB, b"\x12" * 64, b"\x13" * 32, b"", b"\x42" * 16)
    data = response.to_bytes()
    # empty -u file: entry (0, current offset), read back as absent
    assert data[0x30:0x38] == bytes(4) + (0x40 + 400 + 64 + 32).to_bytes(4, "big")
    assert ExchangeResponse.from_bytes(data).user_data is None
