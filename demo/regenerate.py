"""Regenerate the demo inputs of the README and the how-to guides (run from the repository root).

A demo PKI in the shape of IBM's, made by secexkit's test PKI generator
(:func:`secexkit.testing.generate_pki`, the library behind ``secexkit-testpki``),
valid for 25 years, written under the names the documentation uses:

    root-ca.crt         root CA certificate, followed by the root's CRL (like s390-tools'
                        root_ca.chained.crt: the verifier reads CRLs from the root file)
    inter-ca.crt/.crl   intermediate CA certificate, and its CRL (covers the signing key)
    ibm-z-signing.crt   the IBM-Z-like host-key signing certificate
    ibm-z-signing.crl   the signing key's CRL (covers the host-key document)
    host-z16.crt        the demo host-key document
    host-z16.key        ITS PRIVATE KEY: TEST MATERIAL, PUBLIC ON PURPOSE (ADR 0130), so that
                        the software ultravisor can play the demo machine
                        (``secexkit-uv init -k demo/host-z16.key``)
    se.hdr              an SE header for the demo host key (no kernel behind it; dumping
                        allowed, CCK 32 zero bytes), for ``pvsecret create --hdr`` and
                        ``secexkit-uv boot``

For demonstration and tests only: nothing here protects anything. Real host-key
documents come from IBM, and a real machine never reveals its host private key.

    python demo/regenerate.py
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

from secexkit.fileio import OutputTransaction  # noqa: E402
from secexkit.formats.se_header import PCF_ALLOW_DUMPING  # noqa: E402
from secexkit.hostkeys import HostKey  # noqa: E402
from secexkit.image.header import (  # noqa: E402
    ComponentDigests,
    HeaderKeys,
    HeaderSecrets,
    build_se_header,
)
from secexkit.secret import SecretBytes  # noqa: E402
from secexkit.testing import generate_pki  # noqa: E402

DAYS = 365 * 25
#: the PCF of se.hdr: pvimg create's default flags, plus dumping allowed (PCF bit 34), so that
#: a disable-dump request visibly takes dumps away on the software ultravisor
PCF = 0xE0 | PCF_ALLOW_DUMPING


def _pem(obj: x509.Certificate | x509.CertificateRevocationList) -> bytes:
    return obj.public_bytes(serialization.Encoding.PEM)


#: the first line of the key file: PEM readers skip text before "-----BEGIN"
KEY_LABEL = (b"DEMO HOST KEY - TEST MATERIAL, PUBLIC ON PURPOSE (docs/adr/0130): "
             b"never use it for a real machine.\n")


def main() -> None:
    out = ROOT / "demo"
    pki = generate_pki(1, days=DAYS)
    [host] = pki.hosts
    [host_key] = pki.host_keys
    files = {
        "root-ca.crt": _pem(pki.root) + _pem(pki.root_crl),
        "inter-ca.crt": _pem(pki.intermediate),
        "inter-ca.crl": _pem(pki.intermediate_crl),
        "ibm-z-signing.crt": _pem(pki.signing),
        "ibm-z-signing.crl": _pem(pki.host_crl),
        "host-z16.crt": _pem(host),
        "host-z16.key": KEY_LABEL + host_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()),
    }
    digest = hashlib.sha512
    files["se.hdr"] = build_se_header(
        host_keys=[HostKey(host_key.public_key(), "demo")],
        keys=HeaderKeys.generate(),
        secrets=HeaderSecrets(SecretBytes(bytes(32)), SecretBytes(bytes(range(64))),
                              0x0000000180000000, 0x28000, 0),
        digests=ComponentDigests(digest(b"demo pages").digest(), digest(b"demo addresses").digest(),
                                 digest(b"demo tweaks").digest(), 1),
        pcf=PCF,
    )
    with OutputTransaction() as outputs:  # all or nothing; the key 0600 from the start
        for name, data in files.items():
            outputs.add(out / name, data, secret=name.endswith(".key"))
    print(f"wrote the demo PKI (valid for {DAYS} days), its host private key and an SE header "
          f"to {out}")


if __name__ == "__main__":
    main()
