"""``pvattest create``, ``perform`` (through a fake /dev/uv that plays the ultravisor with
the host private key), ``check`` and the end-to-end chain create -> perform -> verify ->
``pvsecret create --cuid``."""

from __future__ import annotations

import base64
import ctypes
import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from secexkit.addsecret.request import open_request
from secexkit.attest.check import FirmwareRequest
from secexkit.attest.request import open_arcb
from secexkit.attest.ultravisor import answer_attestation
from secexkit.cli import pvattest, pvsecret
from secexkit.cli.pvattest import main
from secexkit.formats.attestation import UVIO_ATTEST, ExchangeRequest, ExchangeResponse
from secexkit.formats.se_header import BootHdrTags, read_se_header
from secexkit.formats.uvio import IOCTL_CB
from secexkit.secret import SecretBytes
from tests.support import pki

CUID = bytes(range(0xA0, 0xB0))


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def tags(hdr: Path) -> BootHdrTags:
    with open(hdr, "rb") as stream:
        return read_se_header(stream).boot_tags


class FakeAttestingUv:
    """The attestation ioctl as the kernel and the ultravisor answer it (software UV)."""

    def __init__(self, host_key: ec.EllipticCurvePrivateKey, tags: BootHdrTags) -> None:
        self.host_key = host_key
        self.tags = tags
        self.calls = 0

    def ioctl(self, fd: int, request: int, control: bytearray) -> int:
        del fd
        assert request == 0xC0407501
        cb = IOCTL_CB.unpack(control)
        addr, length = int(cb["argument_addr"]), int(cb["argument_len"])
        assert length == UVIO_ATTEST.size
        argument = bytearray(ctypes.string_at(addr, length))
        v = UVIO_ATTEST.unpack(argument)
        arcb = ctypes.string_at(int(v["arcb_address"]), int(v["arcb_length"]))
        user = bytes(v["user_data"])[: int(v["user_data_length"])]
        response = answer_attestation(arcb, self.host_key, self.tags, CUID, user or None)
        ctypes.memmove(int(v["measurement_address"]), response.measurement, 64)
        if response.additional:
            assert int(v["additional_length"]) >= len(response.additional)
            ctypes.memmove(int(v["additional_address"]), response.additional,
                           len(response.additional))
        argument[UVIO_ATTEST.slice("cuid")] = CUID
        ctypes.memmove(addr, bytes(argument), length)
        control[IOCTL_CB.slice("uv_rc")] = (1).to_bytes(2, "big")
        self.calls += 1
        return 0


@pytest.fixture
def uv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
       host: tuple[Path, ec.EllipticCurvePrivateKey], tags: BootHdrTags) -> FakeAttestingUv:
    fake = FakeAttestingUv(host[1], tags)
    device = tmp_path / "uv"
    device.write_bytes(b"")
    monkeypatch.setattr(pvattest, "UV_DEVICE", str(device))
    monkeypatch.setattr(pvattest, "UV_IOCTL", fake.ioctl)
    monkeypatch.setattr(pvattest, "MACHINE", "s390x")
    return fake


def _create(capsys: pytest.CaptureFixture[str], hkd: Path, directory: Path,
            *extra: str) -> tuple[Path, Path]:
    req, arpk = directory / "req.bin", directory / "arpk"
    code, _, err = _run(capsys, "create", "-k", str(hkd), "--no-verify", "-o", str(req),
                        "--arpk", str(arpk), *extra)
    assert code == 0, err
    return req, arpk


# ---------------------------------------------------------------------------- create


def test_create_flags_sizes_and_arpk(host: tuple[Path, ec.EllipticCurvePrivateKey], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    req, arpk = tmp_path / "req.bin", tmp_path / "arpk"
    code, _, err = _run(capsys, "create", "-k", f"{host[0]},{host[0]}", "--no-verify",
                        "--output", str(req), "-a", str(arpk),
                        "--add-data", "phkh-img,secret-store-hash", "--add-data", "firmware-state",
                        "--add-data", "phkh-img")
    assert code == 0
    assert "Host-key document verification is disabled. The attestation request may not be " \
           "protected." in err
    assert "Successfully generated the request" in err
    data = req.read_bytes()
    assert len(data) == 0x220
    assert data[0x28:0x30] == (0x1A0).to_bytes(4, "big") + bytes(4)
    request = ExchangeRequest.from_bytes(data)
    assert stat.S_IMODE(os.stat(arpk).st_mode) == 0o600
    opened = open_arcb(request.arcb, SecretBytes(arpk.read_bytes()))
    assert opened.flags == 0x6C00000000000000
    assert opened.nonce is not None


def test_create_without_add_data(host: tuple[Path, ec.EllipticCurvePrivateKey], tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    req, _ = _create(capsys, host[0], tmp_path)
    request = ExchangeRequest.from_bytes(req.read_bytes())
    assert (len(request.arcb), request.measurement_size, request.additional_size) == (0x1E0 - 0x50, 64, 0)


def test_create_dash_is_a_file_name(host: tuple[Path, ec.EllipticCurvePrivateKey], tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = _run(capsys, "create", "-k", str(host[0]), "--no-verify", "-o", "req", "-a", "-")
    assert (code, out) == (0, "")
    assert len((tmp_path / "-").read_bytes()) == 32
    assert stat.S_IMODE(os.stat(tmp_path / "-").st_mode) == 0o600


@pytest.mark.parametrize(("argv", "word"), [
    (["--no-verify", "-a", "A"], "--output"),
    (["--no-verify", "-o", "O"], "--arpk"),
    (["--no-verify", "-o", "O", "-a", "A", "--add-data", "phkh-all"], "possible values"),
    (["-o", "O", "-a", "A"], "--no-verify"),
    (["--no-verify", "-C", "c.crt", "-o", "O", "-a", "A"], "cannot be used with"),
])
def test_create_usage_errors(argv: list[str], word: str, host: tuple[Path, ec.EllipticCurvePrivateKey],
                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(capsys, "create", "-k", str(host[0]), *argv)
    assert code == 2
    assert word in err.splitlines()[0]
    assert list(tmp_path.iterdir()) == []


def test_create_output_and_arpk_must_differ(host: tuple[Path, ec.EllipticCurvePrivateKey],
                                            tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    same = tmp_path / "same"
    code, _, err = _run(capsys, "create", "-k", str(host[0]), "--no-verify", "-o", str(same),
                        "-a", str(same))
    assert code != 0 and err.count("\n") == 1
    assert not same.exists()


@pytest.fixture
def pki_files(tmp_path: Path, pki_set: pki.PkiSet) -> Path:
    directory = tmp_path / "pki"
    directory.mkdir()
    pki.write(directory / "host.crt", pki_set.host)
    pki.write(directory / "revoked.crt", pki_set.host_revoked)
    pki.write(directory / "signing.crt", pki_set.signing)
    pki.write(directory / "inter.crt", pki_set.inter)
    pki.write(directory / "root.crt", pki_set.root)
    pki.write(directory / "crls.pem", pki_set.root_crl, pki_set.inter_crl, pki_set.signing_crl)
    return directory


def _verified(pki_files: Path, host_file: str = "host.crt") -> list[str]:
    return ["-k", str(pki_files / host_file), "-C", str(pki_files / "signing.crt"),
            "--cert", str(pki_files / "inter.crt"), "--root-ca", str(pki_files / "root.crt"),
            "--crl", str(pki_files / "crls.pem"), "--offline"]


def test_create_refuses_a_revoked_host_key(pki_files: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    req, arpk = tmp_path / "req", tmp_path / "arpk"
    code, _, err = _run(capsys, "create", *_verified(pki_files, "revoked.crt"), "-o", str(req),
                        "-a", str(arpk))
    assert code == 1
    assert err.count("\n") == 1 and "revoked" in err.lower()
    assert not req.exists() and not arpk.exists()


# ---------------------------------------------------------------------------- perform


def test_perform_refused_off_s390x_like_pvsecret_add(
        host: tuple[Path, ec.EllipticCurvePrivateKey], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    req, _ = _create(capsys, host[0], tmp_path)
    for module in (pvattest, pvsecret):
        monkeypatch.setattr(module, "MACHINE", "x86_64")
    out = tmp_path / "resp"
    code, _, err = _run(capsys, "perform", str(req), str(out))
    assert code == 1
    assert pvsecret.main(["add", str(req)]) == 1
    err_add = capsys.readouterr().err
    assert err == "error: pvattest perform needs an s390x Secure Execution guest (/dev/uv): " \
                  "Command only available on s390x (this is x86_64)\n"
    assert err_add == err.replace("pvattest perform", "pvsecret add")
    assert not out.exists()


@pytest.mark.parametrize("form", ["positional", "options"])
def test_perform_with_user_data(form: str, uv: FakeAttestingUv,
                                host: tuple[Path, ec.EllipticCurvePrivateKey], tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    req, _ = _create(capsys, host[0], tmp_path, "--add-data", "phkh-att,phkh-img")
    user, out = tmp_path / "user", tmp_path / "resp"
    user.write_bytes(b"u" * 256)
    io = [str(req), str(out)] if form == "positional" else ["-i", str(req), "--output", str(out)]
    code, _, err = _run(capsys, "perform", *io, "--user-data", str(user))
    assert code == 0, err
    response = ExchangeResponse.from_bytes(out.read_bytes())
    assert (response.cuid, response.user_data) == (CUID, b"u" * 256)
    assert response.additional is not None and len(response.additional) == 64
    assert uv.calls == 1


def test_perform_user_data_too_large(uv: FakeAttestingUv, host: tuple[Path, ec.EllipticCurvePrivateKey],
                                     tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    req, _ = _create(capsys, host[0], tmp_path)
    user, out = tmp_path / "user", tmp_path / "resp"
    user.write_bytes(b"u" * 257)
    code, _, err = _run(capsys, "perform", str(req), str(out), "-u", str(user))
    assert code == 1
    assert err == "error: The input has not the correct format: User data is too large. " \
                  "Maximal size 256\n"
    assert not out.exists() and uv.calls == 0


def test_perform_empty_user_data_file(uv: FakeAttestingUv, host: tuple[Path, ec.EllipticCurvePrivateKey],
                                      tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    req, _ = _create(capsys, host[0], tmp_path)
    user, out = tmp_path / "user", tmp_path / "resp"
    user.write_bytes(b"")
    assert _run(capsys, "perform", str(req), str(out), "-u", str(user))[0] == 0
    data = out.read_bytes()
    assert int.from_bytes(data[0x30:0x34], "big") == 0  # user entry (0, offset)
    assert ExchangeResponse.from_bytes(data).user_data is None


@pytest.mark.parametrize("argv", [[], ["IN"], ["IN", "OUT", "-i", "X"], ["IN", "IN"]])
def test_perform_usage(argv: list[str], uv: FakeAttestingUv, tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "IN").write_bytes(b"x")
    code, _, _ = _run(capsys, "perform", *argv)
    assert code == (1 if argv == ["IN", "IN"] else 2)  # the same file twice: refused, not usage
    assert uv.calls == 0


# ---------------------------------------------------------------------------- end to end


def test_create_perform_verify_pvsecret_cuid(
        pki_files: Path, pki_set: pki.PkiSet, hdr: Path, tags: BootHdrTags, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Verified host key -> ARCB -> the UV (host private key) -> verify -> CUID into pvsecret."""
    req, arpk = tmp_path / "req.bin", tmp_path / "arpk"
    code, _, err = _run(capsys, "create", *_verified(pki_files), "-o", str(req), "-a", str(arpk),
                        "--add-data", "phkh-img,phkh-att,secret-store-hash")
    assert code == 0, err
    fake = FakeAttestingUv(pki_set.host_key, tags)
    monkeypatch.setattr(pvattest, "UV_DEVICE", str(req))  # any openable file
    monkeypatch.setattr(pvattest, "UV_IOCTL", fake.ioctl)
    monkeypatch.setattr(pvattest, "MACHINE", "s390x")
    resp, user = tmp_path / "resp.bin", tmp_path / "user"
    user.write_bytes(b"nonce-from-the-relying-party")
    assert _run(capsys, "perform", str(req), str(resp), "-u", str(user))[0] == 0
    # the library ultravisor gives the same answer (measurement aside: fresh ARCB, same keys)
    direct = answer_attestation(ExchangeRequest.from_bytes(req.read_bytes()).arcb, pki_set.host_key,
                                tags, CUID, user.read_bytes())
    assert ExchangeResponse.from_bytes(resp.read_bytes()) == direct

    result = tmp_path / "result.yaml"
    code, _, err = _run(capsys, "verify", "-i", str(resp), "--hdr", str(hdr), "-a", str(arpk),
                        "-o", str(result))
    assert code == 0, err
    assert result.read_text().startswith(f"cuid: '0x{CUID.hex()}'\n")

    code, _, err = _run(capsys, "check", str(resp), str(tmp_path / "check.yaml"),
                        "-k", str(pki_files / "host.crt"),
                        "--host-key-check", "att-key-hash,boot-key-hash",
                        "-u", str(user), "--secret-store-locked", "false")
    assert code == 0, err

    monkeypatch.setattr(pvsecret, "SE_GUEST_FLAG", str(tmp_path / "no-such-flag"))
    asr = tmp_path / "asr.bin"
    assert pvsecret.main(["create", *_verified(pki_files), "--hdr", str(hdr), "-o", str(asr),
                          "--cuid", str(result), "meta"]) == 0
    assert open_request(asr.read_bytes(), pki_set.host_key).parsed.cuid == CUID


# ---------------------------------------------------------------------------- check


@pytest.fixture(scope="module")
def derived(vectors: Path) -> Path:
    return vectors / "derived" / "pvattest"


def test_check_observed_host_keys_and_user_data(vectors: Path, derived: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    user, out = tmp_path / "hello.txt", tmp_path / "out.yaml"
    user.write_bytes(b"hello")
    hkd = str(vectors / "keys" / "host.pem.crt")
    code, _, err = _run(capsys, "check", "-i", str(derived / "resp_phkh_user.bin"), "-o", str(out),
                        "-k", hkd, "--host-key-check", "att-key-hash,boot-key-hash", "-u", str(user))
    assert code == 0
    assert err.endswith("✓ The Attestation response fulfills all policies\n")
    assert out.read_text() == (
        "successful: true\nimage_host_key:\n  check_enforced: true\n"
        f"  hash: {hkd}\nattest_host_key:\n  check_enforced: true\n  hash: {hkd}\n"
        "user_data: '0x68656c6c6f'\n")


def test_check_without_policies(derived: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.yaml"
    assert _run(capsys, "check", str(derived / "resp_ssh.bin"), str(out), "--format", "yaml")[0] == 0
    assert out.read_text() == "successful: true\n"


def test_check_failed_host_key_is_an_issue(vectors: Path, derived: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """The reference panics here (exit 101, no result); we record the issue (ADR 0081)."""
    out = tmp_path / "out.yaml"
    hkd = str(vectors / "keys" / "host.pem.crt")
    user = tmp_path / "other"
    user.write_bytes(b"bye")
    code, _, err = _run(capsys, "check", str(derived / "resp_phkh_user.bin"), str(out),
                        "-k", f"{hkd},{hkd}", "-u", str(user))
    assert code == 2
    assert "✘ More than one host-key document matches the given image public host-key hash" in err
    assert err.endswith("✘ The Attestation response does not fulfill all policies\n")
    assert out.read_text() == (
        "successful: false\nissues:\n"
        "- More than one host-key document matches the given image public host-key hash\n"
        "- More than one host-key document matches the given attestation public host-key hash\n"
        "- The Provided user data does not match the user data from the attestation response.\n")


def test_check_enforced_but_missing_phkh(vectors: Path, derived: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.yaml"
    code, _, _ = _run(capsys, "check", str(derived / "resp_ssh.bin"), str(out),
                      "-k", str(vectors / "keys" / "host.pem.crt"), "--host-key-check", "boot-key-hash")
    assert code == 2
    assert "does not contain an image public host-key hash, but checking was enabled." in \
        " ".join(out.read_text().split())


def _asrcbs(vectors: Path) -> list[str]:
    names = ("assoc_derived_default_cuid_one", "assoc_simple_default_cuid_one",
             "null_none_default_cuid_one", "null_none_default_ncuid_one",
             "null_simple_default_cuid_one", "assoc_none_default_cuid_one",
             "null_derived_default_cuid_one", "null_none_default_cuid_seven",
             "null_none_dump_cuid_one")
    return [str(vectors / "exp" / "asrcb" / name) for name in names]


def test_check_secret_store(vectors: Path, derived: Path, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.yaml"
    secrets = _asrcbs(vectors)
    code, _, _ = _run(capsys, "check", str(derived / "resp_ssh.bin"), str(out),
                      "--secret-store-locked", "true", "--secret", ",".join(secrets[:4]),
                      *[x for s in secrets[4:] for x in ("--secret", s)])
    assert code == 0
    text = out.read_text()
    assert text.startswith("successful: true\nsecret_store:\n  add_secret_requests:\n")
    assert text.endswith("  locked: true\n")
    code, _, _ = _run(capsys, "check", str(derived / "resp_ssh.bin"), str(out),
                      "--secret-store-locked", "false")
    assert code == 2
    assert "- The calculated secret-store-hash does not match with the provided hash\n" in out.read_text()


@pytest.mark.parametrize("argv", [
    ["--secret-store-locked", "maybe"],
    ["--secret", "x.bin"],
    ["--host-key-check", "att-key-hash"],
    ["-k", "x.crt", "--host-key-check", "img-key-hash"],
    ["--fw-ver", "2"],
    ["--firmware", "--firmware-check-version", "3"],
    ["--firmware-verify-url", "http://127.0.0.1:9"],
    ["--format", "json"],
])
def test_check_usage_errors(argv: list[str], derived: Path, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.yaml"
    code, _, err = _run(capsys, "check", str(derived / "resp_ssh.bin"), str(out), *argv)
    assert code == 2, err
    assert not out.exists()


def test_check_structure_error(vectors: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.yaml"
    code, _, err = _run(capsys, "check", str(vectors / "exp" / "exchange" / "full_resp.bin"), str(out))
    assert code == 1
    assert err == "error: Input does not contain an attestation request\n"
    assert not out.exists()


@pytest.fixture
def firmware_response(host: tuple[Path, ec.EllipticCurvePrivateKey], tags: BootHdrTags,
                      tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    req, _ = _create(capsys, host[0], tmp_path, "--add-data", "firmware-state")
    arcb = ExchangeRequest.from_bytes(req.read_bytes()).arcb
    resp = tmp_path / "fw_resp.bin"
    resp.write_bytes(answer_attestation(arcb, host[1], tags, CUID,
                                        firmware_state=b"\x5a" * 320).to_bytes())
    return resp


Handler = Callable[[BaseHTTPRequestHandler, bytes], None]


@pytest.fixture
def post_server() -> Iterator[tuple[str, list[tuple[str, dict[str, str], bytes]], list[Handler]]]:
    """A 127.0.0.1 server answering POSTs with the handler the test puts into the list."""
    seen: list[tuple[str, dict[str, str], bytes]] = []
    handlers: list[Handler] = []

    class Serve(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            seen.append((self.path, dict(self.headers.items()), body))
            handlers[0](self, body)

        def log_message(self, format: str, *args: object) -> None:
            del format, args

    server = ThreadingHTTPServer(("127.0.0.1", 0), Serve)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen, handlers
    finally:
        server.shutdown()
        server.server_close()


def _answer(status: int, doc: object | bytes) -> Handler:
    def handle(h: BaseHTTPRequestHandler, body: bytes) -> None:
        del body
        data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        h.send_response(status)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
    return handle


@pytest.mark.parametrize("version", ["1", "2"])
def test_check_firmware_valid(version: str, firmware_response: Path, tmp_path: Path,
                              post_server: tuple[str, list[tuple[str, dict[str, str], bytes]], list[Handler]],
                              capsys: pytest.CaptureFixture[str]) -> None:
    url, seen, handlers = post_server
    doc: dict[str, object] = {"version": "1.0", "valid": True, "referenceId": "r-1"}
    if version == "2":
        doc = {"version": "2.0", "valid": True, "reason": "ok", "verifiedHashes": []}
    handlers.append(_answer(200, doc))
    out = tmp_path / "out.yaml"
    code, _, err = _run(capsys, "check", str(firmware_response), str(out), "--firmware",
                        "--fw-ver", version, "--firmware-verify-url", url)
    assert code == 0, err
    assert out.read_text() == "successful: true\nvalid_firmware: true\n"
    path, headers, body = seen[0]
    assert path == f"/hmrs/firmware/attestation/v{version}/verify"
    assert headers["X-Client-Id"] == "X" and headers["User-Agent"] == "s390-tools-pvattest"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"version": "1.0", "payload": base64.b64encode(b"\x5a" * 320).decode()}


def test_check_firmware_invalid_is_an_issue(firmware_response: Path, tmp_path: Path,
                                            post_server: tuple[str, list[tuple[str, dict[str, str], bytes]],
                                                               list[Handler]],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    url, _, handlers = post_server
    handlers.append(_answer(200, {"version": "1.0", "valid": False, "referenceId": "r-2",
                                  "reason": "outdated"}))
    out = tmp_path / "out.yaml"
    code, _, _ = _run(capsys, "check", str(firmware_response), str(out), "--firmware",
                      "--firmware-verify-url", url)
    assert code == 2
    text = out.read_text()
    assert text.startswith("successful: false\nissues:\n- ")
    assert "The firmware is not in a valid state" in text and "outdated" in text
    assert text.endswith("valid_firmware: false\n")


@pytest.mark.parametrize("answer", [_answer(500, b"oops"), _answer(200, b"not json"),
                                    _answer(200, b"[" * (2 << 20))])
def test_check_firmware_server_errors(answer: Handler, firmware_response: Path, tmp_path: Path,
                                      post_server: tuple[str, list[tuple[str, dict[str, str], bytes]],
                                                         list[Handler]],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    url, _, handlers = post_server
    handlers.append(answer)
    out = tmp_path / "out.yaml"
    code, _, err = _run(capsys, "check", str(firmware_response), str(out), "--firmware",
                        "--firmware-verify-url", url)
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert not out.exists()


def test_check_firmware_time_budget(firmware_response: Path, tmp_path: Path,
                                    post_server: tuple[str, list[tuple[str, dict[str, str], bytes]],
                                                       list[Handler]],
                                    monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    url, _, handlers = post_server
    release = threading.Event()

    def stall(h: BaseHTTPRequestHandler, body: bytes) -> None:
        del body
        release.wait(10)

    handlers.append(stall)
    monkeypatch.setattr(pvattest, "FIRMWARE_BUDGET", 0.2)
    try:
        code, _, err = _run(capsys, "check", str(firmware_response), str(tmp_path / "o"),
                            "--firmware", "--firmware-verify-url", url)
    finally:
        release.set()
    assert code == 1 and err.startswith("error: ")


def test_check_firmware_transport_is_injectable(firmware_response: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    asked: list[FirmwareRequest] = []

    def post(request: FirmwareRequest) -> tuple[int, bytes]:
        asked.append(request)
        return 200, b'{"version":"1.0","valid":true,"referenceId":"x"}'

    monkeypatch.setattr(pvattest, "FIRMWARE_POST", post)
    assert _run(capsys, "check", str(firmware_response), str(tmp_path / "o"), "--firmware")[0] == 0
    assert asked[0].url == "https://esupport.ibm.com/eccedge/ent/z/hmrs/firmware/attestation/v1/verify"


def test_check_firmware_missing_state(derived: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(pvattest, "FIRMWARE_POST", lambda request: pytest.fail("no POST expected"))
    out = tmp_path / "o"
    assert _run(capsys, "check", str(derived / "resp_ssh.bin"), str(out), "--firmware")[0] == 2
    assert "contains no firmware hash, but checking was enabled" in out.read_text()


def test_check_firmware_url_scheme(firmware_response: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "check", str(firmware_response), str(tmp_path / "o"), "--firmware",
                        "--firmware-verify-url", "file:///etc")
    assert code == 2 and "http or https" in err


# ---------------------------------------------------------------------------- misc


def test_version_and_no_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "version")[1].startswith("pvattest (secexkit) version ")
    assert _run(capsys, "--version")[0] == 0
    assert _run(capsys)[0] == 2


def test_python_m_secexkit_pvattest() -> None:
    done = subprocess.run([sys.executable, "-m", "secexkit", "pvattest", "version"],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 0 and done.stdout.startswith("pvattest (secexkit) version")


def test_check_firmware_redirects(firmware_response: Path, tmp_path: Path,
                                  post_server: tuple[str, list[tuple[str, dict[str, str], bytes]],
                                                     list[Handler]],
                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Redirects to http(s) are followed; a redirect elsewhere (file:) is refused."""
    url, seen, handlers = post_server

    def redirect(target: str, code: int = 307) -> Handler:
        def handle(h: BaseHTTPRequestHandler, body: bytes) -> None:
            del body
            h.send_response(code)
            h.send_header("Location", target)
            h.send_header("Content-Length", "0")
            h.end_headers()
        return handle

    steps = [redirect(url + "/hmrs/firmware/attestation/v2/verify"),
             _answer(200, {"version": "1.0", "valid": True, "referenceId": "r"})]
    def in_turn(h: BaseHTTPRequestHandler, body: bytes) -> None:
        steps.pop(0)(h, body)

    handlers.append(in_turn)
    assert _run(capsys, "check", str(firmware_response), str(tmp_path / "o"), "--firmware",
                "--firmware-verify-url", url)[0] == 0
    assert [path for path, _, _ in seen] == ["/hmrs/firmware/attestation/v1/verify",
                                             "/hmrs/firmware/attestation/v2/verify"]
    assert json.loads(seen[1][2])["payload"]  # the body went along
    for target, words in (("ftp://127.0.0.1:9/x", "non-HTTP location"),
                          ("file:///etc/passwd", "307")):
        handlers[:] = [redirect(target)]
        code, _, err = _run(capsys, "check", str(firmware_response), str(tmp_path / "p"),
                            "--firmware", "--firmware-verify-url", url)
        assert code == 1 and words in err and err.count("\n") == 1
        assert not (tmp_path / "p").exists()
