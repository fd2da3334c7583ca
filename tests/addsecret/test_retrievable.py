"""Retrievable secrets: payload encodings, size rules and messages (spec §8.1)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x25519
from hypothesis import given, settings
from hypothesis import strategies as st

from secexkit.addsecret.retrievable import (
    RetrievableKind,
    ec_payload,
    plaintext_from_payload,
    plaintext_payload,
    retrievable_secret,
)
from secexkit.errors import InputError, SecexError
from secexkit.formats.request import SecretType

#: SHA-256("test retr secret"), the reference's expected ID
RETR_ID = bytes.fromhex("612cd63ea8f2c115c10e15b88a9016c155ef9c7c2c8e56d0784c8a1dc93a80ba")


@pytest.mark.parametrize(
    ("kind", "size", "expected"),
    [
        ("aes", 16, SecretType.AES_128),
        ("aes", 24, SecretType.AES_192),
        ("aes", 32, SecretType.AES_256),
        ("aes-xts", 32, SecretType.AES_XTS_128),
        ("aes-xts", 64, SecretType.AES_XTS_256),
        ("hmac-sha", 64, SecretType.HMAC_SHA_256),
        ("hmac-sha", 128, SecretType.HMAC_SHA_512),
    ],
)
def test_symmetric_keys(kind: str, size: int, expected: SecretType) -> None:
    secret = retrievable_secret("test retr secret", kind, b"\x11" * size)
    assert secret.secret_type == expected
    assert secret.payload.reveal() == b"\x11" * size
    assert secret.secret_id == RETR_ID
    assert secret.name == "test retr secret"


def test_plaintext_reference_examples() -> None:
    assert plaintext_payload(b"\x07" * 14) == b"\x00\x0e" + b"\x07" * 14
    assert plaintext_payload(b"\x07" * 10) == b"\x00\x0a" + b"\x07" * 10 + bytes(4)
    assert plaintext_payload(b"") == bytes(16)
    assert len(plaintext_payload(b"a" * 8190)) == 0x2000
    secret = retrievable_secret("PLAINTEXT_PAD", "plain", b"\x07" * 10)
    assert secret.secret_type == SecretType.PLAINTEXT
    assert secret.secret_id == bytes(
        [15, 123, 176, 210, 135, 231, 220, 232, 148, 93, 198, 195, 165, 212, 214, 129,
         45, 1, 94, 11, 167, 18, 151, 15, 120, 254, 13, 109, 173, 186, 37, 74]
    )


@given(st.binary(max_size=8190))
@settings(max_examples=60)
def test_plaintext_framing(data: bytes) -> None:
    payload = plaintext_payload(data)
    assert len(payload) % 16 == 0 and 16 <= len(payload) <= 0x2000
    assert int.from_bytes(payload[:2], "big") == len(data)
    assert payload[2 : 2 + len(data)] == data and not any(payload[2 + len(data) :])


@pytest.mark.parametrize(
    ("kind", "size", "message"),
    [
        ("plain", 8191, "Incorrect key size for a PLAINTEXT. Is: 8191; expected: less than 8192"),
        ("aes", 20, "Incorrect key size for a AES-KEY. Is: 160; expected: 128, 192, or 256"),
        ("aes", 0, "Incorrect key size for a AES-KEY. Is: 0; expected: 128, 192, or 256"),
        ("aes-xts", 40, "Incorrect key size for a AES-XTS-KEY. Is: 160; expected: 128 or 256"),
        ("hmac-sha", 100, "Incorrect key size for a HMAC-SHA-KEY. Is: 400; expected: 256 or 512"),
        # odd lengths: refused (the reference accepts them, docs/adr/0031)
        ("aes-xts", 33, "Incorrect key size for a AES-XTS-KEY. Is: 33 bytes; expected: 128 or 256"),
        ("aes-xts", 65, "Incorrect key size for a AES-XTS-KEY. Is: 65 bytes; expected: 128 or 256"),
        ("hmac-sha", 65,
         "Incorrect key size for a HMAC-SHA-KEY. Is: 65 bytes; expected: 256 or 512"),
        ("hmac-sha", 129,
         "Incorrect key size for a HMAC-SHA-KEY. Is: 129 bytes; expected: 256 or 512"),
    ],
)
def test_size_errors(kind: str, size: int, message: str) -> None:
    with pytest.raises(InputError) as err:
        retrievable_secret("n", kind, b"\x01" * size)
    assert str(err.value) == message


def _der(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
         | rsa.RSAPrivateKey | x25519.X25519PrivateKey, pem: bool = False) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM if pem else serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.mark.parametrize(
    ("curve", "expected", "size"),
    [
        (ec.SECP256R1(), SecretType.EC_SECP256R1, 32),
        (ec.SECP384R1(), SecretType.EC_SECP384R1, 48),
        (ec.SECP521R1(), SecretType.EC_SECP521R1, 80),
    ],
)
def test_ec_weierstrass(curve: ec.EllipticCurve, expected: SecretType, size: int) -> None:
    key = ec.generate_private_key(curve)
    for pem in (False, True):
        secret = retrievable_secret("k", "ec", _der(key, pem))
        assert secret.secret_type == expected
        payload = secret.payload.reveal()
        assert len(payload) == size
        assert int.from_bytes(payload, "big") == key.private_numbers().private_value


def test_ec_traditional_pem() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    pem = key.private_bytes(serialization.Encoding.PEM,
                            serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    assert retrievable_secret("k", "ec", pem).secret_type == SecretType.EC_SECP384R1


def test_ec_short_scalars_are_left_padded() -> None:
    # scalars with leading zero bytes keep their slot size
    for curve, size in ((ec.SECP256R1(), 32), (ec.SECP521R1(), 80)):
        key = ec.derive_private_key(0x1234, curve)
        _secret_type, payload = ec_payload(key)
        assert payload == (0x1234).to_bytes(size, "big")
    # P-521: at least 14 leading zero bytes (80 - 66)
    _, payload = ec_payload(ec.generate_private_key(ec.SECP521R1()))
    assert payload[:14] == bytes(14)


def test_edwards_keys() -> None:
    k25519 = ed25519.Ed25519PrivateKey.generate()
    secret_type, payload = ec_payload(k25519)
    assert secret_type == SecretType.EC_ED25519 and payload == k25519.private_bytes_raw()
    k448 = ed448.Ed448PrivateKey.generate()
    secret_type, payload = ec_payload(k448)
    assert secret_type == SecretType.EC_ED448
    assert len(payload) == 64 and payload[:7] == bytes(7)
    assert payload[7:] == k448.private_bytes_raw()
    assert retrievable_secret("k", "ec", _der(k448)).secret_type == SecretType.EC_ED448


def test_ec_rejected(vectors: Path) -> None:
    with pytest.raises(InputError) as err:
        retrievable_secret("k", "ec", (vectors / "keys" / "ecsecp256k1.pem").read_bytes())
    assert str(err.value) == (
        "Incorrect curve or format for a EC-PRIVATE-KEY. Is: secp256k1; "
        "expected: secp256r1, secp384r1, secp521r1, ed25519, or ed448"
    )
    with pytest.raises(InputError, match=r"Incorrect curve or format .* Is: undefined"):
        retrievable_secret("k", "ec", (vectors / "keys" / "rsa2048key.pem").read_bytes())
    with pytest.raises(InputError, match="Is: undefined"):
        retrievable_secret("k", "ec", _der(x25519.X25519PrivateKey.generate()))
    with pytest.raises(InputError) as err:
        retrievable_secret("k", "ec", b"garbage", source="key.bin")
    assert str(err.value) == "Cannot read key.bin as EC PRIVATE KEY from PEM or DER: no private key found"


def test_use_name_and_kinds() -> None:
    secret = retrievable_secret("short", RetrievableKind.AES, bytes(16), use_name=True)
    assert secret.secret_id == b"short".ljust(32, b"\0")
    assert secret.secret_id != hashlib.sha256(b"short").digest()
    with pytest.raises(ValueError):
        retrievable_secret("x", "rsa", b"")


@given(st.sampled_from(list(RetrievableKind)), st.binary(max_size=300))
@settings(max_examples=200)
def test_fuzz_inputs_end_in_our_errors(kind: RetrievableKind, data: bytes) -> None:
    try:
        secret = retrievable_secret("f", kind, data)
    except SecexError:
        return
    assert secret.payload.reveal()
    assert f"SecretBytes(<{len(secret.payload)} bytes>)" in repr(secret)


@given(st.binary(max_size=8190))
@settings(max_examples=100)
def test_plaintext_frame_round_trip(data: bytes) -> None:
    """The frame the create side writes is the frame the retrieve side reads (one Layout)."""
    payload = plaintext_payload(data)
    assert len(payload) % 16 == 0 and payload[:2] == len(data).to_bytes(2, "big")
    assert plaintext_from_payload(payload) == data


@given(data=st.binary(max_size=40), pad=st.integers(0, 20), junk=st.binary(max_size=2),
       claimed=st.one_of(st.none(), st.integers(0, 0xFFFF)))
@settings(max_examples=300)
def test_plaintext_from_buffers(data: bytes, pad: int, junk: bytes, claimed: int | None) -> None:
    """Frames near the well-formed ones: unwrapped exactly when length, padding and zeros fit."""
    length = len(data) if claimed is None else claimed
    buffer = length.to_bytes(2, "big") + data + bytes(pad) + junk
    end = 2 + length
    well_formed = (length <= 8190 and end <= len(buffer) and len(buffer) - end < 16
                   and not any(buffer[end:]))
    got = plaintext_from_payload(buffer)
    assert got == (buffer[2:end] if well_formed else None)
    assert plaintext_from_payload(buffer[:1]) is None


@pytest.mark.parametrize(("kind", "sizes"), [("aes", {16: 4, 24: 5, 32: 6}),
                                             ("aes-xts", {32: 7, 64: 8}),
                                             ("hmac-sha", {64: 9, 128: 10})])
def test_every_size_of_the_raw_key_kinds(kind: str, sizes: dict[int, int]) -> None:
    """0..260 bytes: exactly the listed sizes are accepted, as the listed type, unchanged."""
    name = {"aes": "AES-KEY", "aes-xts": "AES-XTS-KEY", "hmac-sha": "HMAC-SHA-KEY"}[kind]
    for size in range(261):
        data = bytes([size % 256]) * size
        if size in sizes:
            secret = retrievable_secret("k", kind, data)
            assert (secret.secret_type, secret.payload.reveal()) == (sizes[size], data)
            continue
        with pytest.raises(InputError) as err:
            retrievable_secret("k", kind, data)
        assert str(err.value).startswith(f"Incorrect key size for a {name}. Is: "), size
        assert "\n" not in str(err.value)
