"""Fixtures shared by the attestation tests (all derived from the ``vectors`` fixture)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from secexkit.attest.request import ArcbKeys
from secexkit.crypto.keyslots import EnvelopeKeys
from secexkit.formats.se_header import BootHdrTags, read_se_header
from secexkit.hostkeys import HostKey, parse_host_key_document
from secexkit.secret import SecretBytes
from tests.support.attest import ARPK, MEASUREMENT_KEY, NONCE


@pytest.fixture
def arcb_keys(test_customer_key: ec.EllipticCurvePrivateKey) -> ArcbKeys:
    """The fixed randomness of the reference test ``arcb`` (exp/arcb.bin)."""
    return ArcbKeys(EnvelopeKeys(b"\x55" * 12, test_customer_key, SecretBytes(ARPK)),
                    SecretBytes(MEASUREMENT_KEY), NONCE)


@pytest.fixture(scope="session")
def guest_tags(vectors: Path) -> BootHdrTags:
    """PLD/ALD/TLD/tag of exp/secure_guest.hdr (the guest of the derived responses)."""
    with open(vectors / "exp" / "secure_guest.hdr", "rb") as stream:
        return read_se_header(stream).boot_tags


@pytest.fixture(scope="session")
def arcb_sample(vectors: Path) -> bytes:
    return (vectors / "exp" / "arcb.bin").read_bytes()


@pytest.fixture(scope="session")
def host_pair(vectors: Path) -> tuple[HostKey, ec.EllipticCurvePrivateKey]:
    """cert/host.crt and its private key cert/host.key: the ultravisor's side is playable."""
    cert = vectors / "cert" / "host.crt"
    public = parse_host_key_document(cert.read_bytes(), str(cert)).host_key
    private = serialization.load_pem_private_key((vectors / "cert" / "host.key").read_bytes(), None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    return public, private
