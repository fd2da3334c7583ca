"""Trust inputs from files: the system trust store (SSL_CERT_FILE, hashed SSL_CERT_DIR with
root CRLs), and the errors for unreadable, missing or mixed certificate and CRL files.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from secexkit.errors import InputError
from secexkit.trust import TrustError
from secexkit.trust._names import subject_hash
from secexkit.trust.sources import load_trust_inputs
from secexkit.trust.verifier import establish_trust
from tests.support import pki
from tests.support.pki import NOW, PkiSet
from tests.support.verification import hkd_check


def _files(pki_set: PkiSet, d: Path) -> tuple[list[str], list[str]]:
    certs = [pki.write(d / "signing.crt", pki_set.signing), pki.write(d / "inter.crt", pki_set.inter)]
    crls = [pki.write(d / "inter.crl", pki_set.inter_crl), pki.write(d / "signing.crl", pki_set.signing_crl)]
    return certs, crls


def test_system_store_from_ssl_cert_file(pki_set: PkiSet, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    certs, crls = _files(pki_set, tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", pki.write(tmp_path / "bundle.pem", pki_set.root, pki_set.root_crl))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "nothing"))
    v = establish_trust(load_trust_inputs(certs, crls, None), fetcher=None, now=NOW)
    assert hkd_check(v, pki_set.host.cert) == "ok"
    assert "bundle.pem" in v.chain[-1].source


def test_system_store_from_hashed_ssl_cert_dir(pki_set: PkiSet, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    certs, crls = _files(pki_set, tmp_path)
    hashed = tmp_path / "certs"
    hashed.mkdir()
    value = f"{subject_hash(pki_set.root.name):08x}"
    pki.write(hashed / f"{value}.0", pki_set.root)
    pki.write(hashed / f"{value}.r0", pki_set.root_crl)
    (tmp_path / "empty.pem").write_bytes(b"")
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "empty.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", os.pathsep.join([str(tmp_path / "none"), str(hashed)]))
    v = establish_trust(load_trust_inputs(certs, crls, None), fetcher=None, now=NOW)
    assert v.chain[-1].source.endswith(f"{value}.0")
    # without the root CRL file the intermediate cannot be checked
    (hashed / f"{value}.r0").unlink()
    with pytest.raises(TrustError) as info:
        establish_trust(load_trust_inputs(certs, crls, None), fetcher=None, now=NOW)
    assert (info.value.level, info.value.code) == (1, 3)


def test_file_errors(pki_set: PkiSet, tmp_path: Path) -> None:
    certs, crls = _files(pki_set, tmp_path)
    root = pki.write(tmp_path / "root.pem", pki_set.root, pki_set.root_crl)
    der_root = pki.write(tmp_path / "root.der", pki_set.root, as_der=True)
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"not a certificate\n")
    assert load_trust_inputs(certs, crls, der_root).anchors.issuers(pki_set.root.name)
    with pytest.raises(InputError, match=r"^Cannot load certificate from .*garbage"):
        load_trust_inputs(certs, crls, str(garbage))
    with pytest.raises(InputError, match=r"^Cannot load certificate from .*missing"):
        load_trust_inputs(certs, crls, str(tmp_path / "missing"))
    for bad in (str(garbage), certs[0], str(tmp_path / "missing")):
        with pytest.raises(InputError, match=r"^Cannot load CRL from "):
            load_trust_inputs(certs, [bad], root)
    # a CRL file (PEM or DER) given as --cert contributes its CRL but no certificate
    der_crl = pki.write(tmp_path / "signing.der.crl", pki_set.signing_crl, as_der=True)
    for crl_file in (crls[1], der_crl):
        inputs = load_trust_inputs([*certs, crl_file], crls[:1], root)
        assert len(inputs.certificates) == 2 and len(inputs.crls) == 2
    # one file with several CRLs
    both = pki.write(tmp_path / "both.crl", pki_set.inter_crl, pki_set.signing_crl)
    v = establish_trust(load_trust_inputs(certs, [both], root), fetcher=None, now=NOW)
    assert hkd_check(v, pki_set.host.cert) == "ok"
