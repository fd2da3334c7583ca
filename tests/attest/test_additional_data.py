"""Additional data: split by the attestation flags, in bit order, with the reference's messages."""

from __future__ import annotations

import pytest

from secexkit.attest.measurement import VerifiedAttestation
from secexkit.attest.result import verify_text, verify_yaml
from secexkit.errors import FormatError
from secexkit.formats.attestation import (
    FLAG_ATTESTATION_PHKH,
    FLAG_FIRMWARE_STATE,
    FLAG_IMAGE_PHKH,
    FLAG_NONCE,
    FLAG_SECRET_STORE_HASH,
    AdditionalData,
    expected_additional_size,
    parse_additional_data,
)

ALL = FLAG_IMAGE_PHKH | FLAG_ATTESTATION_PHKH | FLAG_SECRET_STORE_HASH | FLAG_FIRMWARE_STATE


def test_flag_values() -> None:
    assert (FLAG_NONCE, FLAG_IMAGE_PHKH, FLAG_ATTESTATION_PHKH, FLAG_SECRET_STORE_HASH,
            FLAG_FIRMWARE_STATE) == (0x4000000000000000, 0x2000000000000000, 0x1000000000000000,
                                     0x0800000000000000, 0x0400000000000000)


def test_expected_sizes() -> None:
    assert expected_additional_size(FLAG_NONCE) == 0
    assert expected_additional_size(FLAG_IMAGE_PHKH | FLAG_ATTESTATION_PHKH) == 64
    assert expected_additional_size(ALL) == 448
    assert expected_additional_size(FLAG_IMAGE_PHKH | FLAG_SECRET_STORE_HASH | FLAG_FIRMWARE_STATE
                                    ) == 0x1A0


def test_split_in_bit_order() -> None:
    data = b"I" * 32 + b"A" * 32 + b"S" * 64 + b"F" * 320 + b"extra"
    parsed = parse_additional_data(data, ALL)
    assert parsed == AdditionalData(b"I" * 32, b"A" * 32, b"S" * 64, b"F" * 320, b"extra")
    assert [k for k, _, _ in parsed.items()] == [
        "image_phkh", "attestation_phkh", "secret_store_hash", "firmware_state", "unrecognized"]
    only = parse_additional_data(b"S" * 64, FLAG_SECRET_STORE_HASH)
    assert only == AdditionalData(secret_store_hash=b"S" * 64)
    assert parse_additional_data(b"xy", 0) == AdditionalData(unrecognized=b"xy")


@pytest.mark.parametrize(("flags", "size", "name"), [
    (FLAG_IMAGE_PHKH, 31, "Image PHKH"),
    (FLAG_ATTESTATION_PHKH, 0, "Attestation PHKH"),
    (FLAG_SECRET_STORE_HASH | FLAG_IMAGE_PHKH, 95, "Secret store state"),
    (FLAG_FIRMWARE_STATE, 319, "Firmware hash"),
])
def test_missing_items(flags: int, size: int, name: str) -> None:
    with pytest.raises(FormatError) as info:
        parse_additional_data(bytes(size), flags)
    assert str(info.value) == (
        f"Attestation flags indicating that the additional data contains {name}, "
        "but no data was provided.")


def test_unrecognized_rendering() -> None:
    result = VerifiedAttestation(b"\x00" * 16, b"\xaa" * 3, AdditionalData(unrecognized=b"\xaa" * 3),
                                 None, FLAG_NONCE)
    assert verify_yaml(result) == (
        "cuid: '0x00000000000000000000000000000000'\nadd: '0xaaaaaa'\n"
        "add_fields:\n  unrecognized: '0xaaaaaa'\n")
    assert verify_text(result) == (
        "Config UID:\n0x00000000000000000000000000000000\nAdditional-data:\n0xaaaaaa\n"
        "Additional-data content:\nUnrecognized\n0xaaaaaa\n\n")
