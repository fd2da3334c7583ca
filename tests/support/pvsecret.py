"""pvsecret from the outside: run the CLI in-process, create requests, and open them the
way the ultravisor does, independently of secexkit (offsets of spec section 2, crypto of
section 7)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from secexkit.cli.pvsecret import main

Host = tuple[Path, ec.EllipticCurvePrivateKey]
Capture = pytest.CaptureFixture[bytes]


def cli(capsys: pytest.CaptureFixture[bytes], *argv: str | Path) -> tuple[int, bytes, str]:
    """Run pvsecret with ``argv``: exit code, stdout bytes, stderr text."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err.decode() if isinstance(err, bytes) else err


@dataclass
class Opened:
    """The fields of a request opened without secexkit."""

    raw: bytes
    user_data_type: int
    user_data: bytes
    secret_type: int
    secret_length: int
    secret_id: bytes | None
    payload: bytes
    extension: bytes


def open_as_ultravisor(raw: bytes, host_key: ec.EllipticCurvePrivateKey) -> Opened:
    """Decrypt a request without secexkit: offsets of spec §2, crypto of §7."""
    nks = raw[0x27]
    sea = int.from_bytes(raw[0x2C:0x30], "big")
    assert int.from_bytes(raw[0x0C:0x10], "big") == len(raw)
    x = int.from_bytes(raw[0x418:0x468], "big")
    y = int.from_bytes(raw[0x468:0x4B8], "big")
    customer = ec.EllipticCurvePublicNumbers(x, y, ec.SECP521R1()).public_key()
    shared = host_key.exchange(ec.ECDH(), customer)
    kek = hashlib.sha256(shared + b"\0\0\0\1").digest()
    pub = host_key.public_key().public_numbers()
    phkh = hashlib.sha256(pub.x.to_bytes(80, "big") + pub.y.to_bytes(80, "big")).digest()
    slot = raw[0x4B8 : 0x4B8 + 0x50]
    assert nks == 1 and slot[:32] == phkh
    protection_key = AESGCM(kek).decrypt(bytes(12), slot[32:80], None)
    hdr_off = 0x4B8 + 0x50 * nks
    secret_type = int.from_bytes(raw[hdr_off + 2 : hdr_off + 4], "big")
    hdr_size = 0x10 if secret_type == 1 else 0x30
    aad_end = hdr_off + hdr_size
    assert aad_end + sea + 16 == len(raw)
    plain = AESGCM(protection_key).decrypt(raw[0x10:0x1C], raw[aad_end:], raw[:aad_end])
    return Opened(
        raw=raw,
        user_data_type=int.from_bytes(raw[6:8], "big"),
        user_data=raw[0x218:0x418],
        secret_type=secret_type,
        secret_length=int.from_bytes(raw[hdr_off + 4 : hdr_off + 8], "big"),
        secret_id=raw[hdr_off + 0x10 : hdr_off + 0x30] if hdr_size == 0x30 else None,
        payload=plain[:-32],
        extension=plain[-32:],
    )


def create(capsys: pytest.CaptureFixture[bytes], host: Path, hdr: Path, out: Path | str,
           *args: str | Path) -> tuple[int, bytes, str]:
    """``pvsecret create`` with host key, header and output, verification off."""
    return cli(capsys, "create", "-k", host, "--hdr", hdr, "-o", out, "--no-verify", *args)


def pkcs8(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
           | ed448.Ed448PrivateKey, pem: bool) -> bytes:
    """The key as unencrypted PKCS#8, PEM or DER."""
    return key.private_bytes(
        serialization.Encoding.PEM if pem else serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


@dataclass
class Signer:
    """A user-data signing key, its certificate, its user-data type and size limit."""

    key_file: Path
    cert_file: Path
    user_data_type: int
    limit: int


def failed(code: int, stdout: bytes, err: str, *needles: str) -> None:
    """Exit 1, nothing on stdout, exactly one line ``error: ...`` holding every needle."""
    assert code == 1, err
    assert stdout == b""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)
