"""Building and opening the SE header: the reference builder vector, unwrapping the protection
key with the host key, component tweaks, and the secret area under fuzzing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from secexkit.errors import CryptoError, SecexError
from secexkit.formats.se_header import parse_se_header
from secexkit.hostkeys import HostKey, parse_host_key_document
from secexkit.image import flags
from secexkit.image.components import ComponentKind, new_tweak_base, padded_size, page_tweak
from secexkit.image.header import (
    ComponentDigests,
    HeaderKeys,
    HeaderSecrets,
    build_se_header,
    decrypt_se_header,
    unwrap_protection_key,
)
from secexkit.secret import SecretBytes
from tests.support.se_header import builder_test_header


def test_builder_test_vector(vectors: Path, test_customer_key: ec.EllipticCurvePrivateKey,
                             vector_host_key: HostKey) -> None:
    expected = (vectors / "inline" / "pvimg_builder_test_sehdr.bin").read_bytes()
    built = builder_test_header(test_customer_key, vector_host_key)
    assert built == expected
    header = parse_se_header(built)
    secrets = decrypt_se_header(header, SecretBytes(b"\x32" * 32))
    assert (secrets.psw_mask, secrets.psw_address, secrets.scf) == (0x162E, 0x4D2, 0)
    assert secrets.cck.reveal() == b"\x31" * 32 and secrets.image_key.reveal() == b"\x03" * 64
    with pytest.raises(CryptoError, match="Failed to authenticate"):
        decrypt_se_header(header, SecretBytes(b"\x33" * 32))
    tampered = bytearray(built)
    tampered[0x38] ^= 0x80  # PCF is authenticated
    with pytest.raises(CryptoError):
        decrypt_se_header(parse_se_header(bytes(tampered)), SecretBytes(b"\x32" * 32))


def test_host_private_key_unwraps(vectors: Path) -> None:
    doc = vectors / "cert" / "host.crt"
    host = parse_host_key_document(doc.read_bytes(), str(doc)).host_key
    private = serialization.load_pem_private_key((vectors / "cert" / "host.key").read_bytes(), None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    keys = HeaderKeys.generate()
    built = build_se_header(
        host_keys=[host], keys=keys,
        secrets=HeaderSecrets(SecretBytes(bytes(32)), SecretBytes(bytes(range(64))), 1, 2, 3),
        digests=ComponentDigests(bytes(64), bytes(64), bytes(64), 0), pcf=flags.PCF_DEFAULT)
    header = parse_se_header(built)
    assert unwrap_protection_key(header, private) == keys.protection_key
    assert header.key_slots[0].host_key_hash.hex() == (
        "24933f75ee107c806fe602a7da7b610e54369af96a847f2dcc4fcfdbd81fbc05")
    with pytest.raises(CryptoError, match="no key slot"):
        unwrap_protection_key(header, ec.generate_private_key(ec.SECP521R1()))
    assert "protection" not in repr(keys) and "00" not in repr(decrypt_se_header(
        header, keys.protection_key))


def test_tweaks() -> None:
    base = new_tweak_base(ComponentKind.KERNEL, b"\x01" * 6)
    assert base == bytes.fromhex("0028010101010101") + bytes(8)
    assert page_tweak(base, 3)[-8:] == (0x3000).to_bytes(8, "big")
    assert page_tweak(b"\xff" * 16, 1) == (0xFFF).to_bytes(16, "big")  # 128-bit wrap
    assert [padded_size(n) for n in (0, 1, 4096, 4097)] == [4096, 4096, 4096, 8192]


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=128, max_size=128))
def test_fuzz_secret_area(data: bytes) -> None:
    try:
        secrets = HeaderSecrets.from_bytes(data)
    except SecexError:
        assert data[0x78:0x7C] != bytes(4)
        return
    assert secrets.to_bytes()[:0x78] == data[:0x78]
