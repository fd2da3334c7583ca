"""Signature algorithms in host-key verification: security bits of digests, SHA-1 signed
documents and CRLs, outer and signed algorithm identifiers that must agree, RSA-PSS and
other ECDSA parameters, and cryptography's warnings kept from the user.
"""

from __future__ import annotations

import dataclasses

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, rsa
from cryptography.x509.oid import NameOID

from secexkit.trust import TrustError
from secexkit.trust._crl import chain_crl_problem
from secexkit.trust._x509 import SourcedCert, SourcedCrl, signed_by
from tests.support import pki
from tests.support.pki import DAY, NOW, SIGNING_UNIT, CertSpec, Entity, PkiSet, host_spec, ibm_name
from tests.support.verification import hkd_check, setup


class _Signed:
    """Stands in for a certificate signed with a digest cryptography no longer creates."""

    def __init__(self, algorithm: hashes.HashAlgorithm, oid: x509.ObjectIdentifier) -> None:
        self.signature_hash_algorithm = algorithm
        self.signature_algorithm_oid = oid


@pytest.fixture(scope="module")
def rsa_signing(pki_set: PkiSet) -> Entity:
    """An IBM Z signing key with an RSA-2048 key (for SHA-1 re-signing)."""
    return pki.issue(pki_set.inter, ibm_name(SIGNING_UNIT), CertSpec(),
                     key=rsa.generate_private_key(65537, 2048))


def _relabel_inner(obj: x509.Certificate | x509.CertificateRevocationList, key: rsa.RSAPrivateKey,
                   ) -> bytes:
    """``obj`` (sha256WithRSAEncryption) with the signed copy of the algorithm changed to
    sha1WithRSAEncryption and signed again with SHA-256: the signature is genuine, the
    two algorithm identifiers differ."""
    from cryptography.hazmat.primitives.asymmetric import padding

    raw = pki.der(obj)
    inner = raw.index(pki.SHA256_WITH_RSA)
    raw = raw[:inner] + pki.SHA1_WITH_RSA + raw[inner + len(pki.SHA1_WITH_RSA):]
    patched = (x509.load_der_x509_certificate(raw) if isinstance(obj, x509.Certificate)
               else x509.load_der_x509_crl(raw))
    tbs = (patched.tbs_certificate_bytes if isinstance(patched, x509.Certificate)
           else patched.tbs_certlist_bytes)
    signature = key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())
    return raw[:-len(signature)] + signature


@pytest.mark.parametrize(("algorithm", "bits"), [
    (hashes.SHA1(), 63), (hashes.MD5(), 39), (hashes.SHA224(), 112), (hashes.SHA512(), 256),
])
def test_signature_security_bits(algorithm: hashes.HashAlgorithm, bits: int) -> None:
    from secexkit.trust._x509 import MIN_SECURITY_BITS, signature_security_bits

    stub = _Signed(algorithm, x509.SignatureAlgorithmOID.RSA_WITH_SHA256)
    assert signature_security_bits(stub) == bits  # type: ignore[arg-type]
    assert (bits >= MIN_SECURITY_BITS) is (algorithm.name not in ("sha1", "md5"))


def test_outer_signature_algorithm_is_part_of_the_signature_check(pki_set: PkiSet) -> None:
    """Same signed bytes and signature value, other outer algorithm: must not verify, and
    must not poison the memoised result for the genuine certificate."""
    from secexkit.trust._x509 import signed_by

    genuine = pki.der(pki_set.host)
    sha512 = bytes.fromhex("06082a8648ce3d040304")  # ecdsa-with-SHA512
    sha384 = bytes.fromhex("06082a8648ce3d040303")
    outer = genuine.rindex(sha512)  # the last occurrence is outside the TBS
    forged = x509.load_der_x509_certificate(genuine[:outer] + sha384 + genuine[outer + len(sha384):])
    assert forged.tbs_certificate_bytes == pki_set.host.cert.tbs_certificate_bytes
    assert not signed_by(forged, pki_set.signing.cert)
    assert signed_by(pki_set.host.cert, pki_set.signing.cert)
    assert not signed_by(forged, pki_set.signing.cert)


def test_dsa_signature_under_an_rsa_algorithm_identifier() -> None:
    """The outer algorithm must match the issuer's key type: a DSA signature labelled
    sha256WithRSAEncryption is not a valid signature."""
    key = dsa.generate_private_key(1024)
    name = ibm_name("DSA CA")
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(1)
               .not_valid_before(NOW - DAY).not_valid_after(NOW + DAY))
    cert = builder.sign(key, hashes.SHA256())
    assert signed_by(cert, cert)
    dsa_sha256 = bytes.fromhex("060960864801650304030 2".replace(" ", ""))
    raw = pki.der(cert)
    assert raw.count(dsa_sha256) == 2
    outer = raw.rindex(dsa_sha256)
    relabelled = raw[:outer] + pki.SHA256_WITH_RSA + raw[outer + len(dsa_sha256):]
    forged = x509.load_der_x509_certificate(relabelled)
    assert forged.tbs_certificate_bytes == cert.tbs_certificate_bytes
    assert not signed_by(forged, cert)


def test_setup_is_a_valid_baseline(pki_set: PkiSet, rsa_signing: Entity) -> None:
    """Guards the tests above: without the defect each set-up verifies."""
    assert hkd_check(setup(pki_set).verifier(), pki_set.host.cert) == "ok"
    s = dataclasses.replace(setup(pki_set), signing=rsa_signing,
                            crls=[pki_set.root_crl, pki_set.inter_crl, pki.make_crl(rsa_signing)])
    doc = pki.issue(rsa_signing, pki.HOST_SUBJECT, host_spec(), key=pki_set.host_key)
    assert hkd_check(s.verifier(), doc.cert) == "ok"


def test_chain_crl_signed_with_sha1(pki_set: PkiSet) -> None:
    issuer = Entity(pki_set.inter.cert, rsa.generate_private_key(65537, 2048))
    rsa_inter = pki.issue(pki_set.root, pki_set.inter.name, CertSpec(ca=True), key=issuer.key)
    weak = x509.load_der_x509_crl(pki.resign_sha1_rsa(pki.make_crl(rsa_inter), rsa_inter.key))
    source = SourcedCert(rsa_inter.cert, "inter.crt")
    assert signed_by(weak, rsa_inter.cert)  # a genuine signature, only the digest is weak
    problem = chain_crl_problem(SourcedCrl(weak, "weak.crl"), pki_set.signing.cert, source, NOW)
    assert problem is not None and "sha1" in problem[1].lower()
    assert chain_crl_problem(SourcedCrl(pki.make_crl(rsa_inter), "ok.crl"), pki_set.signing.cert,
                             source, NOW) is None


def test_document_signed_with_sha1(pki_set: PkiSet, rsa_signing: Entity) -> None:
    doc = pki.issue(rsa_signing, pki.HOST_SUBJECT, host_spec(hash_algorithm=hashes.SHA256()),
                    key=pki_set.host_key)
    weak = x509.load_der_x509_certificate(pki.resign_sha1_rsa(doc.cert, rsa_signing.key))
    crl = pki.make_crl(rsa_signing)
    v = setup(pki_set, signing=rsa_signing, crls=[pki_set.root_crl, pki_set.inter_crl, crl]).verifier()
    assert hkd_check(v, doc.cert) == "ok"
    assert signed_by(weak, rsa_signing.cert)
    with pytest.raises(TrustError) as info:
        v.verify(weak, "weak.crt")
    assert info.value.check == "signature" and "sha1" in str(info.value).lower()


def test_document_crl_signed_with_sha1(pki_set: PkiSet, rsa_signing: Entity) -> None:
    doc = pki.issue(rsa_signing, pki.HOST_SUBJECT, host_spec(), key=pki_set.host_key)
    weak = x509.load_der_x509_crl(pki.resign_sha1_rsa(pki.make_crl(rsa_signing), rsa_signing.key))
    v = setup(pki_set, signing=rsa_signing, crls=[pki_set.root_crl, pki_set.inter_crl, weak]).verifier()
    with pytest.raises(TrustError) as info:
        v.verify(doc.cert, "doc.crt")
    assert info.value.check == "no-crl"
    assert any("sha1" in line.lower() for line in info.value.details)


def test_signed_and_outer_algorithms_must_agree(pki_set: PkiSet, rsa_signing: Entity) -> None:
    key = rsa_signing.key
    assert isinstance(key, rsa.RSAPrivateKey)
    doc = pki.issue(rsa_signing, pki.HOST_SUBJECT, host_spec(hash_algorithm=hashes.SHA256()),
                    key=pki_set.host_key)
    mixed = x509.load_der_x509_certificate(_relabel_inner(doc.cert, key))
    assert mixed.signature_algorithm_oid == x509.SignatureAlgorithmOID.RSA_WITH_SHA256
    assert signed_by(doc.cert, rsa_signing.cert)
    assert not signed_by(mixed, rsa_signing.cert)
    crl = pki.make_crl(rsa_signing)
    try:
        mixed_crl = x509.load_der_x509_crl(_relabel_inner(crl, key))
    except ValueError as exc:  # newer cryptography releases refuse such CRLs themselves
        assert "Inner and outer" in str(exc)
    else:  # older releases load it: our own check must refuse it
        assert signed_by(crl, rsa_signing.cert)
        assert not signed_by(mixed_crl, rsa_signing.cert)
    v = setup(pki_set, signing=rsa_signing, crls=[pki_set.root_crl, pki_set.inter_crl, crl]).verifier()
    with pytest.raises(TrustError) as info:
        v.verify(mixed, "mixed.crt")
    assert info.value.check == "signature"


def test_rsa_pss_and_other_ecdsa_parameters_verify(pki_set: PkiSet, rsa_signing: Entity) -> None:
    """Parameters come from the certificate: RSA-PSS (salt length, MGF1 hash) and ECDSA
    with other digests verify; the same certificate with another salt length does not."""
    from cryptography.hazmat.primitives.asymmetric import padding

    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    builder = (x509.CertificateBuilder().subject_name(pki.HOST_SUBJECT)
               .issuer_name(rsa_signing.name).public_key(pki_set.host_key.public_key())
               .serial_number(77).not_valid_before(NOW - DAY).not_valid_after(NOW + DAY))
    doc = builder.sign(rsa_signing.key, hashes.SHA256(), rsa_padding=pss)
    assert isinstance(doc.signature_algorithm_parameters, padding.PSS)
    assert signed_by(doc, rsa_signing.cert)
    key = rsa_signing.key
    assert isinstance(key, rsa.RSAPrivateKey)
    other_salt = key.sign(doc.tbs_certificate_bytes,
                          padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=20),
                          hashes.SHA256())
    assert len(other_salt) == len(doc.signature)
    raw = pki.der(doc)
    resigned = x509.load_der_x509_certificate(raw[:-len(other_salt)] + other_salt)
    assert not signed_by(resigned, rsa_signing.cert)  # declared salt length 32, used 20
    for algorithm in (hashes.SHA384(), hashes.SHA512(), hashes.SHA224()):
        issued = pki.issue(pki_set.signing, pki.HOST_SUBJECT, host_spec(hash_algorithm=algorithm),
                           key=pki_set.host_key)
        assert hkd_check(setup(pki_set).verifier(), issued.cert) == "ok", algorithm.name


def test_cryptography_warnings_do_not_reach_the_user(pki_set: PkiSet) -> None:
    """A three-letter country name parses with a UserWarning from cryptography; printed by
    Python it would add stray stderr lines to our one-line verdicts."""
    import warnings


    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        odd = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "USA", _validate=False),
                         x509.NameAttribute(NameOID.COMMON_NAME, "odd")])
        doc = pki.issue(pki_set.signing, odd, host_spec(), key=pki_set.host_key)
    reparsed = x509.load_der_x509_certificate(pki.der(doc))
    v = setup(pki_set).verifier()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        v.verify(reparsed, "odd.crt")
        setup(pki_set).verifier()
    assert [str(w.message) for w in caught] == []
    with warnings.catch_warnings(record=True) as caught:  # the warning exists
        warnings.simplefilter("always")
        _ = x509.load_der_x509_certificate(pki.der(doc)).subject.rdns
    assert caught
