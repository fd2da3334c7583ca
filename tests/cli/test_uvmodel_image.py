"""An image built by ``pvimg create --enable-dump`` on the software ultravisor: booted from the
image file itself, dumpable until a disable-dump request is added (ultravisor.md §7)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from secexkit.cli import pvimg, pvsecret, uvmodel
from tests.support.images import make_kernel, make_loaders
from tests.support.keys import write_host_key_document


def test_enable_dump_image_until_disable_dump(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    hkd, key = write_host_key_document(tmp_path, "host")
    (tmp_path / "host.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (tmp_path / "cck").write_bytes(os.urandom(32))
    (tmp_path / "parm").write_bytes(b"console=ttysclp0")
    image = tmp_path / "image.se"
    assert pvimg.main([
        "create", "-i", str(make_kernel(tmp_path / "kernel")), "-p", str(tmp_path / "parm"),
        "-o", str(image), "-k", str(hkd), "--no-verify", "--enable-dump",
        "--cck", str(tmp_path / "cck"),
        "--x-bootloader-directory", str(make_loaders(tmp_path / "boot")),  # placeholder loaders
    ]) == 0
    machine = str(tmp_path / "machine")
    assert uvmodel.main(["-d", machine, "init", "-k", str(tmp_path / "host.key")]) == 0
    assert uvmodel.main(["-d", machine, "boot", str(image)]) == 0
    capsys.readouterr()
    assert uvmodel.main(["-d", machine, "dump"]) == 0
    assert capsys.readouterr().out == "dump allowed\n"
    request = tmp_path / "nodump.req"
    assert pvsecret.main(["create", "-k", str(hkd), "--no-verify", "--hdr", str(image),
                          "-o", str(request), "--flags", "disable-dump", "meta"]) == 0
    monkeypatch.setenv("SECEXKIT_UV", machine)
    assert pvsecret.main(["add", str(request)]) == 0
    assert uvmodel.main(["dump"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("dump refused: dumping was disabled by add-secret request #1 (meta request, tag ")
    assert request.read_bytes()[-16:].hex() in out
