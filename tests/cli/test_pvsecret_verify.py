"""pvsecret user data (signed and unsigned, size limits) and the verify command: the
right certificate only, any changed byte refused, damaged requests, where outputs go.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.keys import self_signed
from tests.support.pvsecret import Capture, Host, Signer, cli, create, failed, open_as_ultravisor

pytestmark = pytest.mark.usefixtures("not_a_guest")


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
    failed(code, stdout, err, f"Max {limit} bytes allowed", f"`{data}` has {limit + 1} bytes")
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
    failed(code, stdout, err, f"'{bad}'", message)
    assert not out.exists()


def test_verify_without_user_data_ignores_output(tmp_path: Path, host: Host, hdr: Path,
                                                 capsysbinary: Capture) -> None:
    """Nothing is written for a request without user data, so even a directory is accepted."""
    req = tmp_path / "req"
    assert create(capsysbinary, host[0], hdr, req, "meta")[0] == 0
    code, stdout, err = cli(capsysbinary, "verify", req, tmp_path)
    assert code == 0 and stdout == b"" and "Successfully verified the request." in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["req"]
