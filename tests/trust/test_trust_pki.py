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
from collections.abc import Sequence
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
    DAY,
    NOW,
    SIGNING_UNIT,
    CertSpec,
    CrlSpec,
    Entity,
    PkiSet,
    build_pki,
    ec_key,
    host_spec,
    ibm_name,
    issue,
    make_crl,
)


@pytest.fixture(scope="module")
def p() -> PkiSet:
    return build_pki()


@dataclasses.dataclass
class Setup:
    """One verification set-up; ``replace`` any part to break it."""

    root: Entity
    inter: Entity
    signing: Entity
    crls: list[x509.CertificateRevocationList]
    extra_certs: Sequence[Entity] = ()
    anchors_crls: Sequence[x509.CertificateRevocationList] = ()

    def verifier(self) -> HostKeyVerifier:
        certs = [SourcedCert(self.signing.cert, "signing.crt"),
                 SourcedCert(self.inter.cert, "inter.crt"),
                 *(SourcedCert(e.cert, f"extra{i}.crt") for i, e in enumerate(self.extra_certs))]
        crls = [SourcedCrl(c, f"crl{i}.crl") for i, c in enumerate(self.crls)]
        anchors = AnchorList([SourcedCert(self.root.cert, "root.crt")],
                             [SourcedCrl(c, "root.crt") for c in self.anchors_crls])
        return establish_trust(TrustInputs(certs, crls, anchors), fetcher=None, now=NOW)


def setup(p: PkiSet, **changes: object) -> Setup:
    base = Setup(p.root, p.inter, p.signing, [p.root_crl, p.inter_crl, p.signing_crl])
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def chain_error(s: Setup) -> TrustError:
    with pytest.raises(TrustError) as info:
        s.verifier()
    err = info.value
    assert err.check == "chain", err
    assert "\n" not in str(err)
    assert f"Error occurred at level {err.level}" in str(err)
    return err


def hkd_check(v: HostKeyVerifier, cert: x509.Certificate) -> str:
    try:
        v.verify(cert, "doc.crt")
    except TrustError as exc:
        assert str(exc).startswith("Host-key verification failed for 'doc.crt': ")
        assert "\n" not in str(exc)
        return exc.check
    return "ok"


# --- host-key documents --------------------------------------------------------------------

def test_valid_pki(p: PkiSet) -> None:
    v = setup(p).verifier()
    assert [link.source for link in v.chain] == ["signing.crt", "inter.crt", "root.crt"]
    assert hkd_check(v, p.host.cert) == "ok"
    assert hkd_check(v, p.host_revoked.cert) == "revoked"


@pytest.mark.parametrize(("spec", "expected"), [
    (host_spec(not_before=NOW - 20 * DAY, not_after=NOW - DAY), "after-validity"),
    (host_spec(not_before=NOW - 20 * DAY, not_after=NOW), "after-validity"),
    (host_spec(not_before=NOW + DAY), "before-validity"),
    (host_spec(not_before=NOW), "ok"),
    (host_spec(akid=False), "ok"),
    (host_spec(issuer_name=ibm_name(SIGNING_UNIT, "Armonk")), "ok"),  # issuer not compared
    (host_spec(issuer_name=ibm_name("Somebody Else")), "ok"),
    (host_spec(sign_with=ec_key()), "signature"),
    (host_spec(akid=False, sign_with=ec_key()), "signature"),
])
def test_hkd_checks(p: PkiSet, spec: CertSpec, expected: str) -> None:
    doc = issue(p.signing, pki.HOST_SUBJECT, spec, key=p.host_key)
    assert hkd_check(setup(p).verifier(), doc.cert) == expected


def test_hkd_akid_of_another_key(p: PkiSet) -> None:
    other = issue(p.inter, ibm_name(SIGNING_UNIT), CertSpec())
    doc = issue(p.signing, pki.HOST_SUBJECT, host_spec(akid_from=other.cert), key=p.host_key)
    assert hkd_check(setup(p).verifier(), doc.cert) == "akid"


def test_hkd_weak_key(p: PkiSet) -> None:
    weak = rsa.generate_private_key(65537, 1024)
    doc = issue(p.signing, pki.HOST_SUBJECT, host_spec(), key=weak)
    with pytest.raises(TrustError) as info:
        setup(p).verifier().verify(doc.cert, "weak.crt")
    assert info.value.check == "security-bits"
    assert "Not enough bits of security. (80, 112 expected)" in str(info.value)


def test_hkd_check_order_validity_before_akid(p: PkiSet) -> None:
    other = issue(p.inter, ibm_name(SIGNING_UNIT), CertSpec())
    doc = issue(p.signing, pki.HOST_SUBJECT,
                host_spec(akid_from=other.cert, not_after=NOW - DAY, not_before=NOW - 9 * DAY),
                key=p.host_key)
    assert hkd_check(setup(p).verifier(), doc.cert) == "after-validity"


# --- CRLs of the signing key ----------------------------------------------------------------

def _signing_crl(p: PkiSet, **kwargs: object) -> x509.CertificateRevocationList:
    kwargs.setdefault("revoked", [p.host_revoked.cert.serial_number])
    return make_crl(p.signing, CrlSpec(**kwargs))  # type: ignore[arg-type]


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({}, "ok"),
    ({"next_update": NOW - DAY, "last_update": NOW - 9 * DAY}, "no-crl"),   # out of date
    ({"last_update": NOW + DAY, "next_update": NOW + 9 * DAY}, "no-crl"),   # not yet valid
    ({"sign_with": ec_key()}, "no-crl"),                                      # wrong key
    ({"akid": False, "sign_with": ec_key()}, "no-crl"),
    ({"akid": False}, "ok"),
    ({"issuer_name": ibm_name(SIGNING_UNIT, order="C O OU L ST CN")}, "ok"),  # quirk
    ({"issuer_name": ibm_name(SIGNING_UNIT, "Armonk")}, "no-crl"),           # not looked up
])
def test_signing_key_crl(p: PkiSet, kwargs: dict[str, object], expected: str) -> None:
    crl = _signing_crl(p, **kwargs)
    v = setup(p, crls=[p.root_crl, p.inter_crl, crl]).verifier()
    assert hkd_check(v, p.host.cert) == expected


def test_out_of_date_crl_message(p: PkiSet) -> None:
    crl = _signing_crl(p, next_update=NOW - DAY, last_update=NOW - 9 * DAY)
    v = setup(p, crls=[p.root_crl, p.inter_crl, crl]).verifier()
    with pytest.raises(TrustError) as info:
        v.verify(p.host.cert, "host.crt")
    message = str(info.value)
    assert "No valid CRL found" in message and "current CRL" in message and "--offline" in message
    assert any("expired on" in line for line in info.value.details)


def test_missing_signing_key_crl_offline(p: PkiSet) -> None:
    v = setup(p, crls=[p.root_crl, p.inter_crl]).verifier()
    with pytest.raises(TrustError) as info:
        v.verify(p.host.cert, "host.crt")
    assert info.value.check == "no-crl"
    assert "--crl" in str(info.value) and "--offline" in str(info.value)


def test_expired_crl_listing_the_document_is_ignored(p: PkiSet) -> None:
    stale = _signing_crl(p, next_update=NOW - DAY, last_update=NOW - 9 * DAY,
                         revoked=[p.host.cert.serial_number])
    current = _signing_crl(p)
    v = setup(p, crls=[p.root_crl, p.inter_crl, stale, current]).verifier()
    assert hkd_check(v, p.host.cert) == "ok"


def test_revoked_in_any_valid_crl(p: PkiSet) -> None:
    first = _signing_crl(p, revoked=[])
    second = _signing_crl(p, revoked=[p.host.cert.serial_number])
    v = setup(p, crls=[p.root_crl, p.inter_crl, first, second]).verifier()
    assert hkd_check(v, p.host.cert) == "revoked"


def test_armonk_signing_key_finds_poughkeepsie_crl(p: PkiSet) -> None:
    armonk = issue(p.inter, ibm_name(SIGNING_UNIT, "Armonk"), CertSpec(), key=p.signing.key)
    for order in ("C O CN ST L OU", "C O OU L ST CN"):
        crl = make_crl(p.signing, CrlSpec(issuer_name=ibm_name(SIGNING_UNIT, order=order),
                                          revoked=[p.host_revoked.cert.serial_number]))
        v = setup(p, signing=armonk, crls=[p.root_crl, p.inter_crl, crl]).verifier()
        assert hkd_check(v, p.host.cert) == "ok"
        assert hkd_check(v, p.host_revoked.cert) == "revoked"


# --- the chain of the signing key ------------------------------------------------------------

def _valid(**kwargs: object) -> CertSpec:
    return CertSpec(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("which", "spec", "level", "code"), [
    ("signing", _valid(not_before=NOW - 9 * DAY, not_after=NOW - DAY), 0, 10),
    ("signing", _valid(not_before=NOW + DAY), 0, 9),
    ("signing", _valid(sign_with=ec_key()), 0, 7),                 # wrong issuer key
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
def test_chain_certificate_problems(p: PkiSet, which: str, spec: CertSpec,
                                    level: int | None, code: int | str | None) -> None:
    if which == "signing":
        spec = dataclasses.replace(spec, dist_points=["http://127.0.0.1:9/inter.crl"])
        signing = issue(p.inter, ibm_name(SIGNING_UNIT), spec, key=p.signing.key)
        s = setup(p, signing=signing)
    else:
        inter = issue(p.root, p.inter.name, spec, key=p.inter.key)
        s = setup(p, inter=inter, crls=[p.root_crl, make_crl(inter), p.signing_crl])
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


def test_wrong_subject_is_not_a_signing_key(p: PkiSet) -> None:
    wrong = issue(p.inter, ibm_name("Key Signing Service Invalid"), CertSpec(), key=p.signing.key)
    with pytest.raises(TrustError) as info:
        setup(p, signing=wrong).verifier()
    assert info.value.check == "no-signing-key"


def test_revoked_signing_key(p: PkiSet) -> None:
    err = chain_error(setup(p, signing=p.signing_revoked))
    assert (err.level, err.code) == (0, 23)


def test_revoked_intermediate(p: PkiSet) -> None:
    root_crl = make_crl(p.root, CrlSpec(revoked=[p.inter.cert.serial_number]))
    err = chain_error(setup(p, crls=[root_crl, p.inter_crl, p.signing_crl]))
    assert (err.level, err.code) == (1, 23)


@pytest.mark.parametrize(("crl_spec", "code"), [
    (CrlSpec(sign_with=ec_key()), 8),                                    # signed by wrong key
    (CrlSpec(next_update=NOW - DAY, last_update=NOW - 9 * DAY), 12),     # out of date
    (CrlSpec(last_update=NOW + DAY, next_update=NOW + 9 * DAY), 11),     # not yet valid
])
def test_bad_intermediate_crl(p: PkiSet, crl_spec: CrlSpec, code: int) -> None:
    err = chain_error(setup(p, crls=[p.root_crl, make_crl(p.inter, crl_spec), p.signing_crl]))
    assert (err.level, err.code) == (0, code)


def test_missing_crls_offline(p: PkiSet) -> None:
    err = chain_error(setup(p, crls=[p.root_crl, p.signing_crl]))
    assert (err.level, err.code) == (0, 3)
    assert "--crl" in str(err) and "drop --offline" in str(err)
    err = chain_error(setup(p, crls=[p.inter_crl, p.signing_crl]))
    assert (err.level, err.code) == (1, 3)


def test_root_crl_from_the_anchor_file(p: PkiSet) -> None:
    v = setup(p, crls=[p.inter_crl, p.signing_crl], anchors_crls=[p.root_crl]).verifier()
    assert hkd_check(v, p.host.cert) == "ok"


def test_wrong_intermediate_key(p: PkiSet) -> None:
    impostor = issue(p.root, p.inter.name, CertSpec(ca=True))
    err = chain_error(setup(p, inter=impostor))
    assert (err.level, err.code) == (0, 30)


def test_intermediate_from_another_root(p: PkiSet) -> None:
    other_root = pki.root_ca("Test Root CA")
    inter = issue(other_root, p.inter.name, CertSpec(ca=True), key=p.inter.key)
    err = chain_error(setup(p, inter=inter))
    assert err.level == 1 and err.code in (20, 30)


def test_weak_intermediate_key(p: PkiSet) -> None:
    weak = rsa.generate_private_key(65537, 1024)
    inter = issue(p.root, p.inter.name, CertSpec(ca=True), key=weak)
    signing = issue(inter, ibm_name(SIGNING_UNIT), CertSpec(), key=p.signing.key)
    err = chain_error(setup(p, inter=inter, signing=signing,
                            crls=[p.root_crl, make_crl(inter), p.signing_crl]))
    assert (err.level, err.code) == (1, 67)


def test_chain_too_long(p: PkiSet) -> None:
    extra1 = issue(p.inter, ibm_name("Extra CA 1"), CertSpec(ca=True))
    extra2 = issue(extra1, ibm_name("Extra CA 2"), CertSpec(ca=True))
    signing = issue(extra2, ibm_name(SIGNING_UNIT), CertSpec(), key=p.signing.key)
    crls = [p.root_crl, p.inter_crl, make_crl(extra1), make_crl(extra2), p.signing_crl]
    err = chain_error(setup(p, signing=signing, crls=crls, extra_certs=[extra1, extra2]))
    assert err.code == 22
    # two intermediates are fine
    signing = issue(extra1, ibm_name(SIGNING_UNIT), CertSpec(), key=p.signing.key)
    v = setup(p, signing=signing, crls=crls, extra_certs=[extra1]).verifier()
    assert len(v.chain) == 4


def test_path_length_constraint(p: PkiSet) -> None:
    inter = issue(p.root, p.inter.name, CertSpec(ca=True, path_length=0), key=p.inter.key)
    extra = issue(inter, ibm_name("Extra CA"), CertSpec(ca=True))
    signing = issue(extra, ibm_name(SIGNING_UNIT), CertSpec(), key=p.signing.key)
    err = chain_error(setup(p, inter=inter, signing=signing, extra_certs=[extra],
                            crls=[p.root_crl, make_crl(inter), make_crl(extra), p.signing_crl]))
    assert (err.level, err.code) == (2, 25)


def test_self_signed_signing_key(p: PkiSet) -> None:
    key = ec_key()
    cert = pki.make_cert(ibm_name(SIGNING_UNIT), key.public_key(), None, CertSpec(), self_key=key)
    err = chain_error(setup(p, signing=Entity(cert, key)))
    assert (err.level, err.code) == (0, 18)


def test_crl_issuer_name_compared_canonically(p: PkiSet) -> None:
    loose = x509.Name([x509.NameAttribute(a.oid, str(a.value).upper().replace(" ", "  "))
                       if a.oid != NameOID.COUNTRY_NAME else a for a in p.inter.name])
    assert names_equal(loose, p.inter.name)
    crl = make_crl(p.inter, CrlSpec(issuer_name=loose,
                                    revoked=[p.signing_revoked.cert.serial_number]))
    setup(p, crls=[p.root_crl, crl, p.signing_crl]).verifier()
    err = chain_error(setup(p, signing=p.signing_revoked, crls=[p.root_crl, crl, p.signing_crl]))
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
def test_subject_hash_matches_openssl(p: PkiSet, tmp_path: Path) -> None:
    loose = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "  Mixed   Case\tName "),
                       x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ünïcode Org")])
    cert = pki.make_cert(loose, p.root.key.public_key(), None, CertSpec(ca=True),
                         self_key=p.root.key)
    for c in (cert, p.signing.cert):
        path = pki.write(tmp_path / "c.pem", c)
        out = subprocess.run(["openssl", "x509", "-in", path, "-noout", "-hash"],
                             capture_output=True, text=True, check=True).stdout.strip()
        assert f"{subject_hash(c.subject):08x}" == out


# --- system trust store and files ------------------------------------------------------------

def _files(p: PkiSet, d: Path) -> tuple[list[str], list[str]]:
    certs = [pki.write(d / "signing.crt", p.signing), pki.write(d / "inter.crt", p.inter)]
    crls = [pki.write(d / "inter.crl", p.inter_crl), pki.write(d / "signing.crl", p.signing_crl)]
    return certs, crls


def test_system_store_from_ssl_cert_file(p: PkiSet, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    certs, crls = _files(p, tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", pki.write(tmp_path / "bundle.pem", p.root, p.root_crl))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "nothing"))
    v = establish_trust(load_trust_inputs(certs, crls, None), fetcher=None, now=NOW)
    assert hkd_check(v, p.host.cert) == "ok"
    assert "bundle.pem" in v.chain[-1].source


def test_system_store_from_hashed_ssl_cert_dir(p: PkiSet, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    certs, crls = _files(p, tmp_path)
    hashed = tmp_path / "certs"
    hashed.mkdir()
    value = f"{subject_hash(p.root.name):08x}"
    pki.write(hashed / f"{value}.0", p.root)
    pki.write(hashed / f"{value}.r0", p.root_crl)
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


def test_file_errors(p: PkiSet, tmp_path: Path) -> None:
    certs, crls = _files(p, tmp_path)
    root = pki.write(tmp_path / "root.pem", p.root, p.root_crl)
    der_root = pki.write(tmp_path / "root.der", p.root, as_der=True)
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"not a certificate\n")
    assert load_trust_inputs(certs, crls, der_root).anchors.issuers(p.root.name)
    with pytest.raises(InputError, match=r"^Cannot load certificate from .*garbage"):
        load_trust_inputs(certs, crls, str(garbage))
    with pytest.raises(InputError, match=r"^Cannot load certificate from .*missing"):
        load_trust_inputs(certs, crls, str(tmp_path / "missing"))
    for bad in (str(garbage), certs[0], str(tmp_path / "missing")):
        with pytest.raises(InputError, match=r"^Cannot load CRL from "):
            load_trust_inputs(certs, [bad], root)
    # a CRL file (PEM or DER) given as --cert contributes its CRL but no certificate
    der_crl = pki.write(tmp_path / "signing.der.crl", p.signing_crl, as_der=True)
    for crl_file in (crls[1], der_crl):
        inputs = load_trust_inputs([*certs, crl_file], crls[:1], root)
        assert len(inputs.certificates) == 2 and len(inputs.crls) == 2
    # one file with several CRLs
    both = pki.write(tmp_path / "both.crl", p.inter_crl, p.signing_crl)
    v = establish_trust(load_trust_inputs(certs, [both], root), fetcher=None, now=NOW)
    assert hkd_check(v, p.host.cert) == "ok"


# --- fuzzing ---------------------------------------------------------------------------------

def test_bad_certificate_version_is_a_value_error(p: PkiSet) -> None:
    raw = bytearray(pki.der(p.host))
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


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_verify_mutated_documents(data: st.DataObject) -> None:
    p = _FUZZ_PKI
    original = pki.der(p.host)
    raw = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    try:
        cert = x509.load_der_x509_certificate(bytes(raw))
    except (ValueError, x509.InvalidVersion):
        return
    try:
        _FUZZ_VERIFIER.verify(cert, "fuzz.crt")
    except (TrustError, InputError):  # our errors only
        return
    assert bytes(raw) == original, "a modified host-key document was accepted"


_FUZZ_PKI = build_pki()
_FUZZ_VERIFIER = setup(_FUZZ_PKI).verifier()


def test_fuzz_fixture_is_valid() -> None:
    assert hkd_check(_FUZZ_VERIFIER, _FUZZ_PKI.host.cert) == "ok"
    assert isinstance(_FUZZ_PKI.host.cert.public_key(), ec.EllipticCurvePublicKey)
    assert _FUZZ_PKI.host.cert.not_valid_after_utc > NOW + dt.timedelta(days=1)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_establish_trust_with_mutated_chain_objects(data: st.DataObject) -> None:
    """Flip bytes of any certificate or CRL of the chain: only our errors may come out."""
    p = _FUZZ_PKI
    objects = {"signing": pki.der(p.signing), "inter": pki.der(p.inter), "root": pki.der(p.root),
               "root_crl": pki.der(p.root_crl), "inter_crl": pki.der(p.inter_crl)}
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
    assert raw == bytearray(pki.der(getattr(p, which))), f"a modified {which} was accepted"


def test_outer_signature_algorithm_is_part_of_the_signature_check(p: PkiSet) -> None:
    """Same signed bytes and signature value, other outer algorithm: must not verify, and
    must not poison the memoised result for the genuine certificate."""
    from secexkit.trust._x509 import signed_by

    genuine = pki.der(p.host)
    sha512 = bytes.fromhex("06082a8648ce3d040304")  # ecdsa-with-SHA512
    sha384 = bytes.fromhex("06082a8648ce3d040303")
    outer = genuine.rindex(sha512)  # the last occurrence is outside the TBS
    forged = x509.load_der_x509_certificate(genuine[:outer] + sha384 + genuine[outer + len(sha384):])
    assert forged.tbs_certificate_bytes == p.host.cert.tbs_certificate_bytes
    assert not signed_by(forged, p.signing.cert)
    assert signed_by(p.host.cert, p.signing.cert)
    assert not signed_by(forged, p.signing.cert)
