"""pvverify: per-document verdicts, exit codes, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from secexkit.cli.pvverify import main

HASH = "24933f75ee107c806fe602a7da7b610e54369af96a847f2dcc4fcfdbd81fbc05"


@pytest.fixture(scope="module")
def cert_dir(vectors: Path) -> Path:
    return vectors / "cert"


def run(capsys: pytest.CaptureFixture[str], cert_dir: Path, *argv: str) -> tuple[int, str, str]:
    def path(arg: str) -> str:
        return ",".join(str(cert_dir / a) for a in arg.split(",")) if "." in arg else arg

    code = main([path(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


TRUST = ("-C", "ibm.crt", "-C", "inter_ca.crt", "--crl", "ibm.crl,inter_ca.crl",
         "--root-ca", "root_ca.chained.crt", "--offline")


def test_all_documents_verified(capsys: pytest.CaptureFixture[str], cert_dir: Path) -> None:
    code, out, err = run(capsys, cert_dir, "-k", "host.crt,host_armonk.crt", *TRUST)
    assert code == 0, err
    assert out.splitlines() == [f"{cert_dir / 'host.crt'}: OK, host-key hash {HASH}",
                                f"{cert_dir / 'host_armonk.crt'}: OK, host-key hash {HASH}"]


def test_verdict_per_document(capsys: pytest.CaptureFixture[str], cert_dir: Path) -> None:
    code, out, err = run(capsys, cert_dir, "-k", "host.crt", "-k", "host_rev.crt",
                         "-k", "host_crt_expired.crt", "-k", "fake_host.crt", "-k", "ibm.crl",
                         *TRUST)
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 5
    assert lines[0].endswith(f"OK, host-key hash {HASH}")
    assert lines[1].startswith(f"{cert_dir / 'host_rev.crt'}: FAILED: Host-key document is revoked.")
    assert "FAILED: After validity period" in lines[2]
    assert "FAILED: Authority Key Id mismatch" in lines[3]
    assert "contains no certificate" in lines[4]
    assert "4 of 5 host-key documents failed verification" in err


def test_chain_failure_is_one_error_line(capsys: pytest.CaptureFixture[str], cert_dir: Path) -> None:
    code, out, err = run(capsys, cert_dir, "-k", "host.crt", "-C", "ibm.crt", "-C", "inter_ca.crt",
                         "--root-ca", "root_ca.chained.crt", "--offline")
    assert code == 1 and out == ""
    assert err.count("\n") == 1
    assert err.startswith("error: Host-key verification failed: The IBM Z signing key could not "
                          "be verified. Error occurred at level 0")


def test_chain_failure_details_with_verbose(capsys: pytest.CaptureFixture[str],
                                            cert_dir: Path) -> None:
    code, _, err = run(capsys, cert_dir, "-v", "-k", "host.crt", "-C", "ibm.crt",
                       "-C", "inter_ca.crt", "--root-ca", "root_ca.crt", "--crl",
                       "ibm.crl,inter_ca.crl", "--offline")
    assert code == 1
    assert "Error occurred at level 1" in err
    assert "chain: " in err and "OpenSSL-equivalent verify code: 3" in err


def test_no_verify(capsys: pytest.CaptureFixture[str], cert_dir: Path) -> None:
    code, out, err = run(capsys, cert_dir, "-k", "host_rev.crt", "--no-verify")
    assert code == 0
    assert out.startswith(f"{cert_dir / 'host_rev.crt'}: NOT VERIFIED, host-key hash ")
    assert len(out.strip().rsplit(" ", 1)[1]) == 64
    assert "verification is disabled" in err


@pytest.mark.parametrize("argv", [
    ("-k", "host.crt"),
    ("-k", "host.crt", "--no-verify", "-C", "ibm.crt"),
    ("--no-verify",),
])
def test_usage_errors(capsys: pytest.CaptureFixture[str], cert_dir: Path,
                      argv: tuple[str, ...]) -> None:
    code, out, err = run(capsys, cert_dir, *argv)
    assert code == 2 and out == ""
    assert err.startswith("error: ")


def test_missing_crl_file(capsys: pytest.CaptureFixture[str], cert_dir: Path) -> None:
    code, out, err = run(capsys, cert_dir, "-k", "host.crt", "-C", "ibm.crt", "--crl",
                         "nothere.crl", "--offline")
    assert code == 1 and out == ""
    assert err.startswith("error: Cannot load CRL from ")
