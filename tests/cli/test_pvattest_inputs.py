"""``pvattest`` on arbitrary or mutated inputs: one line, exit 1 or 2, never a traceback or an
output file; and the verbosity options."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secexkit.cli.pvattest import main

SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def sample(vectors: Path) -> bytes:
    return (vectors / "derived" / "pvattest" / "resp_phkh_user.bin").read_bytes()


def _one_line_failure(code: int, err: str) -> None:
    assert code in (1, 2), err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert "internal error" not in err


@SETTINGS
@given(data=st.data())
def test_mutated_responses(data: st.DataObject, sample: bytes, vectors: Path,
                           tmp_path_factory: pytest.TempPathFactory,
                           capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path_factory.mktemp("fuzz")
    blob = bytearray(sample)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(blob) - 1))
        blob[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(blob)))
    resp, out = directory / "resp", directory / "out"
    resp.write_bytes(bytes(blob[:cut]) + data.draw(st.binary(max_size=16)))
    for command in (["verify", "-i", str(resp), "--hdr", str(vectors / "exp" / "secure_guest.hdr"),
                     "-a", str(vectors / "derived" / "pvattest" / "arpk.bin"), "-o", str(out)],
                    ["check", str(resp), str(out), "--secret-store-locked", "true"]):
        code = main(command)
        err = capsys.readouterr().err
        if code == 0 or (command[0] == "check" and code == 2 and out.exists()):
            out.unlink()
            continue
        _one_line_failure(code, err)
        assert not out.exists()


@SETTINGS
@given(blob=st.binary(max_size=600))
def test_arbitrary_requests_for_perform(blob: bytes, tmp_path_factory: pytest.TempPathFactory,
                                        monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Off s390x perform refuses before reading; on a fake s390x a bad request never reaches the UV."""
    from secexkit.cli import pvattest

    directory = tmp_path_factory.mktemp("perform")
    (directory / "uv").write_bytes(b"")
    calls: list[int] = []
    monkeypatch.setattr(pvattest, "UV_DEVICE", str(directory / "uv"))
    monkeypatch.setattr(pvattest, "UV_IOCTL", lambda fd, request, control: calls.append(request))
    monkeypatch.setattr(pvattest, "MACHINE", "s390x")
    req = directory / "req"
    req.write_bytes(b"pvattest" + blob)
    code = main(["perform", str(req), str(directory / "out")])
    err = capsys.readouterr().err
    if code != 0:
        _one_line_failure(code, err)
        assert not (directory / "out").exists()


@pytest.mark.parametrize("verbosity", [["-v"], ["-vv"], ["verify-v"]])
def test_verbosity_anywhere(verbosity: list[str], vectors: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    derived = vectors / "derived" / "pvattest"
    args = ["verify", "-i", str(derived / "resp_ssh.bin"), "--hdr",
            str(vectors / "exp" / "secure_guest.hdr"), "-a", str(derived / "arpk.bin")]
    argv = [*args, "-v"] if verbosity == ["verify-v"] else [*verbosity, *args]
    assert main(argv) == 0
    assert "Attestation measurement verified" in capsys.readouterr().err


def test_quiet_and_verbose_conflict(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-q", "-v", "version"]) == 2


@pytest.mark.parametrize(("command", "option"), [
    ("verify", "-i"), ("verify", "--hdr"), ("verify", "-a"),
    ("check", "IN"), ("check", "-k"), ("check", "-u"), ("check", "--secret"),
    ("create", "-k"),
])
def test_endless_inputs_are_refused(command: str, option: str, vectors: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """/dev/zero behind any input: one line, exit 1, no output (reads are bounded)."""
    derived = vectors / "derived" / "pvattest"
    endless = tmp_path / "zero"
    endless.symlink_to("/dev/zero")
    out = tmp_path / "out"
    given: dict[str, str] = {
        "verify": {"-i": str(derived / "resp_ssh.bin"), "--hdr": str(vectors / "exp" / "secure_guest.hdr"),
                   "-a": str(derived / "arpk.bin"), "-o": str(out)},
        "check": {"IN": str(derived / "resp_ssh.bin"), "-o": str(out),
                  "-k": str(vectors / "keys" / "host.pem.crt"),
                  "-u": str(derived / "arpk.bin"), "--secret-store-locked": "true",
                  "--secret": str(vectors / "exp" / "asrcb" / "null_none_dump_cuid_one")},
        "create": {"-k": str(vectors / "keys" / "host.pem.crt"), "--no-verify": "", "-o": str(out),
                   "-a": str(tmp_path / "arpk")},
    }[command]
    given[option] = str(endless)
    argv = [command]
    for key, value in given.items():
        argv += [value] if key == "IN" else [key] if not value else [key, value]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 1, err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and err.endswith(errors[0] + "\n")
    assert not out.exists()
