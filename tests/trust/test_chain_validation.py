"""Host-key verification with a generated PKI: every way a certificate, CRL or chain
can be wrong (expired, not yet valid, revoked, wrong key, wrong subject, bad CRLs,
missing CRLs offline, profile and security-level violations), name rules, the
system trust store, and fuzzing of the parsers."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secexkit.errors import InputError
from secexkit.trust import (
    AnchorList,
    HostKeyVerifier,
    SourcedCert,
    SourcedCrl,
    TrustError,
    TrustInputs,
    establish_trust,
    is_ibm_signing_subject,
    load_trust_inputs,
    parse_certificates,
    parse_crls,
    parse_pem,
    subject_hash,
)
from secexkit.trust._names import canonical_name, names_equal, signing_key_crl_issuers
from tests.support import pki
from tests.support.pki import (
    ANOTHER_KEY,
    DAY,
    NOW,
    SIGNING_UNIT,
    CertSpec,
    CrlSpec,
    Entity,
    PkiSet,
    ec_key,
    host_spec,
    ibm_name,
    issue,
    make_crl,
)
from tests.support.verification import chain_error, hkd_check, setup

# --- host-key documents --------------------------------------------------------------------

def test_valid_pki(pki_set: PkiSet) -> None:
    v = setup(pki_set).verifier()
    assert [link.source for link in v.chain] == ["signing.crt", "inter.crt", "root.crt"]
    assert hkd_check(v, pki_set.host.cert) == "ok"
    assert hkd_check(v, pki_set.host_revoked.cert) == "revoked"


@pytest.mark.parametrize(("spec", "expected"), [
    (host_spec(not_before=NOW - 20 * DAY, not_after=NOW - DAY), "after-validity"),
    (host_spec(not_before=NOW - 20 * DAY, not_after=NOW), "after-validity"),
    (host_spec(not_before=NOW + DAY), "before-validity"),
    (host_spec(not_before=NOW), "ok"),
    (host_spec(akid=False), "ok"),
    (host_spec(issuer_name=ibm_name(SIGNING_UNIT, "Armonk")), "ok"),  # issuer not compared
    (host_spec(issuer_name=ibm_name("Somebody Else")), "ok"),
    (host_spec(sign_with=ANOTHER_KEY), "signature"),
    (host_spec(akid=False, sign_with=ANOTHER_KEY), "signature"),
])
def test_hkd_checks(pki_set: PkiSet, spec: CertSpec, expected: str) -> None:
    doc = issue(pki_set.signing, pki.HOST_SUBJECT, spec, key=pki_set.host_key)
    assert hkd_check(setup(pki_set).verifier(), doc.cert) == expected


def test_hkd_akid_of_another_key(pki_set: PkiSet) -> None:
    other = issue(pki_set.inter, ibm_name(SIGNING_UNIT), CertSpec())
    doc = issue(pki_set.signing, pki.HOST_SUBJECT, host_spec(akid_from=other.cert), key=pki_set.host_key)
    assert hkd_check(setup(pki_set).verifier(), doc.cert) == "akid"


def test_hkd_weak_key(pki_set: PkiSet) -> None:
    weak = rsa.generate_private_key(65537, 1024)
    doc = issue(pki_set.signing, pki.HOST_SUBJECT, host_spec(), key=weak)
    with pytest.raises(TrustError) as info:
        setup(pki_set).verifier().verify(doc.cert, "weak.crt")
    assert info.value.check == "security-bits"
    assert "Not enough bits of security. (80, 112 expected)" in str(info.value)


def test_hkd_check_order_validity_before_akid(pki_set: PkiSet) -> None:
    other = issue(pki_set.inter, ibm_name(SIGNING_UNIT), CertSpec())
    doc = issue(pki_set.signing, pki.HOST_SUBJECT,
                host_spec(akid_from=other.cert, not_after=NOW - DAY, not_before=NOW - 9 * DAY),
                key=pki_set.host_key)
    assert hkd_check(setup(pki_set).verifier(), doc.cert) == "after-validity"


# --- CRLs of the signing key ----------------------------------------------------------------

def _signing_crl(pki_set: PkiSet, **kwargs: object) -> x509.CertificateRevocationList:
    kwargs.setdefault("revoked", [pki_set.host_revoked.cert.serial_number])
    return make_crl(pki_set.signing, CrlSpec(**kwargs))  # type: ignore[arg-type]


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({}, "ok"),
    ({"next_update": NOW - DAY, "last_update": NOW - 9 * DAY}, "no-crl"),   # out of date
    ({"last_update": NOW + DAY, "next_update": NOW + 9 * DAY}, "no-crl"),   # not yet valid
    ({"sign_with": ANOTHER_KEY}, "no-crl"),                                      # wrong key
    ({"akid": False, "sign_with": ANOTHER_KEY}, "no-crl"),
    ({"akid": False}, "ok"),
    ({"issuer_name": ibm_name(SIGNING_UNIT, order="C O OU L ST CN")}, "ok"),  # quirk
    ({"issuer_name": ibm_name(SIGNING_UNIT, "Armonk")}, "no-crl"),           # not looked up
])
def test_signing_key_crl(pki_set: PkiSet, kwargs: dict[str, object], expected: str) -> None:
    crl = _signing_crl(pki_set, **kwargs)
    v = setup(pki_set, crls=[pki_set.root_crl, pki_set.inter_crl, crl]).verifier()
    assert hkd_check(v, pki_set.host.cert) == expected


def test_out_of_date_crl_message(pki_set: PkiSet) -> None:
    crl = _signing_crl(pki_set, next_update=NOW - DAY, last_update=NOW - 9 * DAY)
    v = setup(pki_set, crls=[pki_set.root_crl, pki_set.inter_crl, crl]).verifier()
    with pytest.raises(TrustError) as info:
        v.verify(pki_set.host.cert, "host.crt")
    message = str(info.value)
    assert "No valid CRL found" in message and "current CRL" in message and "--offline" in message
    assert any("expired on" in line for line in info.value.details)


def test_missing_signing_key_crl_offline(pki_set: PkiSet) -> None:
    v = setup(pki_set, crls=[pki_set.root_crl, pki_set.inter_crl]).verifier()
    with pytest.raises(TrustError) as info:
        v.verify(pki_set.host.cert, "host.crt")
    assert info.value.check == "no-crl"
    assert "--crl" in str(info.value) and "--offline" in str(info.value)


def test_expired_crl_listing_the_document_is_ignored(pki_set: PkiSet) -> None:
    stale = _signing_crl(pki_set, next_update=NOW - DAY, last_update=NOW - 9 * DAY,
                         revoked=[pki_set.host.cert.serial_number])
    current = _signing_crl(pki_set)
    v = setup(pki_set, crls=[pki_set.root_crl, pki_set.inter_crl, stale, current]).verifier()
    assert hkd_check(v, pki_set.host.cert) == "ok"


def test_revoked_in_any_valid_crl(pki_set: PkiSet) -> None:
    first = _signing_crl(pki_set, revoked=[])
    second = _signing_crl(pki_set, revoked=[pki_set.host.cert.serial_number])
    v = setup(pki_set, crls=[pki_set.root_crl, pki_set.inter_crl, first, second]).verifier()
    assert hkd_check(v, pki_set.host.cert) == "revoked"


def test_armonk_signing_key_finds_poughkeepsie_crl(pki_set: PkiSet) -> None:
    armonk = issue(pki_set.inter, ibm_name(SIGNING_UNIT, "Armonk"), CertSpec(), key=pki_set.signing.key)
    for order in ("C O CN ST L OU", "C O OU L ST CN"):
        crl = make_crl(pki_set.signing, CrlSpec(issuer_name=ibm_name(SIGNING_UNIT, order=order),
                                          revoked=[pki_set.host_revoked.cert.serial_number]))
        v = setup(pki_set, signing=armonk, crls=[pki_set.root_crl, pki_set.inter_crl, crl]).verifier()
        assert hkd_check(v, pki_set.host.cert) == "ok"
        assert hkd_check(v, pki_set.host_revoked.cert) == "revoked"


# --- the chain of the signing key ------------------------------------------------------------

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


class _Signed:
    """Stands in for a certificate signed with a digest cryptography no longer creates."""

    def __init__(self, algorithm: hashes.HashAlgorithm, oid: x509.ObjectIdentifier) -> None:
        self.signature_hash_algorithm = algorithm
        self.signature_algorithm_oid = oid


@pytest.mark.parametrize(("algorithm", "bits"), [
    (hashes.SHA1(), 63), (hashes.MD5(), 39), (hashes.SHA224(), 112), (hashes.SHA512(), 256),
])
def test_signature_security_bits(algorithm: hashes.HashAlgorithm, bits: int) -> None:
    from secexkit.trust._x509 import MIN_SECURITY_BITS, signature_security_bits

    stub = _Signed(algorithm, x509.SignatureAlgorithmOID.RSA_WITH_SHA256)
    assert signature_security_bits(stub) == bits  # type: ignore[arg-type]
    assert (bits >= MIN_SECURITY_BITS) is (algorithm.name not in ("sha1", "md5"))


def test_wrong_subject_is_not_a_signing_key(pki_set: PkiSet) -> None:
    wrong = issue(pki_set.inter, ibm_name("Key Signing Service Invalid"), CertSpec(), key=pki_set.signing.key)
    with pytest.raises(TrustError) as info:
        setup(pki_set, signing=wrong).verifier()
    assert info.value.check == "no-signing-key"


def test_revoked_signing_key(pki_set: PkiSet) -> None:
    err = chain_error(setup(pki_set, signing=pki_set.signing_revoked))
    assert (err.level, err.code) == (0, 23)


def test_revoked_intermediate(pki_set: PkiSet) -> None:
    root_crl = make_crl(pki_set.root, CrlSpec(revoked=[pki_set.inter.cert.serial_number]))
    err = chain_error(setup(pki_set, crls=[root_crl, pki_set.inter_crl, pki_set.signing_crl]))
    assert (err.level, err.code) == (1, 23)


@pytest.mark.parametrize(("crl_spec", "code"), [
    (CrlSpec(sign_with=ANOTHER_KEY), 8),                                    # signed by wrong key
    (CrlSpec(next_update=NOW - DAY, last_update=NOW - 9 * DAY), 12),     # out of date
    (CrlSpec(last_update=NOW + DAY, next_update=NOW + 9 * DAY), 11),     # not yet valid
])
def test_bad_intermediate_crl(pki_set: PkiSet, crl_spec: CrlSpec, code: int) -> None:
    crls = [pki_set.root_crl, make_crl(pki_set.inter, crl_spec), pki_set.signing_crl]
    err = chain_error(setup(pki_set, crls=crls))
    assert (err.level, err.code) == (0, code)


def test_missing_crls_offline(pki_set: PkiSet) -> None:
    err = chain_error(setup(pki_set, crls=[pki_set.root_crl, pki_set.signing_crl]))
    assert (err.level, err.code) == (0, 3)
    assert "--crl" in str(err) and "drop --offline" in str(err)
    err = chain_error(setup(pki_set, crls=[pki_set.inter_crl, pki_set.signing_crl]))
    assert (err.level, err.code) == (1, 3)


def test_root_crl_from_the_anchor_file(pki_set: PkiSet) -> None:
    v = setup(pki_set, crls=[pki_set.inter_crl, pki_set.signing_crl],
              anchors_crls=[pki_set.root_crl]).verifier()
    assert hkd_check(v, pki_set.host.cert) == "ok"


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


def test_crl_issuer_name_compared_canonically(pki_set: PkiSet) -> None:
    loose = x509.Name([x509.NameAttribute(a.oid, str(a.value).upper().replace(" ", "  "))
                       if a.oid != NameOID.COUNTRY_NAME else a for a in pki_set.inter.name])
    assert names_equal(loose, pki_set.inter.name)
    crl = make_crl(pki_set.inter, CrlSpec(issuer_name=loose,
                                    revoked=[pki_set.signing_revoked.cert.serial_number]))
    setup(pki_set, crls=[pki_set.root_crl, crl, pki_set.signing_crl]).verifier()
    err = chain_error(setup(pki_set, signing=pki_set.signing_revoked,
                            crls=[pki_set.root_crl, crl, pki_set.signing_crl]))
    assert err.code == 23


# --- names -------------------------------------------------------------------------------

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


# --- system trust store and files ------------------------------------------------------------

def _files(pki_set: PkiSet, d: Path) -> tuple[list[str], list[str]]:
    certs = [pki.write(d / "signing.crt", pki_set.signing), pki.write(d / "inter.crt", pki_set.inter)]
    crls = [pki.write(d / "inter.crl", pki_set.inter_crl), pki.write(d / "signing.crl", pki_set.signing_crl)]
    return certs, crls


def test_system_store_from_ssl_cert_file(pki_set: PkiSet, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    certs, crls = _files(pki_set, tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", pki.write(tmp_path / "bundle.pem", pki_set.root, pki_set.root_crl))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "nothing"))
    v = establish_trust(load_trust_inputs(certs, crls, None), fetcher=None, now=NOW)
    assert hkd_check(v, pki_set.host.cert) == "ok"
    assert "bundle.pem" in v.chain[-1].source


def test_system_store_from_hashed_ssl_cert_dir(pki_set: PkiSet, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    certs, crls = _files(pki_set, tmp_path)
    hashed = tmp_path / "certs"
    hashed.mkdir()
    value = f"{subject_hash(pki_set.root.name):08x}"
    pki.write(hashed / f"{value}.0", pki_set.root)
    pki.write(hashed / f"{value}.r0", pki_set.root_crl)
    (tmp_path / "empty.pem").write_bytes(b"")
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "empty.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", os.pathsep.join([str(tmp_path / "none"), str(hashed)]))
    v = establish_trust(load_trust_inputs(certs, crls, None), fetcher=None, now=NOW)
    assert v.chain[-1].source.endswith(f"{value}.0")
    # without the root CRL file the intermediate cannot be checked
    (hashed / f"{value}.r0").unlink()
    with pytest.raises(TrustError) as info:
        establish_trust(load_trust_inputs(certs, crls, None), fetcher=None, now=NOW)
    assert (info.value.level, info.value.code) == (1, 3)


def test_file_errors(pki_set: PkiSet, tmp_path: Path) -> None:
    certs, crls = _files(pki_set, tmp_path)
    root = pki.write(tmp_path / "root.pem", pki_set.root, pki_set.root_crl)
    der_root = pki.write(tmp_path / "root.der", pki_set.root, as_der=True)
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"not a certificate\n")
    assert load_trust_inputs(certs, crls, der_root).anchors.issuers(pki_set.root.name)
    with pytest.raises(InputError, match=r"^Cannot load certificate from .*garbage"):
        load_trust_inputs(certs, crls, str(garbage))
    with pytest.raises(InputError, match=r"^Cannot load certificate from .*missing"):
        load_trust_inputs(certs, crls, str(tmp_path / "missing"))
    for bad in (str(garbage), certs[0], str(tmp_path / "missing")):
        with pytest.raises(InputError, match=r"^Cannot load CRL from "):
            load_trust_inputs(certs, [bad], root)
    # a CRL file (PEM or DER) given as --cert contributes its CRL but no certificate
    der_crl = pki.write(tmp_path / "signing.der.crl", pki_set.signing_crl, as_der=True)
    for crl_file in (crls[1], der_crl):
        inputs = load_trust_inputs([*certs, crl_file], crls[:1], root)
        assert len(inputs.certificates) == 2 and len(inputs.crls) == 2
    # one file with several CRLs
    both = pki.write(tmp_path / "both.crl", pki_set.inter_crl, pki_set.signing_crl)
    v = establish_trust(load_trust_inputs(certs, [both], root), fetcher=None, now=NOW)
    assert hkd_check(v, pki_set.host.cert) == "ok"


# --- fuzzing ---------------------------------------------------------------------------------

def test_bad_certificate_version_is_a_value_error(pki_set: PkiSet) -> None:
    raw = bytearray(pki.der(pki_set.host))
    index = raw.index(b"\xa0\x03\x02\x01\x02")  # [0] EXPLICIT INTEGER 2 (v3)
    raw[index + 4] = 7
    assert parse_certificates(bytes(raw)) == []  # not a certificate: DER fails, no PEM
    with pytest.raises(ValueError):
        parse_certificates(b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(bytes(raw))
                           + b"-----END CERTIFICATE-----\n")


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=600))
def test_parsers_raise_only_value_error(data: bytes) -> None:
    for parse in (parse_certificates, parse_crls):
        with contextlib.suppress(ValueError):
            parse(data)
    parse_pem(data)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), st.sampled_from(["cert", "crl", "root"]))
def test_trust_files_with_arbitrary_bytes(data: bytes, which: str) -> None:
    pem_prefix = b"-----BEGIN CERTIFICATE-----\n" if which != "crl" else b"-----BEGIN X509 CRL-----\n"
    for content in (data, pem_prefix + data + pem_prefix.replace(b"BEGIN", b"END")):
        files = {"cert": content, "crl": content, "root": content}

        def read(path: str, files: dict[str, bytes] = files) -> bytes:
            return files[path]

        with contextlib.suppress(InputError):
            load_trust_inputs(["cert"], ["crl"], "root", read=read)


@pytest.fixture(scope="module")
def fuzz_verifier(pki_set: PkiSet) -> HostKeyVerifier:
    """The valid verifier of the session PKI, shared by the fuzzing examples."""
    return setup(pki_set).verifier()


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_verify_mutated_documents(pki_set: PkiSet, fuzz_verifier: HostKeyVerifier,
                                  data: st.DataObject) -> None:
    original = pki.der(pki_set.host)
    raw = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    try:
        cert = x509.load_der_x509_certificate(bytes(raw))
    except (ValueError, x509.InvalidVersion):
        return
    try:
        fuzz_verifier.verify(cert, "fuzz.crt")
    except (TrustError, InputError):  # our errors only
        return
    assert bytes(raw) == original, "a modified host-key document was accepted"


def test_fuzz_fixture_is_valid(pki_set: PkiSet, fuzz_verifier: HostKeyVerifier) -> None:
    assert hkd_check(fuzz_verifier, pki_set.host.cert) == "ok"
    assert isinstance(pki_set.host.cert.public_key(), ec.EllipticCurvePublicKey)
    assert pki_set.host.cert.not_valid_after_utc > NOW + dt.timedelta(days=1)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_establish_trust_with_mutated_chain_objects(pki_set: PkiSet, data: st.DataObject) -> None:
    """Flip bytes of any certificate or CRL of the chain: only our errors may come out."""
    objects = {"signing": pki.der(pki_set.signing), "inter": pki.der(pki_set.inter),
               "root": pki.der(pki_set.root),
               "root_crl": pki.der(pki_set.root_crl), "inter_crl": pki.der(pki_set.inter_crl)}
    which = data.draw(st.sampled_from(sorted(objects)))
    raw = bytearray(objects[which])
    for _ in range(data.draw(st.integers(1, 3))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    objects[which] = bytes(raw)
    try:
        certs = {k: parse_certificates(objects[k]) for k in ("signing", "inter", "root")}
        crls = {k: parse_crls(objects[k]) for k in ("root_crl", "inter_crl")}
    except ValueError:
        return
    if not all(certs.values()) or not all(crls.values()):
        return
    inputs = TrustInputs(
        [SourcedCert(certs["signing"][0], "s.crt"), SourcedCert(certs["inter"][0], "i.crt")],
        [SourcedCrl(crls["root_crl"][0], "r.crl"), SourcedCrl(crls["inter_crl"][0], "i.crl")],
        AnchorList([SourcedCert(certs["root"][0], "root.crt")]))
    try:
        establish_trust(inputs, fetcher=None, now=NOW)
    except TrustError:
        return
    assert raw == bytearray(pki.der(getattr(pki_set, which))), f"a modified {which} was accepted"


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
