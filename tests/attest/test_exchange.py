"""The pvattest exchange format: every reference sample read and re-written byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from secexkit.errors import FormatError
from secexkit.formats.attestation import (
    ExchangeFile,
    ExchangeRequest,
    ExchangeResponse,
    parse_exchange,
)

ARCB = b"\x11" * 16
MEASUREMENT = b"\x12" * 64
ADDITIONAL = b"\x13" * 32
CUID = b"\x14" * 16
USER = b"\x15" * 256

REQUESTS = {
    "full_req.bin": ExchangeRequest(ARCB, 64, 32),
    "add_req.bin": ExchangeRequest(ARCB, 64, 32),
    "min_req.bin": ExchangeRequest(ARCB, 64, 0),
}
RESPONSES = {
    "full_resp.bin": ExchangeResponse(ARCB, MEASUREMENT, ADDITIONAL, USER, CUID),
    "full.bin": ExchangeResponse(ARCB, MEASUREMENT, ADDITIONAL, USER, CUID),
    "add_resp.bin": ExchangeResponse(ARCB, MEASUREMENT, ADDITIONAL, None, CUID),
    "user_resp.bin": ExchangeResponse(ARCB, MEASUREMENT, None, USER, CUID),
    "min_resp.bin": ExchangeResponse(ARCB, MEASUREMENT, None, None, CUID),
}


def sample(vectors: Path, name: str) -> bytes:
    return (vectors / "exp" / "exchange" / name).read_bytes()


def test_every_sample_is_covered(vectors: Path) -> None:
    names = {p.name for p in (vectors / "exp" / "exchange").glob("*.bin")}
    assert names == set(REQUESTS) | set(RESPONSES) | {"user_req.bin"}


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_request_samples(vectors: Path, name: str) -> None:
    data = sample(vectors, name)
    assert REQUESTS[name].to_bytes() == data
    assert ExchangeRequest.from_bytes(data) == REQUESTS[name]


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_response_samples(vectors: Path, name: str) -> None:
    data = sample(vectors, name)
    assert RESPONSES[name].to_bytes() == data
    assert ExchangeResponse.from_bytes(data) == RESPONSES[name]


def test_exp_exchange_bin(vectors: Path) -> None:
    data = (vectors / "exp" / "exchange.bin").read_bytes()
    expected = ExchangeResponse(ARCB, MEASUREMENT, ADDITIONAL, b"\x13" * 256, CUID)
    assert ExchangeResponse.from_bytes(data) == expected
    assert expected.to_bytes() == data


def test_legacy_user_request(vectors: Path) -> None:
    """user_req.bin: the request reader ignores its user entry; the generic writer reproduces it."""
    data = sample(vectors, "user_req.bin")
    assert ExchangeRequest.from_bytes(data) == ExchangeRequest(ARCB, 64, 0)
    generic = parse_exchange(data)
    assert generic == ExchangeFile(ARCB, 64, None, b"\x15" * 256, None)
    assert generic.to_bytes() == data


@pytest.mark.parametrize("name", sorted({*REQUESTS, *RESPONSES, "user_req.bin"}))
def test_generic_round_trip(vectors: Path, name: str) -> None:
    data = sample(vectors, name)
    assert parse_exchange(data).to_bytes() == data


def prefixed(text: str) -> str:
    return f"The input has not the correct format: {text}"


def test_reference_negative_cases(vectors: Path) -> None:
    min_req = sample(vectors, "min_req.bin")
    min_resp = sample(vectors, "min_resp.bin")

    with pytest.raises(FormatError, match="Expected measurement size field is too small"):
        ExchangeRequest(ARCB, 0, 32).to_bytes()  # invalid_req
    with pytest.raises(FormatError) as info:
        ExchangeResponse.from_bytes(min_req)  # resp_no_cuid
    assert str(info.value) == prefixed("Contains no attestation response (Measurement missing).")

    bad = bytearray(min_req)
    bad[0] ^= 0xFF  # resp_inv_magic
    with pytest.raises(FormatError) as info:
        ExchangeResponse.from_bytes(bytes(bad))
    assert str(info.value) == prefixed("Does not start with the magic value.")

    bad = bytearray(min_req)
    bad[0x18:0x20] = bytes(8)  # no_arcb
    with pytest.raises(FormatError) as info:
        ExchangeRequest.from_bytes(bytes(bad))
    assert str(info.value) == prefixed("Contains no attestation request.")

    with pytest.raises(FormatError) as info:
        ExchangeRequest.from_bytes(min_req[:-1])  # small
    assert str(info.value) == prefixed("File size too small")

    with pytest.raises(FormatError) as info:
        ExchangeRequest.from_bytes(b"pvattest\x01\x02\x03\x04")  # hdr
    assert str(info.value) == prefixed("Invalid Header.")

    bad = bytearray(min_req)
    bad[8] = 0xFF  # version
    with pytest.raises(FormatError) as info:
        ExchangeRequest.from_bytes(bytes(bad))
    assert str(info.value) == prefixed(f"Unsupported version: ({0xFF000100})")

    bad = bytearray(min_resp)
    bad[0x3B] = 0x0F  # cuid_size
    with pytest.raises(FormatError) as info:
        ExchangeResponse.from_bytes(bytes(bad))
    assert str(info.value) == prefixed("Configuration UID has an invalid size. Expected size 16, is 15")


def test_cuid_only_expected_is_missing(vectors: Path) -> None:
    bad = bytearray(sample(vectors, "min_resp.bin"))
    bad[0x3C:0x40] = bytes(4)  # CUID entry: size 16, offset 0 = "expected size only"
    with pytest.raises(FormatError, match=r"\(CUID missing\)"):
        ExchangeResponse.from_bytes(bytes(bad))


def test_entry_beyond_the_file(vectors: Path) -> None:
    bad = bytearray(sample(vectors, "min_resp.bin"))
    bad[0x3C:0x40] = (len(bad) - 8).to_bytes(4, "big")  # CUID reaches 8 bytes past the end
    with pytest.raises(FormatError, match="cuid entry reaches beyond the end"):
        ExchangeResponse.from_bytes(bytes(bad))


def test_size_limits() -> None:
    with pytest.raises(FormatError, match="Expected measurement size field is too large"):
        ExchangeRequest(ARCB, 0x8001, 0).to_bytes()
    with pytest.raises(FormatError, match="Expected additional data size field is too large"):
        ExchangeRequest(ARCB, 64, 0x8001).to_bytes()
    with pytest.raises(FormatError, match="User data field is too large"):
        ExchangeResponse(ARCB, MEASUREMENT, None, bytes(257), CUID).to_bytes()


def test_empty_user_data_is_absent_when_read() -> None:
    """perform with an empty -u file writes (0, offset); readers take it as no user data."""
    data = ExchangeFile(ARCB, MEASUREMENT, None, b"", CUID).to_bytes()
    assert data[0x30:0x38] == (0).to_bytes(4, "big") + (0x90).to_bytes(4, "big")
    assert ExchangeResponse.from_bytes(data).user_data is None


def test_trailing_bytes_ignored(vectors: Path) -> None:
    data = sample(vectors, "full_resp.bin")
    assert ExchangeResponse.from_bytes(data + b"junk") == RESPONSES["full_resp.bin"]


def test_stricter_than_the_reference(vectors: Path) -> None:
    """ADR 0080: blobs must lie within the header's size; reserved bytes must be zero."""
    data = bytearray(sample(vectors, "min_resp.bin"))
    data[0x0F] -= 1  # size one short of the CUID's end
    with pytest.raises(FormatError, match="cuid entry reaches beyond the size in the header"):
        ExchangeResponse.from_bytes(bytes(data))
    data = bytearray(sample(vectors, "min_req.bin"))
    data[0x17] = 1
    with pytest.raises(FormatError, match="reserved header bytes are not zero"):
        ExchangeRequest.from_bytes(bytes(data))
    data = bytearray(sample(vectors, "min_resp.bin"))
    data[0x33] = 8  # user entry (8, 0): "expected size only" inside a response
    with pytest.raises(FormatError, match=r"user entry has a size \(8\) but no data"):
        ExchangeResponse.from_bytes(bytes(data))
