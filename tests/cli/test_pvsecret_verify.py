"""pvsecret issue 4, adversarial inputs: every failure is one line, exit 1, no output left.

Regression tests for what the audit found: positionals between options,
``--toc-policy`` that cannot be appended to, unusable key and certificate files,
size limits exactly and one over, damaged requests, malformed retrieve values.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from secexkit.uv.device import UvIoctl
from tests.cli import test_pvsecret_secret_types as base
from tests.cli.test_pvsecret_secret_types import Signer, cli, create, open_as_ultravisor
from tests.support.fake_uv import FakeUltravisor
from tests.support.keys import self_signed

# the fixtures of the end-to-end module, shared here
host = base.host
hdr = base.hdr
not_a_guest = base.not_a_guest
signers = base.signers
signed = base.signed
uv = base.uv

Host = tuple[Path, ec.EllipticCurvePrivateKey]
Capture = pytest.CaptureFixture[bytes]


def _failed(code: int, stdout: bytes, err: str, *needles: str) -> None:
    """Exit 1, nothing on stdout, exactly one line ``error: ...`` holding every needle."""
    assert code == 1, err
    assert stdout == b""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)


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
    _failed(code, stdout, err, f"Cannot read {path} as EC PRIVATE KEY from PEM or DER: {why}")
    code, stdout, err = create(capsysbinary, host[0], hdr, out, "--user-sign-key", path, "meta")
    _failed(code, stdout, err, f"Cannot read {path} as private key from PEM or DER: {why}")
    assert list(out.parent.iterdir()) == []


def test_private_key_as_user_cert(tmp_path: Path, signed: dict[str, Path],
                                  key_files: dict[str, Path], capsysbinary: Capture) -> None:
    out = tmp_path / "ud"
    code, stdout, err = cli(capsysbinary, "verify", signed["ec"], out, "--user-cert",
                            key_files["key.pem"])
    _failed(code, stdout, err, "File does not contain a X509 certificate (it holds a private key)")
    assert not out.exists()


def test_positionals_between_options(tmp_path: Path, signers: dict[str, Signer],
                                     signed: dict[str, Path], capsysbinary: Capture,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """clap accepts positionals anywhere; argparse alone would call OUTPUT unrecognised."""
    cert, req = signers["rsa2048"].cert_file, signed["rsa2048"]
    argvs: list[list[str | Path]] = [["verify", req, "--user-cert", cert, "{out}"],
                                     ["verify", "--user-cert", cert, req, "{out}"],
                                     ["verify", req, "{out}", "--user-cert", cert],
                                     ["verify", "-i", req, "--user-cert", cert, "-o", "{out}"]]
    for argv in argvs:
        out = tmp_path / f"ud{len(list(tmp_path.iterdir()))}"
        code, _, err = cli(capsysbinary, *[str(out) if a == "{out}" else a for a in argv])
        assert code == 0, (argv, err)
        assert out.read_bytes() == b"\x56" * 256
    # "--" still ends the options (parse_known_intermixed_args alone would lose it)
    monkeypatch.chdir(tmp_path)
    Path("-req").write_bytes(req.read_bytes())
    code, _, err = cli(capsysbinary, "verify", "--user-cert", cert, "--", "-req", "-out")
    assert code == 0, err
    assert Path("-out").read_bytes() == b"\x56" * 256
    code, _, err = cli(capsysbinary, "verify", req, tmp_path / "a", "--user-cert", cert,
                       tmp_path / "b")
    assert code == 2 and "unrecognized arguments" in err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_device_positionals_between_options(
    tmp_path: Path, uv: FakeUltravisor, capsysbinary: Capture,
) -> None:
    uv.store(3, b"n".ljust(32, b"\0"), b"\x00\x02hi" + bytes(12))
    listed = tmp_path / "list.yaml"
    code, _, err = cli(capsysbinary, "list", listed, "--format", "yaml")
    assert code == 0, err
    assert listed.read_text().startswith("total_num_secrets: 1\n")
    secret = tmp_path / "secret"
    code, _, err = cli(capsysbinary, "retrieve", "0", "--inform", "idx", secret,
                       "--outform", "bin")
    assert code == 0, err
    assert secret.read_bytes() == b"hi" and secret.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("where", ["missing-dir/toc", "."])
def test_toc_policy_not_appendable_leaves_no_output(
    tmp_path: Path, host: Host, hdr: Path, capsysbinary: Capture,
    monkeypatch: pytest.MonkeyPatch, where: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("secret").write_bytes(b"s" * 16)
    code, stdout, err = create(capsysbinary, host[0], hdr, "req", "--toc-policy", where,
                               "retr", "name", "--secret", "secret", "--type", "aes")
    _failed(code, stdout, err, f"Cannot append the request tag to `{where}`")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret"]


def test_toc_policy_created_and_appended(tmp_path: Path, host: Host, hdr: Path,
                                         capsysbinary: Capture) -> None:
    toc = tmp_path / "toc"
    tags = []
    for n in range(2):
        req = tmp_path / f"req{n}"
        assert create(capsysbinary, host[0], hdr, req, "--toc-policy", toc, "meta")[0] == 0
        tags.append(req.read_bytes()[-16:].hex())
    assert toc.read_text() == "".join(t + "\n" for t in tags)


def test_policy_is_hashed_in_chunks(tmp_path: Path, host: Host, hdr: Path,
                                    capsysbinary: Capture) -> None:
    policy = tmp_path / "policy"
    content = bytes(range(256)) * (3 * 4096 + 1)  # > 3 MiB: several chunks, not a multiple
    policy.write_bytes(content)
    req = tmp_path / "req"
    code, stdout, err = create(capsysbinary, host[0], hdr, req, "--policy", policy, "meta")
    assert code == 0, err
    digest = hashlib.sha256(content).digest()
    assert stdout == (digest.hex() + "\n").encode()
    user_data = open_as_ultravisor(req.read_bytes(), host[1]).user_data
    assert user_data == (digest + str(policy).encode()).ljust(512, b"\0")


@pytest.mark.parametrize(("signer", "limit"), [(None, 512), ("ec", 256), ("rsa2048", 256),
                                               ("rsa3072", 128)])
def test_user_data_exactly_and_one_over_the_limit(
    tmp_path: Path, host: Host, hdr: Path, signers: dict[str, Signer], capsysbinary: Capture,
    signer: str | None, limit: int,
) -> None:
    key: list[str | Path] = ["--user-sign-key", signers[signer].key_file] if signer else []
    data = tmp_path / "ud"
    req = tmp_path / "o" / "req"
    req.parent.mkdir()
    data.write_bytes(b"\x99" * limit)
    code, _, err = create(capsysbinary, host[0], hdr, req, "--user-data", data, *key, "meta")
    assert code == 0, err
    cert: list[str | Path] = ["--user-cert", signers[signer].cert_file] if signer else []
    code, stdout, err = cli(capsysbinary, "verify", req, *cert)
    assert code == 0, err
    assert stdout == b"\x99" * limit
    req.unlink()
    data.write_bytes(b"\x99" * (limit + 1))
    code, stdout, err = create(capsysbinary, host[0], hdr, req, "--user-data", data, *key, "meta")
    _failed(code, stdout, err, f"Max {limit} bytes allowed", f"`{data}` has {limit + 1} bytes")
    assert list(req.parent.iterdir()) == []


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda r: r[:100], "truncated"),
        (lambda r: r[:-1], "truncated"),
        (lambda r: r[:0x417], "truncated"),
        (lambda r: r + b"\0", "Provided binary request is too small"),
        (lambda r: r[:5], "Input does not contain an add-secret request"),
        (lambda r: b"", "Input does not contain an add-secret request"),
        (lambda r: r[:6] + b"\x00\x07" + r[8:], "unsupported user-data type: 0x0007"),
        (lambda r: r[:8] + b"\x00\x00\x02\x00" + r[12:], "add-secret request version 1"),
    ],
)
def test_verify_damaged_requests(tmp_path: Path, signed: dict[str, Path],
                                 signers: dict[str, Signer], capsysbinary: Capture,
                                 damage: object, message: str) -> None:
    bad = tmp_path / "bad"
    bad.write_bytes(damage(signed["ec"].read_bytes()))  # type: ignore[operator]
    out = tmp_path / "out"
    code, stdout, err = cli(capsysbinary, "verify", bad, out, "--user-cert",
                            signers["ec"].cert_file)
    _failed(code, stdout, err, f"'{bad}'", message)
    assert not out.exists()


@pytest.mark.parametrize(
    ("inform", "value", "message"),
    [
        ("hex", "0x00", "Cannot parse SecretId information from '0x00': expected '0x'"),
        ("hex", "00" * 32, "expected '0x' followed by 64 hex digits"),
        ("hex", "0x" + "zz" * 32, "not a hex string"),
        ("hex", "[1, 2]", "from '[1, 2]'"),
        ("idx", "-1", "Invalid index value '-1'"),
        ("idx", "65536", "Invalid index value '65536'"),
        ("idx", "x", "Invalid index value 'x'"),
        ("name", "nothing here", "has no secret with the ID nothing here"),
    ],
)
def test_retrieve_malformed_values(tmp_path: Path, uv: FakeUltravisor, capsysbinary: Capture,
                                   inform: str, value: str, message: str) -> None:
    uv.store(4, bytes(range(32)), b"\x11" * 16)
    out = tmp_path / "s"
    code, stdout, err = cli(capsysbinary, "retrieve", "--inform", inform, value, out)
    _failed(code, stdout, err, message)
    assert not out.exists()
    assert UvIoctl.RETRIEVE_SECRET not in [nr for nr, _ in uv.calls]


def test_outputs_checked_before_the_device(tmp_path: Path, uv: FakeUltravisor,
                                           capsysbinary: Capture) -> None:
    uv.store(4, bytes(range(32)), b"\x11" * 16)
    argvs: list[list[str | Path]] = [["retrieve", "--inform", "idx", "0", tmp_path],
                                     ["list", tmp_path / "no" / "dir"]]
    for argv in argvs:
        code, stdout, err = cli(capsysbinary, *argv)
        _failed(code, stdout, err, "Cannot")
    assert uv.calls == []  # the secret never left the ultravisor


def test_verify_without_user_data_ignores_output(tmp_path: Path, host: Host, hdr: Path,
                                                 capsysbinary: Capture) -> None:
    """Nothing is written for a request without user data, so even a directory is accepted."""
    req = tmp_path / "req"
    assert create(capsysbinary, host[0], hdr, req, "meta")[0] == 0
    code, stdout, err = cli(capsysbinary, "verify", req, tmp_path)
    assert code == 0 and stdout == b"" and "Successfully verified the request." in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["req"]


def test_certificate_of_another_key_type(tmp_path: Path, host: Host, hdr: Path,
                                         signed: dict[str, Path], capsysbinary: Capture) -> None:
    """An Ed25519 certificate is ignored without user data and a type mismatch with it."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ed25519
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
    _failed(code, stdout, err, "Provided user-data key type (Unknown: Ed25519) does not match "
            "with the user-data (ECDSA signed)")
