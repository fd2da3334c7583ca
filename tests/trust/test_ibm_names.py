"""IBM Z signing-key subject rules, the order CRL issuers are looked up in, and the
OpenSSL-compatible subject hash.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from secexkit.trust._names import (
    canonical_name,
    is_ibm_signing_subject,
    signing_key_crl_issuers,
    subject_hash,
)
from tests.support import pki
from tests.support.pki import SIGNING_UNIT, CertSpec, PkiSet, ibm_name


@pytest.mark.parametrize(("name", "expected"), [
    (ibm_name(SIGNING_UNIT), True),
    (ibm_name(SIGNING_UNIT, "Armonk"), True),
    (ibm_name(SIGNING_UNIT, order="OU L ST CN O C"), True),
    (ibm_name("IBM Z Key Signing Service"), True),
    (ibm_name(SIGNING_UNIT, "Boston"), False),
    (ibm_name("Key Signing Service Invalid"), False),
    (ibm_name(SIGNING_UNIT, extra=[x509.NameAttribute(NameOID.EMAIL_ADDRESS, "a@b")]), False),
    (ibm_name(SIGNING_UNIT, order="C O CN ST L"), False),
    (x509.Name([]), False),
])
def test_signing_subject_rules(name: x509.Name, expected: bool) -> None:
    assert is_ibm_signing_subject(name) is expected


def test_crl_issuer_lookup_order() -> None:
    names = signing_key_crl_issuers(ibm_name(SIGNING_UNIT, "Armonk"))
    assert [canonical_name(n) for n in names] == [
        canonical_name(ibm_name(SIGNING_UNIT, "Armonk")),
        canonical_name(ibm_name(SIGNING_UNIT, "Poughkeepsie")),
        canonical_name(ibm_name(SIGNING_UNIT, "Poughkeepsie", order="C O OU L ST CN")),
        canonical_name(ibm_name(SIGNING_UNIT, "Armonk", order="C O OU L ST CN")),
    ]
    assert len(signing_key_crl_issuers(ibm_name(SIGNING_UNIT))) == 2


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
def test_subject_hash_matches_openssl(pki_set: PkiSet, tmp_path: Path) -> None:
    loose = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "  Mixed   Case\tName "),
                       x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ünïcode Org")])
    cert = pki.make_cert(loose, pki_set.root.key.public_key(), None, CertSpec(ca=True),
                         self_key=pki_set.root.key)
    for c in (cert, pki_set.signing.cert):
        path = pki.write(tmp_path / "c.pem", c)
        out = subprocess.run(["openssl", "x509", "-in", path, "-noout", "-hash"],
                             capture_output=True, text=True, check=True).stdout.strip()
        assert f"{subject_hash(c.subject):08x}" == out
