"""pvsecret create, every secret type end to end, and secrets it refuses.

Requests are created through the CLI entry point in-process and then opened
here, independently of the library, the way the ultravisor does it (see
:func:`tests.support.pvsecret.open_as_ultravisor`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519

from secexkit.addsecret.name_yaml_reader import parse_secret_info
from tests.support.pvsecret import Opened, create, open_as_ultravisor, pkcs8

pytestmark = pytest.mark.usefixtures("not_a_guest")


SYMMETRIC = [
    ("plain", b"\x07" * 10, 3, b"\x00\x0a" + b"\x07" * 10 + bytes(4)),
    ("plain", b"", 3, bytes(16)),
    ("plain", b"p" * 8190, 3, b"\x1f\xfe" + b"p" * 8190),
    ("aes", b"\x01" * 16, 4, b"\x01" * 16),
    ("aes", b"\x02" * 24, 5, b"\x02" * 24),
    ("aes", b"\x03" * 32, 6, b"\x03" * 32),
    ("aes-xts", b"\x04" * 32, 7, b"\x04" * 32),
    ("aes-xts", b"\x05" * 64, 8, b"\x05" * 64),
    ("hmac-sha", b"\x06" * 64, 9, b"\x06" * 64),
    ("hmac-sha", b"\x07" * 128, 10, b"\x07" * 128),
]


TYPE_NAMES = {3: "PLAINTEXT", 4: "AES-128-KEY", 5: "AES-192-KEY", 6: "AES-256-KEY",
              7: "AES-XTS-128-KEY", 8: "AES-XTS-256-KEY", 9: "HMAC-SHA-256-KEY",
              10: "HMAC-SHA-512-KEY", 0x11: "EC-SECP256R1-PRIVATE-KEY",
              0x12: "EC-SECP384R1-PRIVATE-KEY", 0x13: "EC-SECP521R1-PRIVATE-KEY",
              0x14: "EC-ED25519-PRIVATE-KEY", 0x15: "EC-ED448-PRIVATE-KEY"}


def _check_named(opened: Opened, out: Path, name: str, secret_type: int, payload: bytes) -> None:
    assert opened.secret_type == secret_type
    assert opened.payload == payload
    assert opened.secret_length == len(payload)
    assert opened.secret_id == hashlib.sha256(name.encode()).digest()
    assert opened.extension == bytes(32)
    assert opened.user_data_type == 0 and opened.user_data == bytes(512)
    yaml_path = out.parent / (name.replace(" ", "_") + ".yaml")
    text = yaml_path.read_text()
    assert text == (f"!Retrievable\nkind: {secret_type} ({TYPE_NAMES[secret_type]})\n"
                    f"name: {name}\nid: 0x{opened.secret_id.hex()}\n")
    info = parse_secret_info(text)
    assert info.secret_id == opened.secret_id and info.secret_type == secret_type


@pytest.mark.parametrize(("kind", "data", "secret_type", "payload"), SYMMETRIC)
def test_symmetric_and_plain_end_to_end(
    tmp_path: Path, host: tuple[Path, ec.EllipticCurvePrivateKey], hdr: Path,
    capsysbinary: pytest.CaptureFixture[bytes], kind: str, data: bytes, secret_type: int,
    payload: bytes,
) -> None:
    secret_file = tmp_path / "secret.bin"
    secret_file.write_bytes(data)
    out = tmp_path / "req.bin"
    code, stdout, err = create(capsysbinary, host[0], hdr, out, "retrievable", "my secret",
                               "--secret", secret_file, "--type", kind)
    assert code == 0, err
    assert stdout == b""
    assert "Successfully wrote secret info to" in err
    _check_named(open_as_ultravisor(out.read_bytes(), host[1]), out, "my secret", secret_type,
                 payload)


EC_CASES = [
    (lambda: ec.generate_private_key(ec.SECP256R1()), 0x11, 32),
    (lambda: ec.generate_private_key(ec.SECP384R1()), 0x12, 48),
    (lambda: ec.generate_private_key(ec.SECP521R1()), 0x13, 80),
    (lambda: ec.derive_private_key(5, ec.SECP521R1()), 0x13, 80),  # short scalar: left-padded
    (ed25519.Ed25519PrivateKey.generate, 0x14, 32),
    (ed448.Ed448PrivateKey.generate, 0x15, 64),
]


@pytest.mark.parametrize(("make", "secret_type", "size"), EC_CASES)
@pytest.mark.parametrize("pem", [False, True])
def test_ec_end_to_end(
    tmp_path: Path, host: tuple[Path, ec.EllipticCurvePrivateKey], hdr: Path,
    capsysbinary: pytest.CaptureFixture[bytes], make: object, secret_type: int, size: int,
    pem: bool,
) -> None:
    key = make()  # type: ignore[operator]
    secret_file = tmp_path / "key"
    secret_file.write_bytes(pkcs8(key, pem))
    out = tmp_path / "req.bin"
    code, _, err = create(capsysbinary, host[0], hdr, out, "retr", "eckey", "--secret", secret_file,
                          "--type", "ec")
    assert code == 0, err
    if isinstance(key, ec.EllipticCurvePrivateKey):
        expected = key.private_numbers().private_value.to_bytes(size, "big")
    else:
        expected = key.private_bytes_raw().rjust(size, b"\0")
    assert len(expected) == size
    _check_named(open_as_ultravisor(out.read_bytes(), host[1]), out, "eckey", secret_type,
                 expected)


def test_update_cck_and_stdout_yaml(
    tmp_path: Path, host: tuple[Path, ec.EllipticCurvePrivateKey], hdr: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    cck = tmp_path / "cck"
    cck.write_bytes(b"\x21" * 32)
    out = tmp_path / "req"
    code, _, err = create(capsysbinary, host[0], hdr, out, "cck", "--secret", cck)
    assert code == 0, err
    opened = open_as_ultravisor(out.read_bytes(), host[1])
    assert (opened.secret_type, opened.secret_length, opened.secret_id) == (0x16, 32, bytes(32))
    assert opened.payload == b"\x21" * 32
    secret = tmp_path / "s"
    secret.write_bytes(b"k" * 16)
    code, stdout, err = create(capsysbinary, host[0], hdr, out, "retrievable", "on stdout",
                               "--secret", secret, "--type", "aes", "--stdout", "--use-name")
    assert code == 0, err
    assert stdout == (b"!Retrievable\nkind: 4 (AES-128-KEY)\nname: on stdout\nid: 0x"
                      + b"on stdout".ljust(32, b"\0").hex().encode() + b"\n\n")
    assert not (tmp_path / "on_stdout.yaml").exists()
    assert open_as_ultravisor(out.read_bytes(), host[1]).secret_id == b"on stdout".ljust(32, b"\0")


@pytest.mark.parametrize(
    ("kind", "content", "message"),
    [
        ("plain", b"a" * 8191, "Incorrect key size for a PLAINTEXT. Is: 8191; expected: less than 8192"),
        ("aes", b"a" * 20, "Incorrect key size for a AES-KEY. Is: 160; expected: 128, 192, or 256"),
        ("aes", b"", "Incorrect key size for a AES-KEY. Is: 0"),
        ("aes-xts", b"a" * 40, "Incorrect key size for a AES-XTS-KEY. Is: 160; expected: 128 or 256"),
        ("aes-xts", b"a" * 33, "Incorrect key size for a AES-XTS-KEY. Is: 33 bytes"),
        ("hmac-sha", b"a" * 100, "Incorrect key size for a HMAC-SHA-KEY. Is: 400; expected: 256 or 512"),
        ("hmac-sha", b"a" * 65, "Incorrect key size for a HMAC-SHA-KEY. Is: 65 bytes"),
        ("ec", b"not a key", "as EC PRIVATE KEY from PEM or DER"),
    ],
)
def test_invalid_secrets_refused(
    tmp_path: Path, host: tuple[Path, ec.EllipticCurvePrivateKey], hdr: Path,
    capsysbinary: pytest.CaptureFixture[bytes], kind: str, content: bytes, message: str,
) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(content)
    out = tmp_path / "out" / "req"
    out.parent.mkdir()
    code, stdout, err = create(capsysbinary, host[0], hdr, out, "retrievable", "n", "--secret", secret,
                               "--type", kind)
    assert code == 1
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert "Traceback" not in err and stdout == b""
    assert list(out.parent.iterdir()) == []
