"""ARCB: the reference vector byte for byte, 1..255 host keys, opening with the ARPK or a host key."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from secexkit.attest.request import (
    ArcbKeys,
    add_data_flags,
    build_arcb,
    create_attestation_request,
    open_arcb,
    open_arcb_with_host_key,
    read_arpk,
)
from secexkit.errors import CryptoError, FormatError, InputError, UsageError
from secexkit.formats.attestation import (
    FLAG_ATTESTATION_PHKH,
    FLAG_FIRMWARE_STATE,
    FLAG_IMAGE_PHKH,
    FLAG_NONCE,
    FLAG_SECRET_STORE_HASH,
    ExchangeRequest,
    arcb_size,
    parse_arcb,
)
from secexkit.hostkeys import HostKey
from secexkit.secret import SecretBytes
from tests.support.attest import ARPK, MEASUREMENT_KEY, NONCE

VECTOR_FLAGS = FLAG_IMAGE_PHKH | FLAG_ATTESTATION_PHKH


def test_reference_arcb_reproduced(arcb_keys: ArcbKeys, vector_host_key: HostKey,
                                   arcb_sample: bytes) -> None:
    assert build_arcb([vector_host_key], VECTOR_FLAGS, arcb_keys) == arcb_sample
    assert len(arcb_sample) == arcb_size(1) == 400


def test_reference_arcb_plaintext_fields(arcb_sample: bytes, vectors: Path) -> None:
    parsed = parse_arcb(arcb_sample)
    assert parsed.flags == 0x7000000000000000
    assert parsed.mai == 1
    assert parsed.customer_public_key == (vectors / "keys" / "public_cust.bin").read_bytes()
    # the authenticated flags block of the reference test auth_bin
    assert arcb_sample[0x30:0x40] == (0x7000000000000000).to_bytes(8, "big") + bytes([0, 0, 0, 1, 0, 0, 0, 0])
    (slot,) = parsed.key_slots()
    assert slot.to_bytes() == (vectors / "exp" / "keyslot.bin").read_bytes()


def test_open_with_arpk(arcb_sample: bytes) -> None:
    opened = open_arcb(arcb_sample, SecretBytes(ARPK))
    assert opened.measurement_key.reveal() == MEASUREMENT_KEY
    assert opened.nonce == NONCE
    assert opened.flags == 0x7000000000000000


@pytest.mark.parametrize(("offset", "value", "error", "message"), [
    (0x00, 17, FormatError, "Input does not contain an attestation request"),
    (0x3B, 17, FormatError, "The attestation request has an unknown algorithm type (.0)"),
    (0x3C, 17, CryptoError, "Decryption failed. Probably due to a GCM tag mismatch."),
    (0x0B, 0x01, FormatError, "The attestation request has an unknown version 257"),
])
def test_reference_tamper_cases(arcb_sample: bytes, offset: int, value: int,
                                error: type[Exception], message: str) -> None:
    data = bytearray(arcb_sample)
    data[offset] = value
    with pytest.raises(error) as info:
        open_arcb(bytes(data), SecretBytes(ARPK))
    assert str(info.value) == message


def test_every_flipped_bit_is_refused(arcb_sample: bytes) -> None:
    arpk = SecretBytes(ARPK)
    for bit in range(len(arcb_sample) * 8):
        data = bytearray(arcb_sample)
        data[bit // 8] ^= 0x80 >> (bit % 8)
        with pytest.raises((FormatError, CryptoError)):
            open_arcb(bytes(data), arpk)


def test_flipped_arpk_bit_is_refused(arcb_sample: bytes) -> None:
    for bit in range(256):
        key = bytearray(ARPK)
        key[bit // 8] ^= 0x80 >> (bit % 8)
        with pytest.raises(CryptoError, match="GCM tag mismatch"):
            open_arcb(arcb_sample, SecretBytes(bytes(key)))


def test_size_fields(arcb_sample: bytes) -> None:
    with pytest.raises(FormatError, match="too small"):
        open_arcb(arcb_sample + b"\0", SecretBytes(ARPK))  # trailing byte beyond rql
    with pytest.raises(FormatError, match="too small"):
        open_arcb(arcb_sample[:-1], SecretBytes(ARPK))
    with pytest.raises(FormatError, match="too small"):
        open_arcb(arcb_sample[:40], SecretBytes(ARPK))
    data = bytearray(arcb_sample)
    data[0x2C:0x30] = (63).to_bytes(4, "big")  # encrypted size below the key size
    data[0x0C:0x10] = (0xE0 + 80 + 63 + 16).to_bytes(4, "big")
    with pytest.raises(FormatError, match="sice is to0 small 63"):
        open_arcb(bytes(data[: 0xE0 + 80 + 63 + 16]), SecretBytes(ARPK))


def test_arpk_file_size() -> None:
    assert read_arpk(ARPK).reveal() == ARPK
    for size in (0, 31, 33):
        with pytest.raises(InputError, match="exactly 32 bytes"):
            read_arpk(bytes(size))


def test_add_data_flags() -> None:
    assert add_data_flags([]) == FLAG_NONCE
    flags = add_data_flags(["phkh-img,secret-store-hash", "firmware-state", "phkh-img"])
    assert flags == 0x6C00000000000000  # observed with the reference (spec §3)
    assert flags == FLAG_NONCE | FLAG_IMAGE_PHKH | FLAG_SECRET_STORE_HASH | FLAG_FIRMWARE_STATE
    with pytest.raises(UsageError, match="invalid value 'phkh'"):
        add_data_flags(["phkh"])


def test_observed_create_sizes(vector_host_key: HostKey, host_pair: tuple[HostKey, object]) -> None:
    # two -k and --add-data phkh-img,secret-store-hash --add-data firmware-state (spec §3)
    request = create_attestation_request(
        [vector_host_key, host_pair[0]],
        add_data_flags(["phkh-img,secret-store-hash", "firmware-state"]))
    assert len(request.arcb) == 0x1E0
    exchange = request.exchange_bytes()
    assert len(exchange) == 0x220
    assert exchange[0x28:0x30] == (0x1A0).to_bytes(4, "big") + bytes(4)
    assert ExchangeRequest.from_bytes(exchange) == ExchangeRequest(request.arcb, 64, 0x1A0)
    assert "17" * 8 not in repr(request)  # the ARPK never shows


def test_fresh_requests_differ(vector_host_key: HostKey) -> None:
    a = create_attestation_request([vector_host_key])
    b = create_attestation_request([vector_host_key])
    assert a.arcb != b.arcb
    assert a.arpk != b.arpk
    opened = open_arcb(a.arcb, a.arpk)
    assert opened.nonce is not None
    assert opened.flags == FLAG_NONCE


def test_host_key_count_limits(arcb_keys: ArcbKeys) -> None:
    keys = [HostKey(ec.generate_private_key(ec.SECP521R1()).public_key()) for _ in range(3)]
    # the one host-key count check of every request (ADR 0062): an input error, exit 1
    with pytest.raises(InputError, match="No host-key"):
        build_arcb([], 0, arcb_keys)
    with pytest.raises(InputError, match="Too many host-keys provided: 258 > 255, the most an "
                                         "attestation request can carry"):
        build_arcb(keys * 86, 0, arcb_keys)  # 258


def test_255_host_keys_every_slot_opens(arcb_keys: ArcbKeys) -> None:
    privates = [ec.generate_private_key(ec.SECP521R1()) for _ in range(5)]
    hosts = [HostKey(p.public_key()) for p in privates]
    # 255 slots: the five keys repeated; every distinct key finds its (first) slot
    chosen = (hosts * 51)[:255]
    arcb = build_arcb(chosen, 0, arcb_keys)
    assert len(arcb) == arcb_size(255) == 0x140 + 0x50 * 255
    parsed = parse_arcb(arcb)
    assert parsed.key_slot_count == 255
    assert [s.host_key_hash for s in parsed.key_slots()] == [h.hash for h in chosen]
    for private in privates:
        opened, arpk = open_arcb_with_host_key(arcb, private)
        assert arpk.reveal() == ARPK
        assert opened.measurement_key.reveal() == MEASUREMENT_KEY


def test_open_with_host_key(host_pair: tuple[HostKey, ec.EllipticCurvePrivateKey],
                            arcb_keys: ArcbKeys) -> None:
    public, private = host_pair
    arcb = build_arcb([public], FLAG_SECRET_STORE_HASH, arcb_keys)
    opened, arpk = open_arcb_with_host_key(arcb, private)
    assert arpk.reveal() == ARPK
    assert opened.nonce == NONCE
    assert opened.flags == FLAG_NONCE | FLAG_SECRET_STORE_HASH
    with pytest.raises(CryptoError, match="no key slot for this host key"):
        open_arcb_with_host_key(arcb, ec.generate_private_key(ec.SECP521R1()))


def test_key_slot_structure_checked_for_the_ultravisor(
        host_pair: tuple[HostKey, ec.EllipticCurvePrivateKey], arcb_keys: ArcbKeys) -> None:
    public, private = host_pair
    data = bytearray(build_arcb([public], 0, arcb_keys))
    for count in (2, 0):  # two slots announced with one present; none
        data[0x27] = count
        with pytest.raises(FormatError, match="does not contain an attestation request") as info:
            open_arcb_with_host_key(bytes(data), private)
        assert "key slots" in info.value.details[0]


def test_no_nonce_variant(arcb_keys: ArcbKeys, vector_host_key: HostKey) -> None:
    """A 64-byte encrypted part (architecturally allowed) opens without a nonce."""
    from secexkit import crypto
    from secexkit.formats.attestation import ARCB_HEAD

    arcb = bytearray(build_arcb([vector_host_key], 0, arcb_keys))
    aad_size = ARCB_HEAD.size + 80
    arcb[0x0C:0x10] = (aad_size + 64 + 16).to_bytes(4, "big")
    arcb[0x2C:0x30] = (64).to_bytes(4, "big")
    aad = bytes(arcb[:aad_size])
    sealed = crypto.gcm_seal(SecretBytes(ARPK), b"\x55" * 12, aad, MEASUREMENT_KEY)
    opened = open_arcb(aad + sealed, SecretBytes(ARPK))
    assert opened.nonce is None
    assert opened.measurement_key.reveal() == MEASUREMENT_KEY


def test_reprs_hide_confidential_parts(arcb_sample: bytes, arcb_keys: ArcbKeys) -> None:
    opened = open_arcb(arcb_sample, SecretBytes(ARPK))
    for text in (repr(opened), str(opened), repr(arcb_keys)):
        assert "ab" * 16 not in text and "xab\\xab" not in text
        assert "77" * 8 not in text and "w" * 8 not in text
    assert "nonce=<16 bytes>" in repr(opened)
