"""pvsecret end to end (issue 4): every secret type, signed user data, verify, /dev/uv commands.

Requests are created through the CLI entry point in-process and then opened
here, independently of the library, the way the ultravisor does it:
ECDH(host private key, customer public key at 0x418) -> KEK -> unwrap the key
slot -> AES-256-GCM with the whole plaintext part as AAD.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from secexkit.addsecret.name_yaml_reader import load_yaml12, parse_secret_info
from secexkit.cli import pvsecret
from secexkit.cli.pvsecret import main
from secexkit.formats.secret_list import parse_secret_list
from tests.support.fake_uv import FakeUltravisor
from tests.support.keys import self_signed, write_host_key_document

# --- fixtures and helpers -----------------------------------------------------------------


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ec.EllipticCurvePrivateKey]:
    return write_host_key_document(tmp_path_factory.mktemp("hkd"), "host")


@pytest.fixture(scope="module")
def hdr(vectors: Path) -> Path:
    return vectors / "exp" / "secure_guest.hdr"


@pytest.fixture(autouse=True)
def not_a_guest(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never consult the real sysfs flag or /dev/uv."""
    monkeypatch.setattr(pvsecret, "SE_GUEST_FLAG", str(tmp_path / "no-such-flag"))
    monkeypatch.setattr(pvsecret, "UV_DEVICE", str(tmp_path / "no-such-uv"))


def cli(capsys: pytest.CaptureFixture[bytes], *argv: str | Path) -> tuple[int, bytes, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err.decode() if isinstance(err, bytes) else err


@dataclass
class Opened:
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
    return cli(capsys, "create", "-k", host, "--hdr", hdr, "-o", out, "--no-verify", *args)


def _pkcs8(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
           | ed448.Ed448PrivateKey, pem: bool) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM if pem else serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


# --- every secret type end to end -----------------------------------------------------------

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
    secret_file.write_bytes(_pkcs8(key, pem))
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


# --- refused inputs ------------------------------------------------------------------------


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


def test_user_data_too_large(
    tmp_path: Path, host: tuple[Path, ec.EllipticCurvePrivateKey], hdr: Path, vectors: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    data = tmp_path / "ud"
    data.write_bytes(b"u" * 300)
    out = tmp_path / "req"
    code, _, err = create(capsysbinary, host[0], hdr, out, "--user-data", data, "--user-sign-key",
                          vectors / "keys" / "rsa2048key.pem", "meta")
    assert code == 1
    assert err == ("error: Invalid RSA 2048 signed user-data for signing provided. "
                   f"Max 256 bytes allowed (`{data}` has 300 bytes)\n")
    data.write_bytes(b"u" * 513)
    code, _, err = create(capsysbinary, host[0], hdr, out, "--user-data", data, "meta")
    assert code == 1 and "Max 512 bytes allowed" in err
    assert not out.exists()


# --- signed user data and verify -------------------------------------------------------------


@dataclass
class Signer:
    key_file: Path
    cert_file: Path
    user_data_type: int
    limit: int


@pytest.fixture(scope="module")
def signers(tmp_path_factory: pytest.TempPathFactory, vectors: Path) -> dict[str, Signer]:
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


@pytest.mark.parametrize("name", ["ec", "rsa2048", "rsa3072"])
def test_signed_request_verifies_with_its_cert_only(
    tmp_path: Path, signers: dict[str, Signer], signed: dict[str, Path],
    host: tuple[Path, ec.EllipticCurvePrivateKey], capsysbinary: pytest.CaptureFixture[bytes],
    name: str,
) -> None:
    signer, req = signers[name], signed[name]
    opened = open_as_ultravisor(req.read_bytes(), host[1])  # the tag covers the signature
    assert opened.user_data_type == signer.user_data_type
    assert opened.payload[2 : 2 + signer.limit] == b"\x56" * signer.limit
    out = tmp_path / "ud.out"
    code, _, err = cli(capsysbinary, "verify", req, out, "--user-cert", signer.cert_file)
    assert code == 0, err
    assert "Successfully verified the request." in err
    assert out.read_bytes() == b"\x56" * signer.limit
    for other, other_signer in signers.items():
        if other == name:
            continue
        code, _, err = cli(capsysbinary, "verify", req, tmp_path / "x", "--user-cert",
                           other_signer.cert_file)
        assert code == 1 and "does not match with the user-data" in err
        assert not (tmp_path / "x").exists()
    code, _, err = cli(capsysbinary, "verify", req)
    assert code == 1
    assert "No user-key for verification provided and user-data is signed" in err


def test_wrong_key_of_the_same_type(
    tmp_path: Path, signed: dict[str, Path], capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    other = ec.generate_private_key(ec.SECP521R1())
    cert = tmp_path / "other.crt"
    cert.write_bytes(self_signed(other, "other").public_bytes(serialization.Encoding.PEM))
    code, _, err = cli(capsysbinary, "verify", signed["ec"], tmp_path / "o", "--user-cert", cert)
    assert code == 1
    assert err == ("error: Could not verify the add-secret request in "
                   f"'{signed['ec']}': The user-defined request signature could not be "
                   "verified with the provided certificate\n")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("name", ["ec", "rsa2048", "rsa3072"])
def test_any_byte_change_fails_verify(
    tmp_path: Path, signers: dict[str, Signer], signed: dict[str, Path],
    capsysbinary: pytest.CaptureFixture[bytes], name: str,
) -> None:
    """Through the CLI: a sample of single-byte changes in every region before the tag
    (the library test flips every byte)."""
    raw = signed[name].read_bytes()
    positions = sorted(set(range(0, len(raw) - 16, 13)) | set(range(0x218, 0x418, 3))
                       | {0, 6, 7, 0x27, 0x417, len(raw) - 17})
    bad = tmp_path / "bad"
    out = tmp_path / "out"
    for pos in positions:
        changed = bytearray(raw)
        changed[pos] ^= 0x80
        bad.write_bytes(changed)
        code, stdout, err = cli(capsysbinary, "verify", bad, out, "--user-cert",
                                signers[name].cert_file)
        assert code == 1, hex(pos)
        assert stdout == b""
        assert err.startswith("error: ") and err.count("\n") == 1
        assert not out.exists()


def test_unsigned_user_data_and_verify_output(
    tmp_path: Path, host: tuple[Path, ec.EllipticCurvePrivateKey], hdr: Path, vectors: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    data = tmp_path / "ud"
    data.write_bytes(b"hello")
    req = tmp_path / "req"
    code, _, err = create(capsysbinary, host[0], hdr, req, "--user-data", data, "meta")
    assert code == 0, err
    assert open_as_ultravisor(req.read_bytes(), host[1]).user_data_type == 1
    code, stdout, err = cli(capsysbinary, "verify", req)
    assert code == 0 and stdout == b"hello".ljust(512, b"\0")
    code, _, err = cli(capsysbinary, "verify", req, "--user-cert", vectors / "keys" / "rsa2048.crt")
    assert code == 1
    assert ("Provided user-data key type (RSA 2048) does not match with the user-data (unsigned)"
            in err)
    # no user data: nothing is written, a certificate is ignored
    plain = tmp_path / "plain"
    assert create(capsysbinary, host[0], hdr, plain, "meta")[0] == 0
    code, stdout, _ = cli(capsysbinary, "verify", plain, tmp_path / "none", "--user-cert",
                          vectors / "keys" / "rsa2048.crt")
    assert code == 0 and stdout == b"" and not (tmp_path / "none").exists()


def test_empty_user_data_file(
    tmp_path: Path, host: tuple[Path, ec.EllipticCurvePrivateKey], hdr: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    data = tmp_path / "ud"
    data.write_bytes(b"")
    req = tmp_path / "req"
    code, _, err = create(capsysbinary, host[0], hdr, req, "--user-data", data, "meta")
    assert code == 0 and "Added empty user-data file." in err
    opened = open_as_ultravisor(req.read_bytes(), host[1])
    assert opened.user_data_type == 1 and opened.user_data == bytes(512)


def test_signing_key_without_data(
    tmp_path: Path, host: tuple[Path, ec.EllipticCurvePrivateKey], hdr: Path,
    signers: dict[str, Signer], capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    req = tmp_path / "req"
    code, _, err = create(capsysbinary, host[0], hdr, req, "--user-sign-key",
                          signers["rsa3072"].key_file, "meta")
    assert code == 0, err
    assert open_as_ultravisor(req.read_bytes(), host[1]).user_data_type == 4
    code, stdout, _ = cli(capsysbinary, "verify", req, "--user-cert", signers["rsa3072"].cert_file)
    assert code == 0 and stdout == bytes(128)


def test_policy_and_toc_policy(
    tmp_path: Path, host: tuple[Path, ec.EllipticCurvePrivateKey], hdr: Path,
    capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("ud").write_bytes(b"hello")
    toc = tmp_path / "toc"
    toc.write_text("existing\n")
    code, stdout, err = create(capsysbinary, host[0], hdr, "req", "--policy", "ud",
                               "--toc-policy", toc, "meta")
    assert code == 0, err
    digest = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert stdout == (digest + "\n").encode()
    raw = Path("req").read_bytes()
    opened = open_as_ultravisor(raw, host[1])
    assert opened.user_data_type == 1
    assert opened.user_data == (bytes.fromhex(digest) + b"ud").ljust(512, b"\0")
    assert toc.read_text() == f"existing\n{raw[-16:].hex()}\n"
    code, _, err = create(capsysbinary, host[0], hdr, "req2", "--policy", "ud", "--user-data", "ud",
                          "meta")
    assert code == 2 and "cannot be used with" in err and not Path("req2").exists()


# --- SE-guest refusal -----------------------------------------------------------------------


def test_create_refused_inside_se_guest(
    tmp_path: Path, host: tuple[Path, ec.EllipticCurvePrivateKey], hdr: Path,
    capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch,
) -> None:
    flag = tmp_path / "prot_virt_guest"
    flag.write_text("1\n")
    monkeypatch.setattr(pvsecret, "SE_GUEST_FLAG", str(flag))
    monkeypatch.setattr(pvsecret, "MACHINE", "s390x")
    out = tmp_path / "req"
    code, _, err = create(capsysbinary, host[0], hdr, out, "meta")
    assert code == 1
    assert err == ("The system seems to be a Secure Execution guest\n"
                   "error: Do NOT generate Add-secret requests on a machine where you want to "
                   "use the secret! Overwrite with '-f'\n")
    assert not out.exists()
    code, _, err = create(capsysbinary, host[0], hdr, out, "-f", "meta")
    assert code == 0 and "WARNING: Enforcing of generating a request" in err and out.exists()
    flag.write_text("0\n")
    out.unlink()
    assert create(capsysbinary, host[0], hdr, out, "meta")[0] == 0


# --- the ultravisor device commands ----------------------------------------------------------


@pytest.fixture
def uv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
       host: tuple[Path, ec.EllipticCurvePrivateKey]) -> Iterator[FakeUltravisor]:
    fake = FakeUltravisor(host_key=host[1])
    device = tmp_path / "uv"
    device.write_bytes(b"")
    monkeypatch.setattr(pvsecret, "UV_DEVICE", str(device))
    monkeypatch.setattr(pvsecret, "UV_IOCTL", fake.ioctl)
    monkeypatch.setattr(pvsecret, "MACHINE", "s390x")
    yield fake


@pytest.mark.parametrize(
    "argv", [["add", "x"], ["list"], ["lock"], ["retrieve", "x"], ["retr", "--inform", "idx", "1"]]
)
def test_device_commands_need_s390x(
    capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch, argv: list[str],
) -> None:
    monkeypatch.setattr(pvsecret, "MACHINE", "x86_64")
    code, stdout, err = cli(capsysbinary, *argv)
    assert code == 1 and stdout == b""
    assert err.startswith(f"error: pvsecret {argv[0]} needs an s390x Secure Execution guest "
                          "(/dev/uv)")
    assert err.count("\n") == 1


def test_add_list_retrieve_lock(
    tmp_path: Path, host: tuple[Path, ec.EllipticCurvePrivateKey], hdr: Path,
    capsysbinary: pytest.CaptureFixture[bytes], uv: FakeUltravisor, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("pw").write_bytes(b"guest password")
    Path("key").write_bytes(b"\x42" * 32)
    assert create(capsysbinary, host[0], hdr, "plain.req", "retr", "db password", "--secret", "pw",
                  "--type", "plain")[0] == 0
    assert create(capsysbinary, host[0], hdr, "aes.req", "--use-name", "retr", "disk key",
                  "--secret", "key", "--type", "aes")[0] == 0
    for req in ("plain.req", "aes.req"):
        code, _, err = cli(capsysbinary, "add", req)
        assert code == 0 and "Successfully added the secret" in err
    code, _, err = cli(capsysbinary, "add", "plain.req")
    assert code == 1 and "duplicated IDs" in err
    assert cli(capsysbinary, "add", "-f", "--input", "plain.req")[0] == 0

    code, stdout, _ = cli(capsysbinary, "list")
    assert code == 0
    plain_id = hashlib.sha256(b"db password").digest().hex()
    disk_id = b"disk key".ljust(32, b"\0").hex()
    assert stdout.decode() == (
        "Total number of secrets: 3\n\n"
        f"0 PLAINTEXT:\n 0x{plain_id}\n"
        f"1 AES-256-KEY:\n disk key | 0x{disk_id}\n"
        f"2 PLAINTEXT:\n 0x{plain_id}\n"
    )
    code, _, err = cli(capsysbinary, "list", "--format", "yaml", "list.yaml")
    assert code == 0 and "Successfully wrote the list of secrets to 'list.yaml'" in err
    doc = load_yaml12(Path("list.yaml").read_text())
    assert doc["total_num_secrets"] == 3
    assert doc["secrets"][1] == {"index": 1, "stype": 6, "len": 32, "id": "0x" + disk_id}
    assert cli(capsysbinary, "list", "--format", "bin", "-o", "list.bin")[0] == 0
    binary = Path("list.bin").read_bytes()
    assert len(binary) == 16 + 3 * 48 and len(parse_secret_list(binary)) == 3

    # retrieve by NAME.yaml (default), hex, name and index
    code, stdout, err = cli(capsysbinary, "retrieve", "db_password.yaml")
    assert code == 0, err
    assert stdout == (b"-----BEGIN PLAINTEXT SECRET-----\nZ3Vlc3QgcGFzc3dvcmQ=\n"
                      b"-----END PLAINTEXT SECRET-----\n")
    assert "multiple secrets" in err
    code, stdout, _ = cli(capsysbinary, "retr", "--inform", "hex", "--outform", "bin",
                          "0x" + plain_id)
    assert code == 0 and stdout == b"guest password"
    code, _, _ = cli(capsysbinary, "retrieve", "--inform", "name", "disk key", "disk.pem")
    assert code == 0
    assert (tmp_path / "disk.pem").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "disk.pem").read_text().startswith(
        "-----BEGIN IBM PROTECTED KEY-----\nkind: AES-256-KEY\n\n")
    code, stdout, _ = cli(capsysbinary, "retrieve", "--inform", "idx", "--outform", "bin", "1")
    assert code == 0 and stdout == b"\x42" * 32
    code, stdout, err = cli(capsysbinary, "retrieve", "--inform", "idx", "7", "never")
    assert code == 1 and err == "error: The UV secret-store has no secret with the index 7\n"
    assert not Path("never").exists()

    code, _, err = cli(capsysbinary, "lock")
    assert code == 0 and "Successfully locked secret store" in err
    code, _, err = cli(capsysbinary, "add", "-f", "aes.req")
    assert code == 1
    assert err.endswith("\nerror: Ultravisor: 'secret store locked' (0x0102,0x0000)\n")


def test_add_rejects_non_requests(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], uv: FakeUltravisor,
) -> None:
    bad = tmp_path / "bad"
    bad.write_bytes(b"IBMSecEx" + bytes(100))
    code, _, err = cli(capsysbinary, "add", bad)
    assert code == 1 and err == f"error: '{bad}' does not contain an add-secret request\n"
    code, _, err = cli(capsysbinary, "add")
    assert code == 2


def test_retrieve_association_yaml_refused(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], uv: FakeUltravisor,
) -> None:
    yaml_file = tmp_path / "a.yaml"
    yaml_file.write_text("!Association\nname: a\nid: 0x" + "11" * 32 + "\n")
    code, _, err = cli(capsysbinary, "retrieve", yaml_file)
    assert code == 1
    assert err == f"error: '{yaml_file}' contains a Association-secret, which is not retrievable\n"
