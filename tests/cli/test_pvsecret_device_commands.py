"""pvsecret where it runs: create refused inside an SE guest, and the ultravisor device
commands (add, list, retrieve, lock) against a fake /dev/uv.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from secexkit.addsecret.name_yaml_reader import load_yaml12
from secexkit.cli import pvsecret
from secexkit.formats.secret_list import parse_secret_list
from secexkit.uv.device import UvIoctl
from tests.support.fake_uv import FakeUltravisor
from tests.support.pvsecret import Capture, cli, create, failed

pytestmark = pytest.mark.usefixtures("not_a_guest")


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
    failed(code, stdout, err, message)
    assert not out.exists()
    assert UvIoctl.RETRIEVE_SECRET not in [nr for nr, _ in uv.calls]


def test_outputs_checked_before_the_device(tmp_path: Path, uv: FakeUltravisor,
                                           capsysbinary: Capture) -> None:
    uv.store(4, bytes(range(32)), b"\x11" * 16)
    argvs: list[list[str | Path]] = [["retrieve", "--inform", "idx", "0", tmp_path],
                                     ["list", tmp_path / "no" / "dir"]]
    for argv in argvs:
        code, stdout, err = cli(capsysbinary, *argv)
        failed(code, stdout, err, "Cannot")
    assert uv.calls == []  # the secret never left the ultravisor
