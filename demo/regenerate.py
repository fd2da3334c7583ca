"""Regenerate the demo inputs of the README (run from the repository root).

A small demo PKI in the shape of IBM's (root -> intermediate -> IBM Z signing key ->
host-key document, with the CRLs of each CA) and an SE header bound to the demo
host key.  Nothing here is secret: the private keys are thrown away.  For
demonstration only — real host-key documents come from IBM.

    python demo/regenerate.py
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from tests.support import pki  # noqa: E402

from secexkit.hostkeys import HostKey  # noqa: E402
from secexkit.image.header import (  # noqa: E402
    ComponentDigests,
    HeaderKeys,
    HeaderSecrets,
    build_se_header,
)
from secexkit.secret import SecretBytes  # noqa: E402

YEARS = dt.timedelta(days=365 * 25)


def main() -> None:
    out = ROOT / "demo"
    until = pki.NOW + YEARS
    root = pki.root_ca("Demo Root CA", pki.CertSpec(ca=True, not_after=until))
    inter = pki.issue(root, pki.ibm_name("Demo Intermediate CA", "Armonk"),
                      pki.CertSpec(ca=True, not_after=until))
    signing = pki.issue(inter, pki.ibm_name(pki.SIGNING_UNIT), pki.CertSpec(not_after=until))
    host_key = ec.generate_private_key(ec.SECP521R1())
    host = pki.issue(signing, pki.HOST_SUBJECT, pki.host_spec(not_after=until), key=host_key)
    crl = pki.CrlSpec(next_update=until)
    pki.write(out / "root-ca.crt", root, pki.make_crl(root, crl))
    pki.write(out / "inter-ca.crt", inter)
    pki.write(out / "inter-ca.crl", pki.make_crl(inter, crl))
    pki.write(out / "ibm-z-signing.crt", signing)
    pki.write(out / "ibm-z-signing.crl", pki.make_crl(signing, crl))
    pki.write(out / "host-z16.crt", host)

    digest = hashlib.sha512
    header = build_se_header(
        host_keys=[HostKey(host_key.public_key(), "demo")],
        keys=HeaderKeys.generate(),
        secrets=HeaderSecrets(SecretBytes(bytes(32)), SecretBytes(bytes(range(64))),
                              0x0000000180000000, 0x28000, 0),
        digests=ComponentDigests(digest(b"demo pages").digest(), digest(b"demo addresses").digest(),
                                 digest(b"demo tweaks").digest(), 1),
        pcf=0xE0,
    )
    (out / "se.hdr").write_bytes(header)
    print(f"wrote the demo PKI and SE header to {out}")


if __name__ == "__main__":
    main()
