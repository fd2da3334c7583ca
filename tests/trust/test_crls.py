"""Security audit of host-key verification (ADR 0015): forged, partial or weak objects that
an earlier version accepted, each pinned by a test that fails if the check is removed."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa

from secexkit.trust import HostKeyVerifier, SourcedCert, SourcedCrl, TrustError, validate_chain
from secexkit.trust._crl import chain_crl_problem, hkd_crl_problem
from secexkit.trust._x509 import signed_by
from tests.support import pki
from tests.support.pki import DAY, NOW, SIGNING_UNIT, CertSpec, CrlSpec, Entity, PkiSet, host_spec, ibm_name
from tests.support.verification import chain_error, hkd_check, setup

UNKNOWN = x509.ObjectIdentifier("1.3.6.1.4.1.99999.7")


@pytest.fixture(scope="module")
def rsa_signing(pki_set: PkiSet) -> Entity:
    """An IBM Z signing key with an RSA-2048 key (for SHA-1 re-signing)."""
    return pki.issue(pki_set.inter, ibm_name(SIGNING_UNIT), CertSpec(),
                     key=rsa.generate_private_key(65537, 2048))


def _crl(issuer: Entity, **kwargs: object) -> x509.CertificateRevocationList:
    return pki.make_crl(issuer, CrlSpec(**kwargs))  # type: ignore[arg-type]


def _idp(*, uri: str | None = None, ca_only: bool = False,
         user_only: bool = False) -> tuple[x509.ExtensionType, bool]:
    return x509.IssuingDistributionPoint(
        full_name=[x509.UniformResourceIdentifier(uri)] if uri else None, relative_name=None,
        only_contains_user_certs=user_only, only_contains_ca_certs=ca_only,
        only_some_reasons=None, indirect_crl=False, only_contains_attribute_certs=False), True


# --- CRLs of the chain ----------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "code"), [
    ({"extensions": [(x509.CRLNumber(7), True)]}, 36),   # critical, but OpenSSL does not handle it
    ({"extensions": [(x509.UnrecognizedExtension(UNKNOWN, b"\x05\x00"), True)]}, 36),
    ({"revoked": [444], "entry_extensions": [
        (x509.UnrecognizedExtension(UNKNOWN, b"\x05\x00"), True)]}, 36),
    ({"revoked": [444], "entry_extensions": [
        (x509.CertificateIssuer([x509.DirectoryName(ibm_name("Elsewhere"))]), False)]}, 3),
    ({"extensions": [(x509.DeltaCRLIndicator(1), True)]}, 3),
    ({"extensions": [_idp(ca_only=True)]}, 3),            # the signing key is no CA
    ({"extensions": [_idp(uri="http://127.0.0.1:9/other.crl")]}, 3),  # another partition
])
def test_chain_crl_out_of_scope(pki_set: PkiSet, kwargs: dict[str, object], code: int) -> None:
    inter_crl = _crl(pki_set.inter, **kwargs)
    err = chain_error(setup(pki_set, crls=[pki_set.root_crl, inter_crl, pki_set.signing_crl]))
    assert (err.level, err.code) == (0, code)


@pytest.mark.parametrize("extension", [
    (x509.CRLNumber(7), False),
    _idp(uri="http://127.0.0.1:9/inter.crl"),   # the signing key's own distribution point
    _idp(user_only=True),
])
def test_chain_crl_in_scope(pki_set: PkiSet, extension: tuple[x509.ExtensionType, bool]) -> None:
    inter_crl = _crl(pki_set.inter, extensions=[extension])
    v = setup(pki_set, crls=[pki_set.root_crl, inter_crl, pki_set.signing_crl]).verifier()
    assert hkd_check(v, pki_set.host.cert) == "ok"


def test_revoked_signing_key_not_hidden_by_another_partition(pki_set: PkiSet) -> None:
    """The partition that covers the signing key lists it; a CRL of another partition
    (not listing it) must not make it look unrevoked."""
    serial = pki_set.signing_revoked.cert.serial_number
    signing = pki.issue(pki_set.inter, ibm_name(SIGNING_UNIT),
                        CertSpec(serial=serial, dist_points=["http://127.0.0.1:9/part1.crl"]),
                        key=pki_set.signing.key)
    other = _crl(pki_set.inter, extensions=[_idp(uri="http://127.0.0.1:9/part2.crl")])
    err = chain_error(setup(pki_set, signing=signing, crls=[pki_set.root_crl, other, pki_set.signing_crl]))
    assert (err.level, err.code) == (0, 3)
    mine = _crl(pki_set.inter, revoked=[serial], extensions=[_idp(uri="http://127.0.0.1:9/part1.crl")])
    err = chain_error(setup(pki_set, signing=signing,
                            crls=[pki_set.root_crl, other, mine, pki_set.signing_crl]))
    assert (err.level, err.code) == (0, 23)


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


# --- certificates of the chain ----------------------------------------------------------------

def test_critical_distribution_points_are_unhandled(pki_set: PkiSet) -> None:
    dps = x509.CRLDistributionPoints([x509.DistributionPoint(
        [x509.UniformResourceIdentifier("http://127.0.0.1:9/inter.crl")], None, None, None)])
    signing = pki.issue(pki_set.inter, ibm_name(SIGNING_UNIT), CertSpec(extra_extensions=[(dps, True)]),
                        key=pki_set.signing.key)
    err = chain_error(setup(pki_set, signing=signing))
    assert (err.level, err.code) == (0, 34)


def test_signing_key_expires_at_not_after(pki_set: PkiSet) -> None:
    signing = pki.issue(pki_set.inter, ibm_name(SIGNING_UNIT),
                        CertSpec(not_before=NOW - 9 * DAY, not_after=NOW), key=pki_set.signing.key)
    err = chain_error(setup(pki_set, signing=signing))
    assert (err.level, err.code) == (0, 10)
    later = pki.issue(pki_set.inter, ibm_name(SIGNING_UNIT),
                      CertSpec(not_before=NOW - 9 * DAY, not_after=NOW + dt.timedelta(seconds=1)),
                      key=pki_set.signing.key)
    setup(pki_set, signing=later).verifier()


def test_naive_time_is_refused(pki_set: PkiSet) -> None:
    s = setup(pki_set)
    naive = NOW.replace(tzinfo=None)
    with pytest.raises(ValueError, match="timezone-aware"):
        HostKeyVerifier(s.verifier().signing_key, [], s.verifier().crls, s.verifier().anchors,
                        None, naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        validate_chain(SourcedCert(pki_set.signing.cert, "s"), [], s.verifier().anchors,
                       s.verifier().crls, naive)
    # an aware time in another zone is the same instant
    other_zone = NOW.astimezone(dt.timezone(dt.timedelta(hours=-5)))
    v = s.verifier()
    assert HostKeyVerifier(v.signing_key, v.chain, v.crls, v.anchors, None, other_zone).now == NOW


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


# --- host-key documents and their CRLs ---------------------------------------------------------

def test_document_with_another_curve(pki_set: PkiSet) -> None:
    for curve in (ec.SECP384R1(), ec.SECP256R1()):
        doc = pki.issue(pki_set.signing, pki.HOST_SUBJECT, host_spec(), key=pki.ec_key(curve))
        assert hkd_check(setup(pki_set).verifier(), doc.cert) == "key-type"
    assert hkd_check(setup(pki_set).verifier(), pki_set.host.cert) == "ok"


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


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"extensions": [(x509.DeltaCRLIndicator(1), True)]}, "no-crl"),
    ({"extensions": [_idp(ca_only=True)]}, "no-crl"),
    ({"extensions": [(x509.UnrecognizedExtension(UNKNOWN, b"\x05\x00"), True)]}, "no-crl"),
    ({"revoked": [555], "entry_extensions": [
        (x509.UnrecognizedExtension(UNKNOWN, b"\x05\x00"), True)]}, "no-crl"),
    ({"revoked": [555], "entry_extensions": [
        (x509.CertificateIssuer([x509.DirectoryName(ibm_name("Elsewhere"))]), False)]}, "no-crl"),
    ({"extensions": [_idp(user_only=True)]}, "ok"),
    ({"extensions": [_idp(uri="http://example.invalid/any-name.crl")]}, "ok"),  # name not compared
    ({"extensions": [(x509.CRLNumber(9), False)]}, "ok"),
])
def test_document_crl_scope(pki_set: PkiSet, kwargs: dict[str, object], expected: str) -> None:
    crl = _crl(pki_set.signing, **kwargs)
    v = setup(pki_set, crls=[pki_set.root_crl, pki_set.inter_crl, crl]).verifier()
    assert hkd_check(v, pki_set.host.cert) == expected


def test_only_a_delta_crl_does_not_hide_a_revocation(pki_set: PkiSet) -> None:
    """The base CRL lists the document; a delta CRL alone must not vouch for it."""
    delta = _crl(pki_set.signing, revoked=[], extensions=[(x509.DeltaCRLIndicator(1), True)])
    problem = hkd_crl_problem(SourcedCrl(delta, "delta.crl"), pki_set.signing.cert, NOW,
                              pki_set.host_revoked.cert)
    assert problem == "is a delta CRL"
    v = setup(pki_set, crls=[pki_set.root_crl, pki_set.inter_crl, delta, pki_set.signing_crl]).verifier()
    assert hkd_check(v, pki_set.host_revoked.cert) == "revoked"


def test_setup_is_a_valid_baseline(pki_set: PkiSet, rsa_signing: Entity) -> None:
    """Guards the tests above: without the defect each set-up verifies."""
    assert hkd_check(setup(pki_set).verifier(), pki_set.host.cert) == "ok"
    s = dataclasses.replace(setup(pki_set), signing=rsa_signing,
                            crls=[pki_set.root_crl, pki_set.inter_crl, pki.make_crl(rsa_signing)])
    doc = pki.issue(rsa_signing, pki.HOST_SUBJECT, host_spec(), key=pki_set.host_key)
    assert hkd_check(s.verifier(), doc.cert) == "ok"


# --- X509_STRICT profile details and X509_verify's algorithm consistency -----------------------

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


def test_path_length_without_key_cert_sign(pki_set: PkiSet) -> None:
    signing = pki.issue(pki_set.inter, ibm_name(SIGNING_UNIT),
                        CertSpec(ca=True, path_length=0, key_usage="digital_signature"),
                        key=pki_set.signing.key)
    err = chain_error(setup(pki_set, signing=signing))
    assert err.level == 0 and "keyCertSign" in str(err)


@pytest.mark.parametrize(("subject", "san", "problem"), [
    (x509.Name([]), None, "empty subject name"),
    (x509.Name([]), (x509.SubjectAlternativeName([x509.DNSName("a.example")]), False),
     "non-critical subject alternative name"),
    (x509.Name([]), (x509.SubjectAlternativeName([x509.DNSName("a.example")]), True), None),
])
def test_empty_subject_rules(pki_set: PkiSet, subject: x509.Name,
                             san: tuple[x509.ExtensionType, bool] | None,
                             problem: str | None) -> None:
    from secexkit.trust._chain import ChainFailure, _check_extensions

    leaf = pki.issue(pki_set.inter, subject, CertSpec(extra_extensions=[san] if san else []))
    chain = [SourcedCert(leaf.cert, "leaf"), SourcedCert(pki_set.inter.cert, "inter"),
             SourcedCert(pki_set.root.cert, "root")]
    if problem is None:
        _check_extensions(chain)
        return
    with pytest.raises(ChainFailure) as info:
        _check_extensions(chain)
    assert info.value.level == 0 and problem in info.value.reason


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

    from cryptography.x509.oid import NameOID

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


def test_ca_key_usage_is_enforced(pki_set: PkiSet) -> None:
    # an intermediate that may sign CRLs but not certificates cannot issue the signing key
    inter = pki.issue(pki_set.root, pki_set.inter.name, CertSpec(ca=True, key_usage="crl_sign"),
                      key=pki_set.inter.key)
    err = chain_error(setup(pki_set, inter=inter,
                            crls=[pki_set.root_crl, pki.make_crl(inter), pki_set.signing_crl]))
    assert err.level == 0 and "keyCertSign" in str(err)
    # one that may sign certificates but not CRLs cannot vouch for the signing key's status
    inter = pki.issue(pki_set.root, pki_set.inter.name, CertSpec(ca=True, key_usage="key_cert_sign"),
                      key=pki_set.inter.key)
    err = chain_error(setup(pki_set, inter=inter,
                            crls=[pki_set.root_crl, pki.make_crl(inter), pki_set.signing_crl]))
    assert (err.level, err.code) == (0, 35) and "cRLSign" in str(err)


def test_stale_document_crl_named_in_the_message(pki_set: PkiSet) -> None:
    stale = _crl(pki_set.signing, last_update=NOW - 9 * DAY, next_update=NOW - DAY)
    v = setup(pki_set, crls=[pki_set.root_crl, pki_set.inter_crl, stale]).verifier()
    with pytest.raises(TrustError) as info:
        v.verify(pki_set.host.cert, "host.crt")
    message = str(info.value)
    assert info.value.check == "no-crl" and "\n" not in message
    assert "(crl2.crl) expired on " in message and "give a current CRL" in message
    assert "--offline" in message
    wrong = _crl(pki_set.signing, sign_with=pki.ec_key())
    v = setup(pki_set, crls=[pki_set.root_crl, pki_set.inter_crl, stale, wrong]).verifier()
    with pytest.raises(TrustError) as info:
        v.verify(pki_set.host.cert, "host.crt")
    assert "(and 1 more, see -v)" in str(info.value) and len(info.value.details) == 2


def test_root_crl_with_a_distribution_point_name(pki_set: PkiSet) -> None:
    """A root has no CRL distribution points; its CRL naming one still covers the root
    itself, but not an intermediate from another partition."""
    named = _crl(pki_set.root, extensions=[_idp(uri="http://127.0.0.1:9/root.crl")])
    # inter's DP is root.crl
    v = setup(pki_set, crls=[named, pki_set.inter_crl, pki_set.signing_crl]).verifier()
    assert hkd_check(v, pki_set.host.cert) == "ok"
    other = _crl(pki_set.root, extensions=[_idp(uri="http://127.0.0.1:9/elsewhere.crl")])
    err = chain_error(setup(pki_set, crls=[other, pki_set.inter_crl, pki_set.signing_crl]))
    assert (err.level, err.code) == (1, 3)
