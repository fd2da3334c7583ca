"""The system CA file is indexed by raw subject and parsed on demand."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from secexkit.trust.system import SystemTrustStore
from tests.support import pki


def _name(cn: str, string_type: _ASN1Type) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn, _type=string_type)])


def test_only_the_asked_subject_is_parsed(tmp_path: Path) -> None:
    roots = [pki.root_ca(f"Unrelated Root {i}") for i in range(3)]
    wanted = pki.root_ca("Wanted Root")
    cafile = tmp_path / "bundle.pem"
    pki.write(cafile, *roots, wanted)
    store = SystemTrustStore(str(cafile), [])
    found = store.issuers(wanted.cert.subject)
    assert [c.cert for c in found] == [wanted.cert]
    assert len(store._unparsed) == 3  # the unrelated roots were never parsed
    assert store.issuers(pki.ibm_name("Not There")) == []
    assert not store._unparsed  # a miss falls back to comparing every certificate


def test_same_name_in_another_string_type_is_found(tmp_path: Path) -> None:
    key = pki.ec_key()
    printable = _name("Root In Printable", _ASN1Type.PrintableString)
    root = pki.Entity(pki.make_cert(printable, key.public_key(), None, pki.CertSpec(ca=True),
                                    self_key=key), key)
    cafile = tmp_path / "bundle.pem"
    pki.write(cafile, root)
    store = SystemTrustStore(str(cafile), [])
    # the issuer field of a child may spell the same name as UTF8String: OpenSSL's
    # canonical comparison still matches, and so do we (through the fallback)
    utf8 = _name("Root In Printable", _ASN1Type.UTF8String)
    assert utf8.public_bytes() != printable.public_bytes()
    assert [c.cert for c in store.issuers(utf8)] == [root.cert]


def test_garbage_and_crls_in_the_ca_file(tmp_path: Path) -> None:
    root = pki.root_ca("Root With Crl")
    cafile = tmp_path / "bundle.pem"
    cafile.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64 !!\n-----END CERTIFICATE-----\n"
                       + pki.pem(root, pki.make_crl(root)))
    store = SystemTrustStore(str(cafile), [])
    assert [c.cert for c in store.issuers(root.cert.subject)] == [root.cert]
    assert len(store.crls(root.cert.subject)) == 1
