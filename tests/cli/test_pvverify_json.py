"""``pvverify`` for monitoring: ``--format json`` (verdicts and every date to watch) and
``--warn-days N`` (a warning line per item expiring within N days, exit 3)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from secexkit.cli.pvverify import EXIT_EXPIRING, main
from secexkit.hostkeys import parse_host_key_document

DEMO = Path(__file__).resolve().parents[2] / "demo"
VERIFY = ["-k", str(DEMO / "host-z16.crt"), "--crt", str(DEMO / "ibm-z-signing.crt"),
          "--crt", str(DEMO / "inter-ca.crt"), "--root-ca", str(DEMO / "root-ca.crt"),
          "--crl", str(DEMO / "ibm-z-signing.crl"), "--crl", str(DEMO / "inter-ca.crl"),
          "--offline"]
#: the demo PKI is valid until 2051; this many days reach past that
FAR = str(365 * 40)


def _days_left(path: Path) -> int:
    from cryptography import x509

    end = x509.load_pem_x509_certificate(path.read_bytes()).not_valid_after_utc
    return (end - dt.datetime.now(dt.UTC)).days


def test_json_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*VERIFY, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    [document] = report["documents"]
    key = parse_host_key_document((DEMO / "host-z16.crt").read_bytes(), "demo").host_key
    assert document == {"file": str(DEMO / "host-z16.crt"), "verdict": "ok",
                        "host_key_hash": key.hash.hex(), "not_after": document["not_after"],
                        "error": None}
    assert document["not_after"].endswith("Z") and document["not_after"][:2] == "20"
    roles = [c["role"] for c in report["certificates"]]
    assert roles[:2] == ["signing-key", "intermediate"]
    assert all(c["not_after"] for c in report["certificates"])
    assert {c["file"] for c in report["crls"]} == {str(DEMO / "ibm-z-signing.crl"),
                                                    str(DEMO / "inter-ca.crl")}
    assert all(c["next_update"] for c in report["crls"])
    assert report["warnings"] == []


def test_json_failed_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "bogus.crt"
    bogus.write_bytes(b"not a certificate")
    args = [*VERIFY[:2], "-k", str(bogus), *VERIFY[2:], "--format", "json"]
    assert main(args) == 1
    report = json.loads(capsys.readouterr().out)
    verdicts = [d["verdict"] for d in report["documents"]]
    assert verdicts == ["ok", "failed"]
    assert report["documents"][1]["error"] and report["documents"][1]["host_key_hash"] is None


def test_warn_days_warns_per_item_and_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*VERIFY, "--warn-days", FAR]) == EXIT_EXPIRING == 3
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if line.startswith("WARNING: ")]
    # the document, signing key, intermediate and root certificates, and both CRLs
    assert len(warnings) == 6, captured.err
    assert any("host-key document" in w and "host-z16.crt" in w and "expires on" in w
               for w in warnings)
    assert any(w.startswith("WARNING: signing-key certificate") for w in warnings)
    assert any(w.startswith("WARNING: intermediate certificate") for w in warnings)
    assert sum("next update" in w and w.startswith("WARNING: CRL") for w in warnings) == 2
    assert "OK, host-key hash" in captured.out  # the verdicts are unchanged


def test_warn_days_quiet_when_nothing_expires_soon(capsys: pytest.CaptureFixture[str]) -> None:
    days = _days_left(DEMO / "host-z16.crt") - 2
    assert main([*VERIFY, "--warn-days", str(days)]) == 0
    assert "WARNING" not in capsys.readouterr().err


def test_warn_days_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*VERIFY, "--format", "json", "--warn-days", FAR]) == EXIT_EXPIRING
    report = json.loads(capsys.readouterr().out)
    assert report["warn_days"] == int(FAR) and len(report["warnings"]) == 6


def test_failure_wins_over_expiry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "bogus.crt"
    bogus.write_bytes(b"x")
    assert main([*VERIFY, "-k", str(bogus), "--warn-days", FAR]) == 1


def test_warn_days_with_no_verify(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["-k", str(DEMO / "host-z16.crt"), "--no-verify", "--format", "json",
            "--warn-days", FAR]
    assert main(args) == EXIT_EXPIRING
    report = json.loads(capsys.readouterr().out)
    assert report["documents"][0]["verdict"] == "not-verified"
    assert report["certificates"] == [] and len(report["warnings"]) == 1


@pytest.mark.parametrize("value", ["-1", "soon", "1.5"])
def test_warn_days_must_be_a_whole_number(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*VERIFY, "--warn-days", value]) == 2
    assert "--warn-days" in capsys.readouterr().err


def test_exit_code_is_documented(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "3 every document verified but something expires within --warn-days" in text
