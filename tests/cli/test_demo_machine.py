"""The demo plays the machine side too: the software ultravisor with demo/host-z16.key boots
demo/se.hdr (which allows dumps), and the README's disable-dump request, added in the guest,
takes dumps away."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from secexkit.cli import pvsecret, uvmodel

DEMO = Path(__file__).resolve().parents[2] / "demo"
README_CREATE = ["create", "meta", "-k", "host-z16.crt", "--hdr", "se.hdr", "-o", "addNoDumpReq",
                 "--crt", "ibm-z-signing.crt", "--crt", "inter-ca.crt", "--root-ca", "root-ca.crt",
                 "--crl", "ibm-z-signing.crl", "--crl", "inter-ca.crl", "--offline",
                 "--flags", "disable-dump"]


def test_demo_machine_refuses_dumps_after_the_readme_request(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "addNoDumpReq"
    args = [str(DEMO / a) if (DEMO / a).is_file() else a for a in README_CREATE]
    args[args.index("addNoDumpReq")] = str(out)
    assert pvsecret.main(args) == 0
    machine = str(tmp_path / "machine")
    assert uvmodel.main(["-d", machine, "init", "-k", str(DEMO / "host-z16.key")]) == 0
    assert uvmodel.main(["-d", machine, "boot", str(DEMO / "se.hdr")]) == 0
    capsys.readouterr()
    assert uvmodel.main(["-d", machine, "dump"]) == 0
    assert capsys.readouterr().out == "dump allowed\n"
    monkeypatch.setenv("SECEXKIT_UV", machine)
    assert pvsecret.main(["add", str(out)]) == 0
    assert uvmodel.main(["dump"]) == 1
    assert capsys.readouterr().out.startswith(
        "dump refused: dumping was disabled by add-secret request #1 (meta request")


def test_demo_key_is_labelled_as_test_material() -> None:
    readme = (DEMO / "README.md").read_text(encoding="utf-8")
    assert "host-z16.key" in readme and "public on purpose" in readme
    assert "PUBLIC ON PURPOSE" in (DEMO / "regenerate.py").read_text(encoding="utf-8")
    assert stat.S_ISREG((DEMO / "host-z16.key").stat().st_mode)
    # the key file says what it is on its first line (PEM readers skip it)
    assert (DEMO / "host-z16.key").read_bytes().split(b"\n", 1)[0].startswith(
        b"DEMO HOST KEY - TEST MATERIAL, PUBLIC ON PURPOSE")
