"""The product documentation's wordings work: ``--disable-dump`` on ``pvsecret create``, and
a mistyped option close to a real one gets "did you mean", the positional arguments kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from secexkit.addsecret.request import FLAG_DISABLE_DUMP, open_request
from secexkit.cli import pvimg
from secexkit.cli.pvsecret import main
from tests.support.documented import write_documented_files
from tests.support.http_server import Server
from tests.support.pvsecret import cli

#: "Preventing SEL guest dumps", first sentence's wording
DOCUMENTED_DISABLE_DUMP = ("pvsecret create meta -k z16.crt --hdr se.hdr -o addNoDumpReq "
                          "--crt DigiCertCA.crt --crt ibm-sign.crt --disable-dump")


@pytest.fixture
def documented_files(server: Server, tmp_path: Path, vectors: Path,
                     monkeypatch: pytest.MonkeyPatch) -> ec.EllipticCurvePrivateKey:
    """z16.crt, DigiCertCA.crt, ibm-sign.crt and se.hdr in the working directory; the root
    in the system trust store, the CRLs at their distribution points (127.0.0.1)."""
    host_key, roots = write_documented_files(server, tmp_path,
                                             vectors / "exp" / "secure_guest.hdr", route="wording")
    monkeypatch.setenv("SSL_CERT_FILE", str(roots))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    return host_key


@pytest.mark.usefixtures("no_proxy_environment", "not_a_guest")
def test_documented_disable_dump_wording_verbatim(
        documented_files: ec.EllipticCurvePrivateKey, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(DOCUMENTED_DISABLE_DUMP.split()[1:])
    err = capsys.readouterr().err
    assert code == 0, err
    opened = open_request((tmp_path / "addNoDumpReq").read_bytes(), documented_files)
    assert opened.parsed.flags == FLAG_DISABLE_DUMP


@pytest.mark.usefixtures("not_a_guest")
@pytest.mark.parametrize("where", ["before", "after", "with --flags"])
def test_disable_dump_is_flags_disable_dump(
        where: str, tmp_path: Path, host: tuple[Path, ec.EllipticCurvePrivateKey], hdr: Path,
        capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    common = ["-k", str(host[0]), "--hdr", str(hdr), "-o", str(tmp_path / "req"), "--no-verify"]
    argv = {"before": ["create", "--disable-dump", *common, "meta"],
            "after": ["create", "meta", *common, "--disable-dump"],
            "with --flags": ["create", "meta", *common, "--disable-dump", "--flags",
                             "disable-dump"]}[where]
    code, _, err = cli(capsysbinary, *argv)
    assert code == 0, err
    opened = open_request((tmp_path / "req").read_bytes(), host[1])
    assert opened.parsed.flags == FLAG_DISABLE_DUMP


def _usage(capsys: pytest.CaptureFixture[bytes], *argv: str) -> str:
    code, out, err = cli(capsys, *argv)
    assert code == 2 and out == b"", err
    return err


COMMON = ["-k", "z16.crt", "--hdr", "se.hdr", "-o", "req", "--crt", "DigiCertCA.crt"]


@pytest.mark.parametrize(("argv", "meant", "fixed"), [
    # IBM's CCK page: -cck FILE
    (["create", "association", "mySecret", *COMMON, "-cck", "cck.bin"], "--cck",
     "pvsecret create association mySecret -k z16.crt --hdr se.hdr -o req "
     "--crt DigiCertCA.crt --cck cck.bin"),
    # IBM's retrievable page: retrievable -aes
    (["create", "retrievable", *COMMON, "--secret", "aes.key", "-aes", "MyRetrSecret"],
     "--type aes",
     "pvsecret create retrievable -k z16.crt --hdr se.hdr -o req --crt DigiCertCA.crt "
     "--secret aes.key --type aes MyRetrSecret"),
    (["create", "meta", *COMMON, "-disable-dump"], "--disable-dump", None),
    (["create", "meta", *COMMON, "--hrd", "x"], "--hdr", None),
    (["create", "retrievable", "n", *COMMON, "--secret", "k", "-hmac-sha"], "--type hmac-sha", None),
    (["create", "meta", *COMMON, "-offline"], "--offline", None),  # not -o ffline
])
def test_did_you_mean(argv: list[str], meant: str, fixed: str | None,
                      capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    err = _usage(capsysbinary, *argv)
    first = err.splitlines()[0]
    assert f"did you mean '{meant}'?" in first, err
    if fixed is not None:
        assert f"That is: {fixed}" in err, err
    # the secret name is never reported as unrecognised
    assert "mySecret" not in first and "MyRetrSecret" not in first
    assert f"try 'pvsecret create {argv[1]} --help'" in err


def test_unknown_option_without_a_close_one(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    err = _usage(capsysbinary, "create", "meta", *COMMON, "--completely-different")
    assert "unrecognized argument '--completely-different'" in err
    assert "did you mean" not in err


def test_hidden_options_are_not_suggested(capsys: pytest.CaptureFixture[str]) -> None:
    assert pvimg.main(["create", "--x-bootloader-dir", "d"]) == 2
    err = capsys.readouterr().err
    assert "did you mean '--bootloader-dir'" in err and "--x-bootloader-directory'" not in err
