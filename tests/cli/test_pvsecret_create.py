"""pvsecret create / verify through the CLI entry point, decrypted with the host key."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from secexkit import crypto
from secexkit.addsecret.request import FLAG_DISABLE_DUMP, open_request
from secexkit.cli.pvsecret import main
from secexkit.formats.request import SecretType, parse_request
from secexkit.formats.se_header import SeHeader, parse_se_header
from secexkit.secret import SecretBytes
from tests.support.keys import write_host_key_document


@pytest.fixture(scope="session")
def host_docs(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, ec.EllipticCurvePrivateKey]]:
    directory = tmp_path_factory.mktemp("hkd")
    return [
        write_host_key_document(directory, "host-a"),
        write_host_key_document(directory, "host-b", der=True),
    ]


@pytest.fixture
def header(vectors: Path) -> tuple[Path, SeHeader]:
    path = vectors / "exp" / "secure_guest.hdr"
    return path, parse_se_header(path.read_bytes())


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def base_args(host: Path, hdr: Path, out: Path) -> list[str]:
    return ["-k", str(host), "--hdr", str(hdr), "-o", str(out), "--no-verify"]


def test_meta_disable_dump_end_to_end(
    tmp_path: Path, host_docs: list[tuple[Path, ec.EllipticCurvePrivateKey]],
    header: tuple[Path, SeHeader], capsys: pytest.CaptureFixture[str],
) -> None:
    (host, key), hdr = host_docs[0], header
    out = tmp_path / "addNoDumpReq"
    code, stdout, err = run_cli(capsys, "create", "meta", *base_args(host, hdr[0], out),
                                "--flags", "disable-dump")
    assert code == 0, err
    assert stdout == ""
    assert "verification is disabled" in err
    assert "Successfully generated the request" in err
    opened = open_request(out.read_bytes(), key)
    parsed = opened.parsed
    assert parsed.flags == FLAG_DISABLE_DUMP
    assert (parsed.pld, parsed.ald, parsed.tld, parsed.header_tag) == (
        hdr[1].pld, hdr[1].ald, hdr[1].tld, hdr[1].tag)
    assert parsed.cuid == bytes(16)
    assert parsed.secret_type == SecretType.META and parsed.secret_id is None
    assert len(opened.payload) == 0
    assert opened.extension_secret.reveal() == bytes(32)
    assert len(out.read_bytes()) == 1352


def test_documented_order_and_comma_lists(
    tmp_path: Path, host_docs: list[tuple[Path, ec.EllipticCurvePrivateKey]],
    header: tuple[Path, SeHeader], capsys: pytest.CaptureFixture[str],
) -> None:
    (a, key_a), (b, key_b) = host_docs
    out = tmp_path / "req"
    # options after the secret type, as in the product documentation; -k as a comma list
    code, _, err = run_cli(capsys, "create", "association", "-k", f"{a},{b}", "--hdr",
                           str(header[0]), "-o", str(out), "--no-verify", "--flags",
                           "disable-dump", "myConfidentialSecret")
    assert code == 0, err
    for key in (key_a, key_b):
        opened = open_request(out.read_bytes(), key)
        assert len(opened.parsed.key_slots) == 2
        assert opened.parsed.flags == FLAG_DISABLE_DUMP
    # options split before and after the type merge (lists extend)
    out2 = tmp_path / "req2"
    code, _, err = run_cli(capsys, "create", "-k", str(a), "--no-verify", "meta", "-k", str(b),
                           "--hdr", str(header[0]), "-o", str(out2))
    assert code == 0, err
    assert len(parse_request(out2.read_bytes()).key_slots) == 2


def test_documented_command_with_crt_needs_verification(
    tmp_path: Path, host_docs: list[tuple[Path, ec.EllipticCurvePrivateKey]],
    header: tuple[Path, SeHeader], capsys: pytest.CaptureFixture[str],
) -> None:
    host = host_docs[0][0]
    out = tmp_path / "addNoDumpReq"
    code, _, err = run_cli(capsys, "create", "meta", "-k", str(host), "--hdr", str(header[0]),
                           "-o", str(out), "--crt", str(tmp_path / "DigiCertCA.crt"), "--crt",
                           str(tmp_path / "ibm-sign.crt"), "--flags", "disable-dump")
    # a self-signed host key can never pass verification: refused, nothing written
    assert code == 1
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_association_end_to_end(
    tmp_path: Path, host_docs: list[tuple[Path, ec.EllipticCurvePrivateKey]],
    header: tuple[Path, SeHeader], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host, key = host_docs[0]
    sub = tmp_path / "sub"
    sub.mkdir()
    monkeypatch.chdir(tmp_path)
    out = sub / "addSecretReq"
    secret_out = tmp_path / "secret.bin"
    cuid = "0x00112233445566778899aabbccddeeff"
    code, _, err = run_cli(capsys, "create", *base_args(host, header[0], out), "--cuid-hex", cuid,
                           "association", "my secret", "--output-secret", str(secret_out))
    assert code == 0, err
    yaml_file = sub / "my_secret.yaml"
    secret_id = hashlib.sha256(b"my secret").hexdigest()
    assert yaml_file.read_text() == f"!Association\nname: my secret\nid: 0x{secret_id}\n"
    assert f"Successfully wrote secret info to '{yaml_file}'" in err
    opened = open_request(out.read_bytes(), key)
    assert opened.parsed.secret_type == SecretType.ASSOCIATION
    assert opened.parsed.secret_id == bytes.fromhex(secret_id)
    assert opened.parsed.cuid == bytes.fromhex(cuid[2:])
    assert opened.payload.reveal() == secret_out.read_bytes()
    assert len(opened.payload) == 32
    assert stat.S_IMODE(secret_out.stat().st_mode) == 0o600


def test_association_input_secret_use_name_stdout(
    tmp_path: Path, host_docs: list[tuple[Path, ec.EllipticCurvePrivateKey]],
    header: tuple[Path, SeHeader], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host, key = host_docs[0]
    monkeypatch.chdir(tmp_path)
    given = tmp_path / "in.bin"
    given.write_bytes(bytes(range(32)))
    code, out, err = run_cli(capsys, "create", *base_args(host, header[0], tmp_path / "r"),
                             "--use-name", "association", "short", "--input-secret", str(given),
                             "--stdout")
    assert code == 0, err
    expected_id = b"short".ljust(32, b"\0")
    assert out == f"!Association\nname: short\nid: 0x{expected_id.hex()}\n\n"
    assert not list(tmp_path.glob("*.yaml"))
    opened = open_request((tmp_path / "r").read_bytes(), key)
    assert opened.payload.reveal() == bytes(range(32))
    assert opened.parsed.secret_id == expected_id


def test_request_to_stdout(
    tmp_path: Path, host_docs: list[tuple[Path, ec.EllipticCurvePrivateKey]],
    header: tuple[Path, SeHeader], capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    host, key = host_docs[0]
    code = main(["create", "meta", *base_args(host, header[0], Path("-"))])
    out, _ = capsysbinary.readouterr()
    assert code == 0
    assert open_request(out, key).parsed.secret_type == SecretType.META


def test_cuid_file_extension_secret_and_cck(
    tmp_path: Path, host_docs: list[tuple[Path, ec.EllipticCurvePrivateKey]],
    header: tuple[Path, SeHeader], capsys: pytest.CaptureFixture[str],
) -> None:
    host, key = host_docs[0]
    raw_cuid = tmp_path / "cuid.bin"
    raw_cuid.write_bytes(b"0123456789abcdef")
    yaml_cuid = tmp_path / "result.yaml"
    yaml_cuid.write_text("result:\n  cuid: '0xffeeddccbbaa99887766554433221100'\n")
    ext = tmp_path / "ext.bin"
    ext.write_bytes(b"\x17" * 32)
    cck = tmp_path / "cck.bin"
    cck.write_bytes(b"\x31" * 32)
    cases = [
        (["--cuid", str(raw_cuid), "--extension-secret", str(ext)], b"0123456789abcdef",
         b"\x17" * 32),
        (["--cuid", str(yaml_cuid), "--cck", str(cck)],
         bytes.fromhex("ffeeddccbbaa99887766554433221100"),
         crypto.derive_extension_secret(SecretBytes(b"\x31" * 32), header[1].tag).reveal()),
    ]
    for i, (extra, cuid, extension) in enumerate(cases):
        out = tmp_path / f"r{i}"
        code, _, err = run_cli(capsys, "create", "meta", *base_args(host, header[0], out), *extra)
        assert code == 0, err
        opened = open_request(out.read_bytes(), key)
        assert opened.parsed.cuid == cuid
        assert opened.extension_secret.reveal() == extension


def test_update_cck(
    tmp_path: Path, host_docs: list[tuple[Path, ec.EllipticCurvePrivateKey]],
    header: tuple[Path, SeHeader], capsys: pytest.CaptureFixture[str],
) -> None:
    host, key = host_docs[0]
    new = tmp_path / "cck"
    new.write_bytes(b"\x99" * 32)
    out = tmp_path / "r"
    code, _, err = run_cli(capsys, "create", "cck", "--secret", str(new),
                           *base_args(host, header[0], out))
    assert code == 0, err
    opened = open_request(out.read_bytes(), key)
    assert opened.parsed.secret_type == SecretType.UPDATE_CCK
    assert opened.payload.reveal() == b"\x99" * 32


def test_header_found_inside_images(
    tmp_path: Path, host_docs: list[tuple[Path, ec.EllipticCurvePrivateKey]],
    header: tuple[Path, SeHeader], capsys: pytest.CaptureFixture[str],
) -> None:
    host, key = host_docs[0]
    raw = header[1].raw
    legacy = tmp_path / "legacy.img"
    legacy.write_bytes(bytes(0x14000) + raw + bytes(0x1000))
    with_meta = tmp_path / "meta.img"
    image = bytearray(0x22000)
    image[0xC000:0xC01C] = (b"SeImgLnx" + (0x20000).to_bytes(8, "big") + (1).to_bytes(4, "big")
                            + (0x21000).to_bytes(8, "big"))
    image[0x20000:0x20000 + len(raw)] = raw
    with_meta.write_bytes(bytes(image))
    for image_path in (legacy, with_meta):
        out = tmp_path / f"{image_path.stem}.req"
        code, _, err = run_cli(capsys, "create", "meta", *base_args(host, image_path, out))
        assert code == 0, err
        assert open_request(out.read_bytes(), key).parsed.header_tag == header[1].tag


def _bad_inputs(tmp: Path, host: Path, hdr: Path, p256: Path) -> dict[str, tuple[list[str], str]]:
    def write(name: str, data: bytes) -> Path:
        path = tmp / name
        path.write_bytes(data)
        return path

    truncated = write("trunc.hdr", hdr.read_bytes()[:300])
    random_hdr = write("random.hdr", os.urandom(640))
    not_cert = write("notcert.crt", b"hello, this is not a certificate\n")
    empty = write("empty.crt", b"")
    short = write("short.bin", b"x" * 31)
    cuid15 = write("cuid15.bin", b"x" * 15)
    k = ["-k", str(host)]
    h = ["--hdr", str(hdr)]
    return {
        "truncated header": (["meta", *k, "--hdr", str(truncated)], str(truncated)),
        "random header": (["meta", *k, "--hdr", str(random_hdr)], str(random_hdr)),
        "not a certificate": (["meta", "-k", str(not_cert), *h], str(not_cert)),
        "empty host-key file": (["meta", "-k", str(empty), *h], str(empty)),
        "P-256 host key": (["meta", "-k", str(p256), *h], str(p256)),
        "missing host-key file": (["meta", "-k", str(tmp / "nope.crt"), *h], "nope.crt"),
        "missing header": (["meta", *k, "--hdr", str(tmp / "nope.hdr")], "nope.hdr"),
        "wrong-length CUID hex": (["meta", *k, *h, "--cuid-hex", "0x1234"], "CUID"),
        "wrong-length CUID file": (["meta", *k, *h, "--cuid", str(cuid15)], "cuid"),
        "short extension secret": (["meta", *k, *h, "--extension-secret", str(short)],
                                   "extension secret"),
        "short CCK": (["meta", *k, *h, "--cck", str(short)], "CCK"),
        "short association secret": (["association", "x", *k, *h, "--input-secret", str(short)],
                                     "Association secret"),
        "unknown flag": (["meta", *k, *h, "--flags", "disable-everything"], "disable-everything"),
        "256 host keys": (["meta", "-k", ",".join([str(host)] * 256), *h], "256"),
        "cck with extension secret": (["meta", *k, *h, "--cck", str(short), "--extension-secret",
                                       str(short)], "--cck"),
        "no secret type": ([*k, *h], "SECRET-TYPE"),
    }


def test_bad_input_one_line_no_output(
    tmp_path: Path, host_docs: list[tuple[Path, ec.EllipticCurvePrivateKey]],
    header: tuple[Path, SeHeader], capsys: pytest.CaptureFixture[str],
) -> None:
    p256, _ = write_host_key_document(tmp_path, "p256", ec.SECP256R1())
    cases = _bad_inputs(tmp_path, host_docs[0][0], header[0], p256)
    for label, (argv, needle) in cases.items():
        out = tmp_path / "out" / "req"
        out.parent.mkdir(exist_ok=True)
        code = main(["create", *argv, "-o", str(out), "--no-verify"])
        _, err = capsys.readouterr()
        assert code in (1, 2), label
        lines = [line for line in err.splitlines() if "verification is disabled" not in line]
        first = lines[0]
        assert first.startswith("error: "), (label, err)
        assert needle in first, (label, first)
        assert "Traceback" not in err, label
        assert not list(out.parent.iterdir()), label
        if code == 1:
            assert len(lines) == 1, (label, err)


def test_yaml_name_clash_is_refused(
    tmp_path: Path, host_docs: list[tuple[Path, ec.EllipticCurvePrivateKey]],
    header: tuple[Path, SeHeader], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, "create", *base_args(host_docs[0][0], header[0],
                                                        Path("./x.yaml")), "association", "x")
    assert code == 2
    assert "same" in err
    assert not (tmp_path / "x.yaml").exists()


def test_verify_reference_vectors(vectors: Path, capsys: pytest.CaptureFixture[str],
                                  tmp_path: Path) -> None:
    for path in sorted((vectors / "exp" / "asrcb").iterdir()):
        out = tmp_path / "ud"
        code, _, err = run_cli(capsys, "verify", str(path), str(out))
        assert code == 0, (path.name, err)
        assert "Successfully verified the request." in err
        assert not out.exists()  # no user data: no output at all


@pytest.mark.parametrize(("mutation", "needle"), [
    (lambda d: d[:100], "truncated"),
    (lambda d: d[:-1], "truncated"),
    (lambda d: d + b"\0", "too small"),
    (lambda d: d[:5], "does not contain"),
    (lambda d: b"IBMSecEx" + d[8:], "does not contain"),
    (lambda d: d[:6] + b"\x00\x09" + d[8:], "unsupported user-data type: 0x0009"),
    (lambda d: d[:8] + b"\x00\x00\x02\x00" + d[12:], "version 1"),
])
def test_verify_rejects_damaged_requests(vectors: Path, capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path, mutation: object, needle: str) -> None:
    data = (vectors / "exp" / "asrcb" / "null_none_default_cuid_one").read_bytes()
    damaged = tmp_path / "damaged"
    damaged.write_bytes(mutation(data))  # type: ignore[operator]
    code, _, err = run_cli(capsys, "verify", str(damaged))
    assert code == 1
    assert needle in err and str(damaged) in err
    assert len(err.strip().splitlines()) == 1


def test_console_scripts_installed(tmp_path: Path, vectors: Path) -> None:
    script = shutil.which("pvsecret")
    assert script is not None
    out = tmp_path / "req"
    cmd = [sys.executable, "-m", "secexkit", "create", "meta", "-k",
           str(vectors / "cert" / "host.crt"), "--hdr", str(vectors / "exp" / "secure_guest.hdr"),
           "-o", str(out), "--no-verify", "--flags", "disable-dump"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert parse_request(out.read_bytes()).flags == FLAG_DISABLE_DUMP
    result = subprocess.run([script, "verify", str(out)], capture_output=True, text=True, check=False,
                            timeout=60)
    assert result.returncode == 0 and "Successfully verified" in result.stderr
    result = subprocess.run([script, "create", "meta", "--bogus"], capture_output=True, text=True,
                            check=False,
                            timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_option_given_twice_is_a_usage_error(
    tmp_path: Path, host_docs: list[tuple[Path, ec.EllipticCurvePrivateKey]],
    header: tuple[Path, SeHeader], capsys: pytest.CaptureFixture[str],
) -> None:
    host = host_docs[0][0]
    for argv in (["create", "meta", *base_args(host, header[0], tmp_path / "a"), "-o",
                  str(tmp_path / "b")],
                 ["create", "-o", str(tmp_path / "a"), "meta",
                  *base_args(host, header[0], tmp_path / "b")]):
        code, _, err = run_cli(capsys, *argv)
        assert code == 2
        assert "cannot be used multiple times" in err
    assert not list(tmp_path.iterdir())


def test_unwritable_output_fails_before_any_work(
    tmp_path: Path, host_docs: list[tuple[Path, ec.EllipticCurvePrivateKey]],
    header: tuple[Path, SeHeader], capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run_cli(capsys, "create", "meta",
                           *base_args(host_docs[0][0], header[0], tmp_path / "no" / "req"))
    assert code == 1
    assert err == f"error: Cannot create `{tmp_path / 'no' / 'req'}`: the directory " \
                  f"`{tmp_path / 'no'}` does not exist\n"


def test_deprecated_capital_v_counts_as_verbose(
    tmp_path: Path, host_docs: list[tuple[Path, ec.EllipticCurvePrivateKey]],
    header: tuple[Path, SeHeader], capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run_cli(capsys, "create", "meta", "-V",
                           *base_args(host_docs[0][0], header[0], tmp_path / "req"))
    assert code == 0
    assert "deprecated flag '-V'" in err
    assert "Successfully wrote the request to" in err  # info level: -V raised verbosity


@pytest.mark.parametrize(("argv", "expected"), [
    (["create", "meta"], ("create", "meta")),
    (["-v", "create", "-k", "meta", "association", "x"], ("create", "association")),
    (["create", "--hdr=x", "cck", "--secret", "s"], ("create", "cck")),
    (["create", "--no-verify", "retr", "n"], ("create", "retr")),
    (["create", "-k", "a.crt"], ("create", None)),
    (["verify", "x"], ("verify", None)),
    (["--help"], (None, None)),
    (["bogus"], (None, None)),
])
def test_parser_selection(argv: list[str], expected: tuple[str | None, str | None]) -> None:
    from secexkit.cli.pvsecret import _selected

    assert _selected(argv) == expected


@pytest.mark.parametrize(("value", "expected"), [("0x123", 0x123), ("123", 0x123),
                                                 ("ffffffffffffffff", (1 << 64) - 1)])
def test_hidden_pcf_sets_the_flags_word(
    tmp_path: Path, host_docs: list[tuple[Path, ec.EllipticCurvePrivateKey]],
    header: tuple[Path, SeHeader], capsys: pytest.CaptureFixture[str], value: str, expected: int,
) -> None:
    out = tmp_path / "req"
    code, _, err = run_cli(capsys, "create", "meta", *base_args(host_docs[0][0], header[0], out),
                           "--pcf", value)
    assert code == 0, err
    assert parse_request(out.read_bytes()).flags == expected


@pytest.mark.parametrize("value", ["+1", "1_0", "0X10", "0x", "1" * 17, " 1"])
def test_bad_pcf_is_a_usage_error(
    tmp_path: Path, host_docs: list[tuple[Path, ec.EllipticCurvePrivateKey]],
    header: tuple[Path, SeHeader], capsys: pytest.CaptureFixture[str], value: str,
) -> None:
    code, _, _ = run_cli(capsys, "create", "meta",
                         *base_args(host_docs[0][0], header[0], tmp_path / "req"), "--pcf", value)
    assert code == 2
    assert not (tmp_path / "req").exists()
