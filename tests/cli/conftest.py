"""Fixtures of the pvsecret CLI tests: a host-key document, the reference SE header,
user-data signers and signed requests, a fake /dev/uv, and no real SE-guest detection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from secexkit.cli import pvsecret
from secexkit.cli.pvsecret import main
from tests.support.fake_uv import FakeUltravisor
from tests.support.keys import self_signed, write_host_key_document
from tests.support.pvsecret import Signer


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ec.EllipticCurvePrivateKey]:
    """A self-signed host-key document (no verification) and its private key."""
    return write_host_key_document(tmp_path_factory.mktemp("hkd"), "host")


@pytest.fixture(scope="module")
def hdr(vectors: Path) -> Path:
    """The reference SE header."""
    return vectors / "exp" / "secure_guest.hdr"


@pytest.fixture
def not_a_guest(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never consult the real sysfs flag or /dev/uv."""
    monkeypatch.setattr(pvsecret, "SE_GUEST_FLAG", str(tmp_path / "no-such-flag"))
    monkeypatch.setattr(pvsecret, "UV_DEVICE", str(tmp_path / "no-such-uv"))


@pytest.fixture(scope="module")
def signers(tmp_path_factory: pytest.TempPathFactory, vectors: Path) -> dict[str, Signer]:
    """An EC P-521 signer (generated) and the reference RSA-2048 and RSA-3072 signers."""
    directory = tmp_path_factory.mktemp("signers")
    ec_key = ec.generate_private_key(ec.SECP521R1())
    ec_file = directory / "ec.der"
    ec_file.write_bytes(ec_key.private_bytes(serialization.Encoding.DER,
                                             serialization.PrivateFormat.TraditionalOpenSSL,
                                             serialization.NoEncryption()))
    ec_cert = directory / "ec.crt"
    ec_cert.write_bytes(self_signed(ec_key, "user").public_bytes(serialization.Encoding.DER))
    keys = vectors / "keys"
    return {
        "ec": Signer(ec_file, ec_cert, 2, 256),
        "rsa2048": Signer(keys / "rsa2048key.pem", keys / "rsa2048.crt", 3, 256),
        "rsa3072": Signer(keys / "rsa3072key.pem", keys / "rsa3072.crt", 4, 128),
    }


@pytest.fixture(scope="module")
def signed(
    tmp_path_factory: pytest.TempPathFactory, signers: dict[str, Signer],
    host: tuple[Path, ec.EllipticCurvePrivateKey], hdr: Path,
) -> dict[str, Path]:
    """One request per signer, with user data of that signer's size limit."""
    directory = tmp_path_factory.mktemp("signed")
    out: dict[str, Path] = {}
    for name, signer in signers.items():
        data = directory / f"{name}.ud"
        data.write_bytes(b"\x56" * signer.limit)
        req = directory / f"{name}.req"
        code = main(["create", "-k", str(host[0]), "--hdr", str(hdr), "-o", str(req),
                     "--no-verify", "--user-data", str(data), "--user-sign-key",
                     str(signer.key_file), "retrievable", f"signed {name}", "--secret",
                     str(data), "--type", "plain"])
        assert code == 0
        out[name] = req
    return out


@pytest.fixture
def uv(not_a_guest: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
       host: tuple[Path, ec.EllipticCurvePrivateKey]) -> Iterator[FakeUltravisor]:
    """A fake ultravisor behind pvsecret's device calls, on an s390x machine."""
    fake = FakeUltravisor(host_key=host[1])
    device = tmp_path / "uv"
    device.write_bytes(b"")
    monkeypatch.setattr(pvsecret, "UV_DEVICE", str(device))
    monkeypatch.setattr(pvsecret, "UV_IOCTL", fake.ioctl)
    monkeypatch.setattr(pvsecret, "MACHINE", "s390x")
    yield fake
