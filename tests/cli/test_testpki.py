"""secexkit-testpki: the generated PKI passes full verification (library and pvverify)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509

import secexkit
from secexkit.cli import pvverify, testpki


def _run(tmp_path: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert testpki.main([str(tmp_path / "pki"), *args]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("pvverify ")
    return line.split()[1:]


def test_output_verifies_with_pvverify_and_library(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    args = _run(tmp_path, "--hosts", "3", "--days", "30", capsys=capsys)
    out = tmp_path / "pki"
    assert pvverify.main(args) == 0
    docs = sorted(str(p) for p in out.glob("host-*.crt"))
    assert len(docs) == 3
    keys = secexkit.verify_host_key_documents(
        docs, [str(out / "inter-ca.crt"), str(out / "ibm-z-host-key-signing.crt")],
        crls=[str(p) for p in sorted(out.glob("*.crl"))], root_ca=str(out / "root-ca.crt"),
        offline=True)
    assert len(keys) == 3
    for i in range(1, 4):
        mode = stat.S_IMODE((out / f"host-{i}.key").stat().st_mode)
        assert mode == 0o600
    cert = x509.load_pem_x509_certificate((out / "host-1.crt").read_bytes())
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 31


def test_without_crls_offline_verification_fails(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    args = _run(tmp_path, capsys=capsys)
    without = [a for i, a in enumerate(args)
               if a != "--crl" and (i == 0 or args[i - 1] != "--crl")]
    assert pvverify.main(without) != 0


def test_crl_url_base_names_distribution_points(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    _run(tmp_path, "--crl-url-base", "http://127.0.0.1:8000/", capsys=capsys)
    cert = x509.load_pem_x509_certificate((tmp_path / "pki" / "host-1.crt").read_bytes())
    points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    names = [n.value for p in points for n in (p.full_name or [])]
    assert names == ["http://127.0.0.1:8000/ibm-z-host-key.crl"]


@pytest.mark.parametrize("args", [["--hosts", "0"], ["--days", "x"],
                                  ["--crl-url-base", "ftp://x"]])
def test_bad_arguments_are_usage_errors(tmp_path: Path, args: list[str]) -> None:
    assert testpki.main([str(tmp_path / "pki"), *args]) == 2
    assert not (tmp_path / "pki").exists()


def test_an_existing_pki_is_not_mixed_with_a_new_one(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    _run(tmp_path, "--hosts", "3", capsys=capsys)
    assert testpki.main([str(tmp_path / "pki"), "--hosts", "1"]) == 1
    assert "is not empty" in capsys.readouterr().err
    (tmp_path / "pki" / "notes.txt").write_text("mine")
    args = _run(tmp_path, "--hosts", "1", "--force", capsys=capsys)
    names = sorted(p.name for p in (tmp_path / "pki").iterdir())
    assert [n for n in names if n.startswith("host-")] == ["host-1.crt", "host-1.key"]
    assert "notes.txt" in names
    assert pvverify.main(args) == 0


@pytest.mark.parametrize("days", ["0", "36526", "99999999", "x"])
def test_days_out_of_range_is_a_usage_error(tmp_path: Path, days: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert testpki.main([str(tmp_path / "pki"), "--days", days]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: argument --days") and "Traceback" not in err
