"""``pvattest verify`` on the derived responses: observed YAML, user data, and every kind of
tampering (exit 2 for a measurement mismatch, 1 for a structure error; one line, no output)."""

from __future__ import annotations

from pathlib import Path

import pytest

from secexkit.cli.pvattest import main

RESPONSES = ("resp_phkh_user", "resp_ssh")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def derived(vectors: Path) -> Path:
    return vectors / "derived" / "pvattest"


@pytest.fixture(scope="module")
def hdr(vectors: Path) -> Path:
    return vectors / "exp" / "secure_guest.hdr"


@pytest.mark.parametrize("name", RESPONSES)
def test_observed_yaml(name: str, derived: Path, hdr: Path, tmp_path: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.yaml"
    code, _, err = _run(capsys, "verify", "-i", str(derived / f"{name}.bin"), "--hdr", str(hdr),
                        "-a", str(derived / "arpk.bin"), "-o", str(out), "--format", "yaml")
    assert code == 0, err
    assert out.read_bytes() == (derived / f"{name}.verify.yaml").read_bytes()
    assert err.startswith("Attestation measurement verified\nConfig UID:\n0x4242")
    assert err.endswith("\n\n")


def test_yaml_to_stdout_and_user_data(derived: Path, hdr: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    user = tmp_path / "user"
    code, out, _ = _run(capsys, "verify", "-q", "-i", str(derived / "resp_phkh_user.bin"),
                        "--hdr", str(hdr), "--arpk", str(derived / "arpk.bin"), "--output", "-",
                        "--user-data", str(user))
    assert code == 0
    assert out == (derived / "resp_phkh_user.verify.yaml").read_text()
    assert user.read_bytes() == b"hello"


def test_user_data_requested_but_absent(derived: Path, hdr: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    user = tmp_path / "user"
    code, _, err = _run(capsys, "verify", "-i", str(derived / "resp_ssh.bin"), "--hdr", str(hdr),
                        "-a", str(derived / "arpk.bin"), "-u", str(user))
    assert code == 0
    assert "respose does not contain any user-data" in err
    assert not user.exists()


def test_quiet_prints_nothing(derived: Path, hdr: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "verify", "-q", "-i", str(derived / "resp_ssh.bin"),
                          "--hdr", str(hdr), "-a", str(derived / "arpk.bin"))
    assert (code, out, err) == (0, "", "")


@pytest.mark.parametrize("missing", ["-i", "--hdr", "-a"])
def test_required_options(missing: str, derived: Path, hdr: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    given = {"-i": str(derived / "resp_ssh.bin"), "--hdr": str(hdr), "-a": str(derived / "arpk.bin")}
    del given[missing]
    code, _, err = _run(capsys, "verify", *[x for kv in given.items() for x in kv])
    assert code == 2
    assert "required" in err.splitlines()[0]


def test_format_other_than_yaml_is_usage_error(derived: Path, hdr: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = _run(capsys, "verify", "-i", str(derived / "resp_ssh.bin"), "--hdr", str(hdr),
                      "-a", str(derived / "arpk.bin"), "--format", "json")
    assert code == 2


def test_output_may_not_be_an_input(derived: Path, hdr: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    resp = tmp_path / "resp.bin"
    resp.write_bytes((derived / "resp_ssh.bin").read_bytes())
    code, _, _ = _run(capsys, "verify", "-i", str(resp), "--hdr", str(hdr),
                      "-a", str(derived / "arpk.bin"), "-o", str(resp))
    assert code != 0
    assert resp.read_bytes() == (derived / "resp_ssh.bin").read_bytes()


def test_arpk_of_wrong_size(derived: Path, hdr: Path, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    arpk = tmp_path / "arpk"
    arpk.write_bytes(bytes(31))
    code, _, err = _run(capsys, "verify", "-i", str(derived / "resp_ssh.bin"), "--hdr", str(hdr),
                        "-a", str(arpk))
    assert code == 1
    assert err == "error: Attestation request protection key must be exactly 32 bytes long\n"


def test_not_an_se_header(derived: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "verify", "-i", str(derived / "resp_ssh.bin"),
                        "--hdr", str(derived / "arpk.bin"), "-a", str(derived / "arpk.bin"))
    assert code == 1
    assert err == "error: Invalid SE header provided\n"


def _flipped(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(out)


def _absent_entry_offsets(data: bytes) -> set[int]:
    """Byte positions of the offset field of absent (size 0) exchange entries."""
    skip: set[int] = set()
    for entry in range(5):
        at = 0x18 + 8 * entry
        if int.from_bytes(data[at:at + 4], "big") == 0:
            skip.update(range(at + 4, at + 8))
    return skip


def _verify_tampered(tmp_path: Path, capsys: pytest.CaptureFixture[str], response: bytes,
                     header: bytes, arpk: bytes) -> tuple[int, str]:
    files = {"resp": response, "hdr": header, "arpk": arpk}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    out = tmp_path / "out.yaml"
    code, stdout, err = _run(capsys, "verify", "-i", str(tmp_path / "resp"),
                             "--hdr", str(tmp_path / "hdr"), "-a", str(tmp_path / "arpk"),
                             "-o", str(out))
    assert not out.exists()
    assert stdout == ""
    return code, err


@pytest.mark.parametrize("name", RESPONSES)
def test_every_response_byte_flipped(name: str, derived: Path, hdr: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """One bit per byte (the bit position walks along), over ARCB, measurement, data, CUID."""
    response = (derived / f"{name}.bin").read_bytes()
    header, arpk = hdr.read_bytes(), (derived / "arpk.bin").read_bytes()
    skip = _absent_entry_offsets(response)
    codes = set()
    for index in range(len(response)):
        if index in skip:
            continue
        code, err = _verify_tampered(tmp_path, capsys, _flipped(response, 8 * index + index % 8),
                                     header, arpk)
        assert code in (1, 2), index
        assert err.count("\n") == 1 and err.startswith("error: "), (index, err)
        codes.add(code)
    assert codes == {1, 2}


@pytest.mark.parametrize("bit", range(256))
def test_every_arpk_bit_flipped(bit: int, derived: Path, hdr: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _verify_tampered(tmp_path, capsys, (derived / "resp_ssh.bin").read_bytes(),
                                 hdr.read_bytes(), _flipped((derived / "arpk.bin").read_bytes(), bit))
    assert code == 1
    assert err == "error: Decryption failed. Probably due to a GCM tag mismatch.\n"


def test_every_measured_header_byte_flipped(derived: Path, hdr: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """PLD, ALD, TLD (0xE0..0x1A0) and the header tag (last 16 bytes): measurement mismatch.

    The other header bytes are bound through the tag, not the measurement (ADR 0080).
    """
    header = hdr.read_bytes()
    response, arpk = (derived / "resp_ssh.bin").read_bytes(), (derived / "arpk.bin").read_bytes()
    measured = [*range(0xE0, 0x1A0), *range(len(header) - 16, len(header))]
    for index in measured:
        code, err = _verify_tampered(tmp_path, capsys, response,
                                     _flipped(header, 8 * index + index % 8), arpk)
        assert (code, err.count("\n")) == (2, 1), index
        assert err.startswith("error: Attestation measurement verification failed.")


def test_header_magic_flipped_is_a_structure_error(derived: Path, hdr: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _verify_tampered(tmp_path, capsys, (derived / "resp_ssh.bin").read_bytes(),
                                 _flipped(hdr.read_bytes(), 0), (derived / "arpk.bin").read_bytes())
    assert (code, err) == (1, "error: Invalid SE header provided\n")
