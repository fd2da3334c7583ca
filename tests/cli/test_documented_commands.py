"""The product documentation's two commands, verbatim, with full verification on.

No ``--root-ca`` (the root comes from the system trust store, here ``SSL_CERT_FILE``)
and no ``--offline`` (every CRL is downloaded from the distribution points, served by
a real HTTP server on 127.0.0.1).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from secexkit.addsecret.request import FLAG_DISABLE_DUMP, open_request
from secexkit.cli.pvsecret import main
from secexkit.formats.request import SecretType
from tests.support import pki
from tests.support.http_server import Server, respond
from tests.support.pki import CertSpec, host_spec

pytestmark = pytest.mark.usefixtures("no_proxy_environment")

DOCUMENTED = {
    "meta": "pvsecret create meta -k z16.crt --hdr se.hdr -o addNoDumpReq "
            "--crt DigiCertCA.crt --crt ibm-sign.crt --flags disable-dump",
    "association": "pvsecret create association -k z16.crt --hdr se.hdr -o addSecretReq "
                   "--crt DigiCertCA.crt --crt ibm-sign.crt --flags disable-dump "
                   "myConfidentialSecret",
}


@pytest.fixture
def documented_files(server: Server, tmp_path: Path, vectors: Path,
                     monkeypatch: pytest.MonkeyPatch) -> ec.EllipticCurvePrivateKey:
    """z16.crt, DigiCertCA.crt, ibm-sign.crt and se.hdr in the working directory."""
    base = server.base
    root = pki.root_ca("Test Root CA")
    inter = pki.issue(root, pki.ibm_name("Test Intermediate CA", "Armonk"),
                      CertSpec(ca=True, dist_points=[f"{base}/doc/root.crl"]))
    signing = pki.issue(inter, pki.ibm_name(pki.SIGNING_UNIT),
                        CertSpec(dist_points=[f"{base}/doc/inter.crl"]))
    host_key = ec.generate_private_key(ec.SECP521R1())
    host = pki.issue(signing, pki.HOST_SUBJECT,
                     host_spec(dist_points=[f"{base}/doc/ibm.crl"]), key=host_key)
    for name, issuer in (("root", root), ("inter", inter), ("ibm", signing)):
        server.routes[f"/doc/{name}.crl"] = respond(pki.der(pki.make_crl(issuer)))
    pki.write(tmp_path / "z16.crt", host)
    pki.write(tmp_path / "DigiCertCA.crt", inter)
    pki.write(tmp_path / "ibm-sign.crt", signing)
    (tmp_path / "se.hdr").write_bytes((vectors / "exp" / "secure_guest.hdr").read_bytes())
    pki.write(tmp_path / "system-roots.pem", root)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "system-roots.pem"))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    return host_key


@pytest.mark.parametrize("kind", sorted(DOCUMENTED))
def test_documented_command_verbatim(kind: str, documented_files: ec.EllipticCurvePrivateKey,
                                     server: Server, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    argv = DOCUMENTED[kind].split()[1:]
    server.hits.clear()
    code = main(argv)
    _, err = capsys.readouterr()
    assert code == 0, err
    assert "verification is disabled" not in err
    # every CRL came from its distribution point
    assert {"/doc/root.crl", "/doc/inter.crl", "/doc/ibm.crl"} <= set(server.hits)
    output = tmp_path / argv[argv.index("-o") + 1]
    opened = open_request(output.read_bytes(), documented_files)
    assert opened.parsed.flags == FLAG_DISABLE_DUMP
    if kind == "association":
        assert opened.parsed.secret_type == SecretType.ASSOCIATION
        assert opened.parsed.secret_id == hashlib.sha256(b"myConfidentialSecret").digest()
        assert (tmp_path / "myConfidentialSecret.yaml").read_text().startswith("!Association\n")


def test_documented_command_fails_closed_when_a_crl_cannot_be_downloaded(
        documented_files: ec.EllipticCurvePrivateKey, server: Server, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    del server.routes["/doc/ibm.crl"]
    code = main(DOCUMENTED["meta"].split()[1:])
    _, err = capsys.readouterr()
    assert code == 1
    assert err.startswith("error: Host-key verification failed") and "z16.crt" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "addNoDumpReq").exists()
