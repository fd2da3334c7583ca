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
from tests.support.documented import write_documented_files
from tests.support.http_server import Server

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
    host_key, roots = write_documented_files(server, tmp_path,
                                             vectors / "exp" / "secure_guest.hdr", route="doc")
    monkeypatch.setenv("SSL_CERT_FILE", str(roots))
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
