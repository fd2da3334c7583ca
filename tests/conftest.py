"""Shared fixtures: the reference vectors (the one place that finds them), the generated
test PKI (built once per session), a CRL server on 127.0.0.1 and a proxy-free environment.

Helpers that are not fixtures live in ``tests/support``; no work happens at import time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from secexkit.formats.se_header import BootHdrTags
from secexkit.hostkeys import HostKey, parse_host_key_document
from tests.support import pki
from tests.support.http_server import PROXY_VARIABLES, Server, serve

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


@pytest.fixture(scope="session")
def pki_set() -> pki.PkiSet:
    """The standard valid test PKI (root, intermediate, IBM Z signing key, host keys, CRLs).

    Built once per session; tests derive broken variants from it and never change it.
    """
    return pki.build_pki()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """An HTTP server (and CONNECT proxy) on 127.0.0.1; routes are added by the tests."""
    with serve() as running:
        yield running


@pytest.fixture
def no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy variables: tests talk to 127.0.0.1 directly unless they set a proxy."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture(autouse=True)
def no_software_ultravisor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests choose the software ultravisor explicitly; an exported SECEXKIT_UV must not leak in."""
    monkeypatch.delenv("SECEXKIT_UV", raising=False)
    monkeypatch.delenv("SECEXKIT_UV_GUEST", raising=False)
