"""(No tests here.) The files of IBM's documented command lines, with a PKI behind them.

The product documentation names ``z16.crt`` (host-key document), ``DigiCertCA.crt``
(intermediate CA), ``ibm-sign.crt`` (IBM Z signing key) and ``se.hdr``; the root CA comes
from the system trust store and the CRLs are downloaded from their distribution points.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from tests.support import pki
from tests.support.http_server import Server, respond
from tests.support.pki import CertSpec, host_spec


def write_documented_files(server: Server, folder: Path, hdr: Path, *, route: str,
                           root_name: str = "Test Root CA",
                           roots: Path | None = None) -> tuple[ec.EllipticCurvePrivateKey, Path]:
    """Write the documented files into ``folder`` (``se.hdr`` copied from ``hdr``) and serve
    their CRLs under ``server.base/route/``; (the host's private key, the root bundle to
    use as the system trust store, written to ``roots`` or ``folder/system-roots.pem``)."""
    base = f"{server.base}/{route}"
    root = pki.root_ca(root_name)
    inter = pki.issue(root, pki.ibm_name("Test Intermediate CA", "Armonk"),
                      CertSpec(ca=True, dist_points=[f"{base}/root.crl"]))
    signing = pki.issue(inter, pki.ibm_name(pki.SIGNING_UNIT),
                        CertSpec(dist_points=[f"{base}/inter.crl"]))
    host_key = ec.generate_private_key(ec.SECP521R1())
    host = pki.issue(signing, pki.HOST_SUBJECT, host_spec(dist_points=[f"{base}/ibm.crl"]),
                     key=host_key)
    for name, issuer in (("root", root), ("inter", inter), ("ibm", signing)):
        server.routes[f"/{route}/{name}.crl"] = respond(pki.der(pki.make_crl(issuer)))
    pki.write(folder / "z16.crt", host)
    pki.write(folder / "DigiCertCA.crt", inter)
    pki.write(folder / "ibm-sign.crt", signing)
    (folder / "se.hdr").write_bytes(hdr.read_bytes())
    bundle = roots if roots is not None else folder / "system-roots.pem"
    pki.write(bundle, root)
    return host_key, bundle
