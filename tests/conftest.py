"""Shared fixtures: the reference vectors (one place) and a generated test PKI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from secexkit.formats.se_header import BootHdrTags
from secexkit.hostkeys import HostKey, parse_host_key_document

ROOT = Path(__file__).resolve().parent.parent


def _vectors_dir() -> Path:
    override = os.environ.get("SECEXKIT_VECTORS")
    return Path(override) if override else ROOT.parent / "shared" / "vectors" / "s390-tools"


@pytest.fixture(scope="session")
def vectors() -> Path:
    """The s390-tools reference vectors: ../shared/vectors/s390-tools.

    Missing vectors fail under CI (CI=true) and skip elsewhere.
    """
    path = _vectors_dir()
    if not (path / "exp" / "asrcb").is_dir():
        message = f"reference vectors not found at {path} (set SECEXKIT_VECTORS)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def test_customer_key(vectors: Path) -> ec.EllipticCurvePrivateKey:
    scalar = int.from_bytes((vectors / "keys" / "private_cust.bin").read_bytes(), "big")
    return ec.derive_private_key(scalar, ec.SECP521R1())


@pytest.fixture(scope="session")
def vector_host_key(vectors: Path) -> HostKey:
    path = vectors / "keys" / "host.pem.crt"
    return parse_host_key_document(path.read_bytes(), str(path)).host_key


@pytest.fixture(scope="session")
def vector_tags() -> BootHdrTags:
    return BootHdrTags(b"\x01" * 64, b"\x02" * 64, b"\x03" * 64, b"\x04" * 16)
