"""The software ultravisor from the command line: ``secexkit-uv`` for the machine, the unchanged
guest commands (``pvsecret add/list/lock/retrieve``) with ``SECEXKIT_UV``, and the §8.4
scenarios with the messages our CLI prints on hardware."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from secexkit.cli import uvmodel
from secexkit.formats.retrievable import frame_plaintext
from secexkit.formats.secret_list import parse_secret_list
from tests.support import pki
from tests.support.pvsecret import cli
from tests.support.softuv import PCF_ALLOW_DUMPING, host_key, make_image

Capture = pytest.CaptureFixture[bytes]


def uv(capsys: Capture, *argv: str | Path) -> tuple[int, str, str]:
    code = uvmodel.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out.decode(), err.decode()


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class Setup:
    """A generated PKI, a machine for its host key, an SE header, a booted guest."""

    def __init__(self, root: Path, pki_set: pki.PkiSet, capsys: Capture, *, pcf: int = 0) -> None:
        self.root = root
        self.capsys = capsys
        self.key = pki_set.host_key
        pki.write(root / "host.crt", pki_set.host)
        pki.write(root / "signing.crt", pki_set.signing)
        pki.write(root / "inter.crt", pki_set.inter)
        pki.write(root / "root.crt", pki_set.root)
        pki.write(root / "crls.pem", pki_set.root_crl, pki_set.inter_crl, pki_set.signing_crl)
        (root / "host.key").write_bytes(_pem(self.key))
        self.image = make_image(self.key, pcf=pcf)
        self.header = root / "image.hdr"
        self.header.write_bytes(self.image.header)
        self.machine = root / "machine"
        assert uv(capsys, "-d", self.machine, "init", "-k", root / "host.key")[0] == 0
        code, out, _ = uv(capsys, "-d", self.machine, "boot", self.header, "--name", "web")
        assert code == 0
        self.cuid = out.split("CUID: ")[1].split()[0]

    def create(self, out: str, *args: str | Path) -> Path:
        """``pvsecret create``, fully verified against the generated PKI (offline, with CRLs)."""
        path = self.root / out
        code, _, err = cli(self.capsys, "create", "-k", self.root / "host.crt",
                           "-C", self.root / "signing.crt", "-C", self.root / "inter.crt",
                           "--root-ca", self.root / "root.crt", "--crl", self.root / "crls.pem",
                           "--offline", "--hdr", self.header, "-o", path, *args)
        assert code == 0, err
        return path

    def guest(self, *argv: str | Path) -> tuple[int, bytes, str]:
        return cli(self.capsys, *argv)


@pytest.fixture
def setup(tmp_path: Path, pki_set: pki.PkiSet, capsysbinary: Capture,
          monkeypatch: pytest.MonkeyPatch) -> Setup:
    monkeypatch.chdir(tmp_path)
    made = Setup(tmp_path, pki_set, capsysbinary, pcf=PCF_ALLOW_DUMPING)
    monkeypatch.setenv("SECEXKIT_UV", str(made.machine))
    monkeypatch.delenv("SECEXKIT_UV_GUEST", raising=False)
    return made


ANNOUNCE = "(SECEXKIT_UV is set): this is NOT an IBM Secure Execution guest\n"


def test_pipeline_dump_refused_after_disable_dump(setup: Setup) -> None:
    """Scenario 1 through the CLI: dumpable image, association bound to the CUID, meta with
    disable-dump -> dump refused, naming the request."""
    code, out, _ = uv(setup.capsys, "dump")
    assert (code, out) == (0, "dump allowed\n")
    assoc = setup.create("assoc.req", "--cuid-hex", setup.cuid, "association", "db")
    meta = setup.create("meta.req", "--flags", "disable-dump", "meta")
    errors = []
    for request in (assoc, meta):
        code, _, err = setup.guest("add", request)
        assert code == 0 and err.endswith("Successfully added the secret\n"), err
        errors.append(err)
    assert "".join(errors).count(ANNOUNCE) == 1  # once per process and folder
    code, listing, _ = setup.guest("list")
    assert code == 0 and listing.decode().startswith("Total number of secrets: 1\n\n0 Association:")
    code, out, _ = uv(setup.capsys, "dump")
    assert code == 1
    tag = meta.read_bytes()[-16:].hex()
    assert out == f"dump refused: dumping was disabled by add-secret request #2 (meta request, tag {tag})\n"
    state = json.loads(uv(setup.capsys, "state")[1])
    assert state["guests"]["web"]["dump_allowed"] is False
    assert state["guests"]["web"]["cuid"] == setup.cuid
    assert uv(setup.capsys, "reboot")[0] == 0
    assert uv(setup.capsys, "dump")[1] == "dump allowed\n"


def test_header_without_dump_flag(tmp_path: Path, pki_set: pki.PkiSet, capsysbinary: Capture,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    made = Setup(tmp_path, pki_set, capsysbinary)
    code, out, _ = uv(capsysbinary, "-d", made.machine, "dump")
    assert (code, out) == (1, "dump refused: the SE header does not allow dumping (PCF bit 34 is clear)\n")


def _error(err: str) -> str:
    return err.splitlines()[-1]


def test_scenarios_2_to_6_print_the_hardware_messages(setup: Setup, tmp_path: Path) -> None:
    (tmp_path / "ext1").write_bytes(b"\x01" * 32)
    (tmp_path / "ext2").write_bytes(b"\x02" * 32)
    first = setup.create("a.req", "--extension-secret", tmp_path / "ext1", "association", "a")
    second = setup.create("b.req", "--extension-secret", tmp_path / "ext2", "association", "b")
    assert setup.guest("add", first)[0] == 0
    code, _, err = setup.guest("add", second)  # 2: another extension secret
    assert code == 1 and _error(err) == "error: Ultravisor: 'unable to add secret' (0x010c,0x0000)"
    old_cuid = setup.cuid
    uv(setup.capsys, "reboot")
    stale = setup.create("c.req", "--cuid-hex", old_cuid, "association", "c")
    code, _, err = setup.guest("add", stale)  # 3: CUID of the previous boot
    assert code == 1 and _error(err) == "error: Ultravisor: 'unable to add secret' (0x010c,0x0000)"
    # 5: another host key, another image
    other = host_key()
    pki.write(tmp_path / "other.crt", pki.issue(pki.root_ca(), pki.HOST_SUBJECT, pki.host_spec(),
                                               key=other))
    path = tmp_path / "other.req"
    assert cli(setup.capsys, "create", "-k", tmp_path / "other.crt", "--no-verify", "--hdr",
               setup.header, "-o", path, "association", "x")[0] == 0
    code, _, err = setup.guest("add", path)
    assert _error(err) == "error: Ultravisor: 'unable to decrypt the request' (0x0108,0x0000)"
    (tmp_path / "other.hdr").write_bytes(make_image(setup.key).header)
    path = tmp_path / "image.req"
    assert cli(setup.capsys, "create", "-k", setup.root / "host.crt", "--no-verify", "--hdr",
               tmp_path / "other.hdr", "-o", path, "association", "y")[0] == 0
    code, _, err = setup.guest("add", path)
    assert _error(err) == "error: Ultravisor: 'unable to add secret' (0x010c,0x0000)"
    # 6: retrieve an association, a missing index
    assert setup.guest("add", setup.create("d.req", "association", "d"))[0] == 0
    code, _, err = setup.guest("retrieve", "--inform", "idx", "0")
    assert _error(err) == "error: Ultravisor: 'the secret is not retrievable' (0x0111,0x0000)"
    code, _, err = setup.guest("retrieve", "--inform", "idx", "7")
    assert code == 1 and _error(err) == "error: The UV secret-store has no secret with the index 7"
    # 4: lock
    assert setup.guest("lock")[0] == 0
    code, _, err = setup.guest("lock")
    assert _error(err) == "error: Ultravisor: 'secret store already locked' (0x0102,0x0000)"
    code, _, err = setup.guest("add", setup.create("e.req", "association", "e"))
    assert _error(err) == "error: Ultravisor: 'secret store locked' (0x0102,0x0000)"
    state = json.loads(uv(setup.capsys, "state", "--name", "web")[1])
    assert state["guests"]["web"]["locked"] and len(state["guests"]["web"]["secrets"]) == 1


def test_retrievable_secrets_round_trip_and_a_flipped_bit(setup: Setup, tmp_path: Path) -> None:
    (tmp_path / "pw").write_bytes(b"guest password")
    (tmp_path / "aes").write_bytes(b"\x42" * 32)
    (tmp_path / "ec.pem").write_bytes(_pem(ec.generate_private_key(ec.SECP384R1())))
    requests = [setup.create("p.req", "retr", "pw", "--secret", tmp_path / "pw", "--type", "plain"),
                setup.create("k.req", "retr", "aes", "--secret", tmp_path / "aes", "--type", "aes"),
                setup.create("e.req", "retr", "ec", "--secret", tmp_path / "ec.pem", "--type", "ec")]
    flipped = tmp_path / "flipped.req"
    raw = bytearray(requests[0].read_bytes())
    raw[0x300] ^= 0x10  # user data: authenticated, not interpreted
    flipped.write_bytes(raw)
    code, _, err = setup.guest("add", flipped)
    assert _error(err) == "error: Ultravisor: 'unable to decrypt the request' (0x0108,0x0000)"
    for request in requests:
        assert setup.guest("add", request)[0] == 0
    code, out, _ = setup.guest("list", "--format", "bin")
    listing = parse_secret_list(out)
    assert [e.secret_type for e in listing] == [3, 6, 0x12]
    assert [e.length for e in listing] == [16, 32 + 32, 48 + 32]
    code, out, _ = setup.guest("retrieve", "--inform", "name", "pw", "--outform", "bin")
    assert (code, out) == (0, b"guest password")
    code, out, _ = setup.guest("retrieve", "--inform", "idx", "1", "--outform", "bin", "aes.key")
    data = (tmp_path / "aes.key").read_bytes()
    assert data[:32] == b"\x42" * 32 and len(data) == 64
    assert os.stat(tmp_path / "aes.key").st_mode & 0o777 == 0o600
    assert frame_plaintext(b"guest password")[:2] == b"\x00\x0e"


def test_guest_selection_and_bad_folders(setup: Setup, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECEXKIT_UV_GUEST", "db")
    code, _, err = setup.guest("list")
    assert code == 1 and "has no guest named `db` (guests: web)" in err
    monkeypatch.setenv("SECEXKIT_UV", str(tmp_path / "nowhere"))
    code, out, err = setup.guest("list")
    assert (code, out) == (1, b"")
    assert err == (f"error: `{tmp_path / 'nowhere'}` is not a software ultravisor state folder: "
                   "no such directory (create one with `secexkit-uv init`)\n")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "machine.json").write_text("{")
    monkeypatch.setenv("SECEXKIT_UV", str(tmp_path / "broken"))
    code, _, err = setup.guest("lock")
    assert code == 1 and err.count("\n") == 1 and "is corrupt: machine.json is not JSON" in err


def test_without_the_variable_nothing_changes(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    from secexkit.cli import pvsecret

    monkeypatch.delenv("SECEXKIT_UV")
    monkeypatch.setattr(pvsecret, "MACHINE", "x86_64")
    code, _, err = setup.guest("list")
    assert code == 1 and err.startswith("error: pvsecret list needs an s390x Secure Execution guest")


def test_machine_command_errors(tmp_path: Path, capsysbinary: Capture,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECEXKIT_UV", raising=False)
    code, _, err = uv(capsysbinary, "state")
    assert code == 2 and "pass --dir DIR or set SECEXKIT_UV" in err
    (tmp_path / "p256.pem").write_bytes(_pem(ec.generate_private_key(ec.SECP256R1())))
    code, _, err = uv(capsysbinary, "-d", tmp_path / "m", "init", "-k", tmp_path / "p256.pem")
    assert code == 1 and "is not an EC secp521r1 private key" in err
    key = host_key()
    (tmp_path / "k.pem").write_bytes(_pem(key))
    assert uv(capsysbinary, "-d", tmp_path / "m", "init", "-k", tmp_path / "k.pem")[0] == 0
    code, _, err = uv(capsysbinary, "-d", tmp_path / "m", "init", "-k", tmp_path / "k.pem")
    assert code == 1 and "already holds a software ultravisor state" in err
    (tmp_path / "h").write_bytes(make_image(host_key()).header)
    code, _, err = uv(capsysbinary, "-d", tmp_path / "m", "boot", tmp_path / "h")
    assert (code, err) == (1, "error: The SE header has no key slot for this machine's host key "
                              f"(`{tmp_path / 'h'}`)\n")
    (tmp_path / "junk").write_bytes(b"\0" * 100)
    code, _, err = uv(capsysbinary, "-d", tmp_path / "m", "boot", tmp_path / "junk")
    assert code == 1 and err.startswith("error: Cannot boot:") and f"`{tmp_path / 'junk'}`" in err
    code, _, err = uv(capsysbinary, "-d", tmp_path / "m", "boot", tmp_path / "h", "--cuid", "0x12")
    assert code == 1 and err.startswith("error: --cuid: CUID hexstring must be 32chars")
    code, _, err = uv(capsysbinary, "-d", tmp_path / "m2", "init", "-k", tmp_path / "k.pem",
                      "--max-assoc-secrets", "-5")
    assert code == 2 and err.startswith("error: --max-assoc-secrets must be 0..65535")
    code, _, err = uv(capsysbinary, "-d", tmp_path / "m", "dump")
    assert code == 1 and "no running guest" in err
    (tmp_path / "h2").write_bytes(make_image(key).header)
    code, out, _ = uv(capsysbinary, "-d", tmp_path / "m", "boot", tmp_path / "h2", "--cuid",
                      "0x" + "ab" * 16)
    assert code == 0 and "CUID: 0x" + "ab" * 16 in out


def test_a_real_process_says_it_once(tmp_path: Path) -> None:
    import subprocess
    import sys

    key = host_key()
    (tmp_path / "k.pem").write_bytes(_pem(key))
    (tmp_path / "h").write_bytes(make_image(key).header)
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root / "src"), "SECEXKIT_UV": str(tmp_path / "m")}

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "secexkit", *argv], env=env, text=True,
                              capture_output=True, timeout=60, check=False)

    assert run("uv", "init", "-k", str(tmp_path / "k.pem")).returncode == 0
    assert run("uv", "boot", str(tmp_path / "h")).returncode == 0
    listed = run("pvsecret", "list")
    assert (listed.returncode, listed.stdout) == (0, "Total number of secrets: 0\n")
    assert listed.stderr == f"Using the software ultravisor in '{tmp_path / 'm'}' {ANNOUNCE}"
