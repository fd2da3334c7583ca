"""pvsecret key and certificate files that cannot be used: encrypted, empty, the wrong kind
of object, or a key of an unsupported type; each fails in one line and leaves no output.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from tests.support.keys import self_signed
from tests.support.pvsecret import Capture, Host, cli, create, failed

pytestmark = pytest.mark.usefixtures("not_a_guest")


@pytest.mark.parametrize("name", ["ecsecp256k1.pem", "rsa4096key.pem"])
def test_ec_and_signing_keys_of_wrong_type(
    tmp_path: Path, host: tuple[Path, ec.EllipticCurvePrivateKey], hdr: Path, vectors: Path,
    capsysbinary: pytest.CaptureFixture[bytes], name: str,
) -> None:
    key = vectors / "keys" / name
    out = tmp_path / "o" / "req"
    out.parent.mkdir()
    code, _, err = create(capsysbinary, host[0], hdr, out, "--user-sign-key", key, "meta")
    assert code == 1
    held = "an EC secp256k1 key" if "ec" in name else "an RSA 4096-bit key"
    assert err == ("error: Unsupported user data signing key provided. Only EC(secp521r1) and "
                   f"RSA(2048 & 3072 bit) are supported (`{key}` holds {held})\n")
    code, _, err = create(capsysbinary, host[0], hdr, out, "retr", "n", "--secret", key, "--type", "ec")
    assert code == 1
    expected = "Is: secp256k1;" if "ec" in name else "Is: undefined"
    assert "Incorrect curve or format for a EC-PRIVATE-KEY." in err and expected in err
    assert list(out.parent.iterdir()) == []


@pytest.fixture(scope="module")
def key_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("keyfiles")
    key = ec.generate_private_key(ec.SECP521R1())
    cert = self_signed(key, "k")
    files = {
        "encrypted.pem": key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw")),
        "encrypted.der": key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw")),
        "cert.pem": cert.public_bytes(serialization.Encoding.PEM),
        "public.pem": key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        "empty": b"",
        "key.pem": key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()),
    }
    out = {}
    for name, data in files.items():
        (directory / name).write_bytes(data)
        out[name] = directory / name
    return out


UNUSABLE = [
    ("encrypted.pem", "the key is encrypted"),
    ("encrypted.der", "the key is encrypted"),
    ("cert.pem", "it holds a certificate, not a private key"),
    ("public.pem", "it holds a public key"),
    ("empty", "the file is empty"),
]


@pytest.mark.parametrize(("name", "why"), UNUSABLE)
def test_unusable_key_files(tmp_path: Path, host: Host, hdr: Path, capsysbinary: Capture,
                            key_files: dict[str, Path], name: str, why: str) -> None:
    out = tmp_path / "o" / "req"
    out.parent.mkdir()
    path = key_files[name]
    code, stdout, err = create(capsysbinary, host[0], hdr, out, "retr", "n", "--secret", path,
                               "--type", "ec")
    failed(code, stdout, err, f"Cannot read {path} as EC PRIVATE KEY from PEM or DER: {why}")
    code, stdout, err = create(capsysbinary, host[0], hdr, out, "--user-sign-key", path, "meta")
    failed(code, stdout, err, f"Cannot read {path} as private key from PEM or DER: {why}")
    assert list(out.parent.iterdir()) == []


def test_private_key_as_user_cert(tmp_path: Path, signed: dict[str, Path],
                                  key_files: dict[str, Path], capsysbinary: Capture) -> None:
    out = tmp_path / "ud"
    code, stdout, err = cli(capsysbinary, "verify", signed["ec"], out, "--user-cert",
                            key_files["key.pem"])
    failed(code, stdout, err, "File does not contain a X509 certificate (it holds a private key)")
    assert not out.exists()


def test_certificate_of_another_key_type(tmp_path: Path, host: Host, hdr: Path,
                                         signed: dict[str, Path], capsysbinary: Capture) -> None:
    """An Ed25519 certificate is ignored without user data and a type mismatch with it."""
    import datetime

    from cryptography import x509
    from cryptography.x509.oid import NameOID

    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ed")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, None))
    cert_file = tmp_path / "ed.crt"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    plain = tmp_path / "plain"
    assert create(capsysbinary, host[0], hdr, plain, "meta")[0] == 0
    code, _, err = cli(capsysbinary, "verify", plain, "--user-cert", cert_file)
    assert code == 0, err
    code, stdout, err = cli(capsysbinary, "verify", signed["ec"], "--user-cert", cert_file)
    failed(code, stdout, err, "Provided user-data key type (Unknown: Ed25519) does not match "
            "with the user-data (ECDSA signed)")
