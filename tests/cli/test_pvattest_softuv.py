"""``pvattest perform`` against the software ultravisor (``SECEXKIT_UV``): a generated PKI, a
machine for its host key, a booted guest; create (fully verified, offline) -> perform -> verify
-> ``pvsecret create --cuid`` -> ``pvsecret add`` in the same guest, then ``check`` the
secret-store hash of the added request."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from secexkit.addsecret.request import open_request
from secexkit.cli import pvattest, pvsecret
from tests.support import pki

# the software ultravisor (branch softuv); this test runs once it is merged
uvmodel = pytest.importorskip("secexkit.cli.uvmodel")
make_image = pytest.importorskip("tests.support.softuv").make_image


def _quiet(capsys: pytest.CaptureFixture[str], code: int) -> str:
    err = capsys.readouterr().err
    assert code == 0, err
    return err


def test_attest_then_bind_a_secret_to_the_guest(tmp_path: Path, pki_set: pki.PkiSet,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SECEXKIT_UV", raising=False)
    monkeypatch.delenv("SECEXKIT_UV_GUEST", raising=False)
    for name, item in (("host.crt", pki_set.host), ("signing.crt", pki_set.signing),
                       ("inter.crt", pki_set.inter), ("root.crt", pki_set.root)):
        pki.write(tmp_path / name, item)
    pki.write(tmp_path / "crls.pem", pki_set.root_crl, pki_set.inter_crl, pki_set.signing_crl)
    (tmp_path / "host.key").write_bytes(pki_set.host_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (tmp_path / "image.hdr").write_bytes(make_image(pki_set.host_key).header)
    verified = ["-k", "host.crt", "-C", "signing.crt", "-C", "inter.crt", "--root-ca", "root.crt",
                "--crl", "crls.pem", "--offline"]
    _quiet(capsys, uvmodel.main(["-d", "machine", "init", "-k", "host.key"]))
    _quiet(capsys, uvmodel.main(["-d", "machine", "boot", "image.hdr", "--name", "web"]))
    capsys.readouterr()

    _quiet(capsys, pvattest.main(["create", *verified, "-o", "req", "-a", "arpk",
                                  "--add-data", "phkh-img,phkh-att,secret-store-hash"]))
    monkeypatch.setenv("SECEXKIT_UV", str(tmp_path / "machine"))
    (tmp_path / "user").write_bytes(b"challenge")
    _quiet(capsys, pvattest.main(["perform", "req", "resp", "-u", "user"]))
    monkeypatch.delenv("SECEXKIT_UV")
    _quiet(capsys, pvattest.main(["verify", "-i", "resp", "--hdr", "image.hdr", "-a", "arpk",
                                  "-o", "attest.yaml"]))
    cuid = bytes.fromhex((tmp_path / "attest.yaml").read_text().split("'")[1][2:])
    _quiet(capsys, pvattest.main(["check", "resp", "checked.yaml", "-k", "host.crt",
                                  "--host-key-check", "att-key-hash,boot-key-hash", "-u", "user",
                                  "--secret-store-locked", "false"]))

    monkeypatch.setattr(pvsecret, "SE_GUEST_FLAG", str(tmp_path / "no-such-flag"))
    _quiet(capsys, pvsecret.main(["create", *verified, "--hdr", "image.hdr", "-o", "asr",
                                  "--cuid", "attest.yaml", "meta"]))
    assert open_request((tmp_path / "asr").read_bytes(), pki_set.host_key).parsed.cuid == cuid
    monkeypatch.setenv("SECEXKIT_UV", str(tmp_path / "machine"))
    _quiet(capsys, pvsecret.main(["add", "asr"]))  # the ultravisor accepts it: same guest

    # a second attestation now shows the request in the secret store
    _quiet(capsys, pvattest.main(["perform", "req", "resp2"]))
    monkeypatch.delenv("SECEXKIT_UV")
    _quiet(capsys, pvattest.main(["verify", "-i", "resp2", "--hdr", "image.hdr", "-a", "arpk"]))
    _quiet(capsys, pvattest.main(["check", "resp2", "checked2.yaml", "--secret-store-locked", "false",
                                  "--secret", "asr"]))
    assert "add_secret_requests:\n  - asr\n" in (tmp_path / "checked2.yaml").read_text()
