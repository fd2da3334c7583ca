"""The signing key's chain to the root: certificate profile problems (validity, extensions,
key usage, basic constraints, subjects), wrong keys and roots, path length, and the time
the chain is checked at.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa

from secexkit.trust import TrustError
from secexkit.trust._chain import validate_chain
from secexkit.trust._x509 import SourcedCert
from secexkit.trust.verifier import HostKeyVerifier
from tests.support import pki
from tests.support.pki import (
    ANOTHER_KEY,
    DAY,
    NOW,
    SIGNING_UNIT,
    CertSpec,
    Entity,
    PkiSet,
    ec_key,
    ibm_name,
    issue,
    make_crl,
)
from tests.support.verification import chain_error, setup


def _valid(**kwargs: object) -> CertSpec:
    return CertSpec(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("which", "spec", "level", "code"), [
    ("signing", _valid(not_before=NOW - 9 * DAY, not_after=NOW - DAY), 0, 10),
    ("signing", _valid(not_before=NOW + DAY), 0, 9),
    ("signing", _valid(sign_with=ANOTHER_KEY), 0, 7),                 # wrong issuer key
    ("signing", _valid(akid=False), 0, None),                       # strict: AKID required
    ("signing", _valid(hash_algorithm=hashes.SHA224()), None, "ok"),  # 112 bits: enough
    ("signing", _valid(extra_extensions=[(x509.UnrecognizedExtension(
        x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00"), True)]), 0, 34),
    ("inter", _valid(ca=True, extra_extensions=[(x509.NameConstraints(
        [x509.DNSName("example.com")], None), True)]), 1, 34),   # not evaluated: fail closed
    ("inter", _valid(ca=True, not_before=NOW - 9 * DAY, not_after=NOW - DAY), 1, 10),
    ("inter", _valid(ca=False, key_usage="key_cert_sign,crl_sign"), 1, None),
    ("inter", _valid(ca=True, skid=False), None, None),
    ("inter", _valid(ca=True, bc_critical=False), 1, None),
    ("inter", _valid(ca=True, key_usage=None), 1, None),
])
def test_chain_certificate_problems(pki_set: PkiSet, which: str, spec: CertSpec,
                                    level: int | None, code: int | str | None) -> None:
    if which == "signing":
        spec = dataclasses.replace(spec, dist_points=["http://127.0.0.1:9/inter.crl"])
        signing = issue(pki_set.inter, ibm_name(SIGNING_UNIT), spec, key=pki_set.signing.key)
        s = setup(pki_set, signing=signing)
    else:
        inter = issue(pki_set.root, pki_set.inter.name, spec, key=pki_set.inter.key)
        s = setup(pki_set, inter=inter, crls=[pki_set.root_crl, make_crl(inter), pki_set.signing_crl])
    if code == "ok":
        s.verifier()
        return
    err = chain_error(s)
    if level is not None:
        assert err.level == level
    if code is not None:
        assert err.code == code


def test_wrong_subject_is_not_a_signing_key(pki_set: PkiSet) -> None:
    wrong = issue(pki_set.inter, ibm_name("Key Signing Service Invalid"), CertSpec(), key=pki_set.signing.key)
    with pytest.raises(TrustError) as info:
        setup(pki_set, signing=wrong).verifier()
    assert info.value.check == "no-signing-key"


def test_wrong_intermediate_key(pki_set: PkiSet) -> None:
    impostor = issue(pki_set.root, pki_set.inter.name, CertSpec(ca=True))
    err = chain_error(setup(pki_set, inter=impostor))
    assert (err.level, err.code) == (0, 30)


def test_intermediate_from_another_root(pki_set: PkiSet) -> None:
    other_root = pki.root_ca("Test Root CA")
    inter = issue(other_root, pki_set.inter.name, CertSpec(ca=True), key=pki_set.inter.key)
    err = chain_error(setup(pki_set, inter=inter))
    assert err.level == 1 and err.code in (20, 30)


def test_weak_intermediate_key(pki_set: PkiSet) -> None:
    weak = rsa.generate_private_key(65537, 1024)
    inter = issue(pki_set.root, pki_set.inter.name, CertSpec(ca=True), key=weak)
    signing = issue(inter, ibm_name(SIGNING_UNIT), CertSpec(), key=pki_set.signing.key)
    err = chain_error(setup(pki_set, inter=inter, signing=signing,
                            crls=[pki_set.root_crl, make_crl(inter), pki_set.signing_crl]))
    assert (err.level, err.code) == (1, 67)


def test_chain_too_long(pki_set: PkiSet) -> None:
    extra1 = issue(pki_set.inter, ibm_name("Extra CA 1"), CertSpec(ca=True))
    extra2 = issue(extra1, ibm_name("Extra CA 2"), CertSpec(ca=True))
    signing = issue(extra2, ibm_name(SIGNING_UNIT), CertSpec(), key=pki_set.signing.key)
    crls = [pki_set.root_crl, pki_set.inter_crl, make_crl(extra1), make_crl(extra2), pki_set.signing_crl]
    err = chain_error(setup(pki_set, signing=signing, crls=crls, extra_certs=[extra1, extra2]))
    assert err.code == 22
    # two intermediates are fine
    signing = issue(extra1, ibm_name(SIGNING_UNIT), CertSpec(), key=pki_set.signing.key)
    v = setup(pki_set, signing=signing, crls=crls, extra_certs=[extra1]).verifier()
    assert len(v.chain) == 4


def test_path_length_constraint(pki_set: PkiSet) -> None:
    inter = issue(pki_set.root, pki_set.inter.name, CertSpec(ca=True, path_length=0), key=pki_set.inter.key)
    extra = issue(inter, ibm_name("Extra CA"), CertSpec(ca=True))
    signing = issue(extra, ibm_name(SIGNING_UNIT), CertSpec(), key=pki_set.signing.key)
    err = chain_error(setup(pki_set, inter=inter, signing=signing, extra_certs=[extra],
                            crls=[pki_set.root_crl, make_crl(inter), make_crl(extra), pki_set.signing_crl]))
    assert (err.level, err.code) == (2, 25)


def test_self_signed_signing_key(pki_set: PkiSet) -> None:
    key = ec_key()
    cert = pki.make_cert(ibm_name(SIGNING_UNIT), key.public_key(), None, CertSpec(), self_key=key)
    err = chain_error(setup(pki_set, signing=Entity(cert, key)))
    assert (err.level, err.code) == (0, 18)


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
