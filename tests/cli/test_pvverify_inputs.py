"""Odd inputs for pvverify and `pvsecret create` with verification: missing, empty, garbage,
DER, mixed PEM files, CRLs given as certificates and vice versa, an empty --root-ca, a
hashed SSL_CERT_DIR.  Each failure is one `error:` line (or one verdict line) naming the
file and the check, exit 1 (2 for pvverify usage errors), no traceback, no output file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from secexkit.cli import pvsecret, pvverify
from secexkit.trust._names import subject_hash

OK_HASH = "24933f75ee107c806fe602a7da7b610e54369af96a847f2dcc4fcfdbd81fbc05"


@pytest.fixture(scope="module")
def files(vectors: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference's certificate directory plus odd files, in one scratch directory."""
    d = tmp_path_factory.mktemp("odd")
    for item in (vectors / "cert").iterdir():
        shutil.copy(item, d / item.name)
    shutil.copy(vectors / "exp" / "secure_guest.hdr", d / "guest.hdr")
    (d / "garbage").write_bytes(b"this is not a certificate\n")
    (d / "empty").write_bytes(b"")
    host = x509.load_pem_x509_certificate((d / "host.crt").read_bytes())
    (d / "host.der").write_bytes(host.public_bytes(serialization.Encoding.DER))
    inter = x509.load_pem_x509_certificate((d / "inter_ca.crt").read_bytes())
    (d / "inter_ca.der").write_bytes(inter.public_bytes(serialization.Encoding.DER))
    inter_crl = x509.load_pem_x509_crl((d / "inter_ca.crl").read_bytes())
    (d / "inter_ca.der.crl").write_bytes(inter_crl.public_bytes(serialization.Encoding.DER))
    # a CRL, a certificate and text around them in one PEM file
    (d / "mixed.pem").write_bytes(b"comment\n" + (d / "ibm.crl").read_bytes() + b"\nmore text\n"
                                  + (d / "ibm.crt").read_bytes())
    (d / "bad_block.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    (d / "bad_crl_block.pem").write_bytes(b"-----BEGIN X509 CRL-----\n!!\n-----END X509 CRL-----\n")
    (d / "truncated.der").write_bytes((d / "host.der").read_bytes()[:200])
    hashed = d / "hashed"
    hashed.mkdir()
    root = x509.load_pem_x509_certificate((d / "root_ca.crt").read_bytes())
    value = f"{subject_hash(root.subject):08x}"
    shutil.copy(d / "root_ca.crt", hashed / f"{value}.0")
    shutil.copy(d / "root_ca.crl", hashed / f"{value}.r0")
    return d


TRUST = ["-C", "ibm.crt", "-C", "inter_ca.crt", "--crl", "ibm.crl,inter_ca.crl",
         "--root-ca", "root_ca.chained.crt", "--offline"]


def _abs(d: Path, argv: list[str]) -> list[str]:
    out = []
    for arg in argv:
        if arg.startswith("-") or arg == "":
            out.append(arg)
        else:
            out.append(",".join(str(d / part) for part in arg.split(",")))
    return out


def _run(capsys: pytest.CaptureFixture[str], main: object, argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)  # type: ignore[operator]
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    return code, out, err


def _one_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    return lines[0]


# (argv with file names relative to the scratch directory, file named, words of the check)
SETUP_FAILURES = [
    (["-C", "ibm.crt", "-C", "inter_ca.crt", "--crl", "missing.crl", "--offline"],
     "missing.crl", "Cannot load CRL from"),
    (["-C", "ibm.crt", "-C", "inter_ca.crt", "--crl", "garbage", "--offline"],
     "garbage", "Cannot load CRL from"),
    (["-C", "ibm.crt", "-C", "inter_ca.crt", "--crl", "ibm.crt", "--offline"],   # cert as CRL
     "ibm.crt", "Cannot load CRL from"),
    (["-C", "ibm.crt", "-C", "inter_ca.crt", "--crl", "bad_crl_block.pem", "--offline"],
     "bad_crl_block.pem", "Cannot load CRL from"),
    (["-C", "ibm.crt", "-C", "inter_ca.crt", "--crl", "empty", "--offline"],
     "empty", "Cannot load CRL from"),
    (["-C", "ibm.crt", "-C", "missing.crt", "--offline"], "missing.crt", "Cannot read certificate"),
    (["-C", "bad_block.pem", "-C", "inter_ca.crt", "--offline"],
     "bad_block.pem", "Cannot load certificate from"),
    (["-C", "ibm.crl", "-C", "inter_ca.crt", "--crl", "inter_ca.crl", "--offline"],  # CRL as cert
     "ibm.crl", "Specify one IBM Z signing key"),
    (["-C", "garbage", "-C", "inter_ca.crt", "--offline"], "garbage",
     "Specify one IBM Z signing key"),
    (["-C", "ibm.crt", "-C", "inter_ca.crt", "--root-ca", "garbage", "--offline"],
     "garbage", "Cannot load certificate from"),
    (["-C", "ibm.crt", "-C", "inter_ca.crt", "--root-ca", "empty", "--offline"],
     "empty", "Cannot load certificate from"),
    (["-C", "ibm.crt", "-C", "inter_ca.crt", "--root-ca", "root_ca.crl", "--offline"],  # CRL as root
     "root_ca.crl", "Cannot load certificate from"),
    (["-C", "ibm.crt", "-C", "inter_ca.crt", "--root-ca", "missing.crt", "--offline"],
     "missing.crt", "Cannot load certificate from"),
    (["-C", "ibm.crt", "--crl", "ibm.crl,inter_ca.crl", "--root-ca", "root_ca.chained.crt",
      "--offline"], "ibm.crt", "Error occurred at level 0"),
    (["-C", "ibm.crt,inter_ca.crt", "--crl", "ibm.crl", "--root-ca", "root_ca.chained.crt",
      "--offline"], "ibm.crt", "Error occurred at level 0"),
]

DOCUMENT_FAILURES = [
    ("missing.crt", "Cannot read host-key document"),
    ("garbage", "contains no certificate"),
    ("empty", "contains no certificate"),
    ("ibm.crl", "contains no certificate"),
    ("truncated.der", "contains no certificate"),
    ("bad_block.pem", "is not in PEM or DER format"),
    ("host_rev.crt", "Host-key document is revoked."),
    ("host_crt_expired.crt", "After validity period"),
    ("fake_host.crt", "Authority Key Id mismatch"),
    ("ibm.crt", "Authority Key Id mismatch"),  # the signing key given as a host-key document
]


@pytest.mark.parametrize(("argv", "named", "check"), SETUP_FAILURES)
def test_pvverify_setup_failures(files: Path, capsys: pytest.CaptureFixture[str],
                                 argv: list[str], named: str, check: str) -> None:
    code, out, err = _run(capsys, pvverify.main, _abs(files, ["-k", "host.crt", *argv]))
    assert code == 1 and out == ""
    line = _one_error(err)
    assert check in line and named in line, line
    assert err.count("\n") == 1


@pytest.mark.parametrize(("argv", "named", "check"), SETUP_FAILURES)
def test_pvsecret_setup_failures_write_nothing(files: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str],
                                               argv: list[str], named: str, check: str) -> None:
    out_file = tmp_path / "req.bin"
    argv = ["-k", "host.crt", "--hdr", "guest.hdr", *argv]
    code, out, err = _run(capsys, pvsecret.main,
                          ["create", "meta", *_abs(files, argv), "-o", str(out_file)])
    assert code == 1 and out == ""
    line = _one_error(err)
    assert check in line and named in line, line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("document", "check"), DOCUMENT_FAILURES)
def test_pvverify_document_verdicts(files: Path, capsys: pytest.CaptureFixture[str],
                                    document: str, check: str) -> None:
    code, out, err = _run(capsys, pvverify.main,
                          _abs(files, ["-k", f"host.der,{document}", *TRUST]))
    assert code == 1
    assert out.splitlines()[0] == f"{files / 'host.der'}: OK, host-key hash {OK_HASH}"
    verdict = out.splitlines()[1:]
    assert len(verdict) == 1 and verdict[0].startswith(f"{files / document}: FAILED: ")
    assert check in verdict[0]
    assert "1 of 2 host-key documents failed verification" in err


@pytest.mark.parametrize(("document", "check"), DOCUMENT_FAILURES)
def test_pvsecret_document_failures_write_nothing(files: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  document: str, check: str) -> None:
    out_file = tmp_path / "req.bin"
    argv = ["-k", f"host.crt,{document}", "--hdr", "guest.hdr", *TRUST]
    code, out, err = _run(capsys, pvsecret.main,
                          ["create", "meta", *_abs(files, argv), "-o", str(out_file)])
    assert code == 1 and out == ""
    line = _one_error(err)
    assert check in line and document in line, line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", [
    ["-k", "host.der", "-C", "ibm.crt", "-C", "inter_ca.der", "--crl", "der.crl,inter_ca.der.crl",
     "--root-ca", "root_ca.chained.crt", "--offline"],                         # DER everywhere
    ["-k", "host.crt", "-C", "mixed.pem", "-C", "inter_ca.chained.crt",        # CRLs inside --cert
     "--root-ca", "root_ca.chained.crt", "--offline"],
    ["-k", "host.crt", "-C", "ibm.chained.crt,inter_ca.crt,garbage,empty",     # empty files ignored
     "--crl", "inter_ca.crl", "--root-ca", "root_ca.chained.crt", "--offline"],
])
def test_accepted_file_forms(files: Path, capsys: pytest.CaptureFixture[str],
                             argv: list[str]) -> None:
    code, out, err = _run(capsys, pvverify.main, _abs(files, argv))
    assert code == 0, err
    assert out.endswith(f"OK, host-key hash {OK_HASH}\n")


def test_empty_root_ca_is_a_usage_error(files: Path, capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    argv = _abs(files, ["-k", "host.crt", "-C", "ibm.crt,inter_ca.crt", "--root-ca", "",
                        "--offline"])
    code, out, err = _run(capsys, pvverify.main, argv)
    assert code == 2 and out == ""
    assert "--root-ca" in _one_error(err) and "empty" in err
    out_file = tmp_path / "req.bin"
    create = ["create", "meta", "--hdr", str(files / "guest.hdr"), "-o", str(out_file), *argv]
    code, out, err = _run(capsys, pvsecret.main, create)
    assert code == 2 and "--root-ca" in _one_error(err)
    assert not out_file.exists()


def test_files_without_certificates_are_named(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = _abs(files, ["-k", "host.crt", "-C", "garbage,inter_ca.crt,ibm.crl", "--offline"])
    code, _, err = _run(capsys, pvverify.main, argv)
    line = _one_error(err)
    assert code == 1 and "Specify one IBM Z signing key" in line
    assert f"'{files / 'garbage'}'" in line and f"'{files / 'ibm.crl'}'" in line
    assert "inter_ca.crt'" not in line.split("no certificate:")[1]


def test_hashed_ssl_cert_dir(files: Path, capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(files / "empty"))
    monkeypatch.setenv("SSL_CERT_DIR", f"{files / 'nowhere'}:{files / 'hashed'}")
    argv = _abs(files, ["-k", "host.crt", "-C", "ibm.crt,inter_ca.crt", "--crl",
                        "ibm.crl,inter_ca.crl", "--offline"])
    code, out, err = _run(capsys, pvverify.main, argv)
    assert code == 0, err
    assert out.endswith(f"OK, host-key hash {OK_HASH}\n")
    out_file = tmp_path / "req.bin"
    create = ["create", "meta", "--hdr", str(files / "guest.hdr"), "-o", str(out_file), *argv]
    code, _, err = _run(capsys, pvsecret.main, create)
    assert code == 0, err
    assert out_file.stat().st_size > 0
    # a store without the root: one line naming the store and the missing issuer
    monkeypatch.setenv("SSL_CERT_DIR", str(files / "nowhere"))
    out_file.unlink()
    code, _, err = _run(capsys, pvsecret.main, create)
    line = _one_error(err)
    assert code == 1 and "Error occurred at level 1" in line and "IBM Z Root CA" in line
    assert "system trust store" in line and "--root-ca" in line
    assert not out_file.exists()
