"""``pvimg test --key-hashes`` with SECEXKIT_UV: the model's host-key hashes stand in for
/sys/firmware/uv/keys/all."""

from __future__ import annotations

from pathlib import Path

import pytest

from secexkit.cli.pvimg import main
from secexkit.uv import device
from secexkit.uv.softuv.state import create_state
from tests.support.softuv import host_key, make_image, public


def test_key_hashes_from_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    current, backup = host_key(), host_key()
    folder = tmp_path / "machine"
    create_state(str(folder), [current, backup])
    monkeypatch.setenv("SECEXKIT_UV", str(folder))
    monkeypatch.setattr(device, "_announced", set())
    for key, label in ((current, "Host key hash"), (backup, "Backup host key hash")):
        header = tmp_path / "image.hdr"
        header.write_bytes(make_image(key).header)
        assert main(["test", str(header), "--key-hashes"]) == 0
        err = capsys.readouterr().err
        assert f" \u2713 {label} 0x{public(key).hash.hex()} is included" in err
        assert "Using the software ultravisor" in err or label != "Host key hash"
    header.write_bytes(make_image(host_key()).header)
    assert main(["test", str(header), "--key-hashes"]) == 1
    assert "None of the key hashes is included" in capsys.readouterr().err
    monkeypatch.setenv("SECEXKIT_UV", str(tmp_path / "nothing"))
    assert main(["test", str(header), "--key-hashes"]) == 1
    assert "is not a software ultravisor state folder" in capsys.readouterr().err
