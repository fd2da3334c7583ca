"""CRLs in host-key verification: the signing key's CRLs (validity, issuer-name quirks,
revocation in any valid CRL), the chain's CRLs, and which CRLs are in scope at all
(distribution-point partitions, delta CRLs, critical extensions and entry extensions).
"""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from secexkit.cli._hostkeys import cli_message
from secexkit.trust import TrustError
from secexkit.trust._crl import hkd_crl_problem
from secexkit.trust._names import names_equal
from secexkit.trust._x509 import SourcedCrl
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
    ibm_name,
    issue,
    make_crl,
)
from tests.support.verification import chain_error, hkd_check, setup


def _signing_crl(pki_set: PkiSet, **kwargs: object) -> x509.CertificateRevocationList:
    kwargs.setdefault("revoked", [pki_set.host_revoked.cert.serial_number])
    return make_crl(pki_set.signing, CrlSpec(**kwargs))  # type: ignore[arg-type]


UNKNOWN = x509.ObjectIdentifier("1.3.6.1.4.1.99999.7")


def _crl(issuer: Entity, **kwargs: object) -> x509.CertificateRevocationList:
    return pki.make_crl(issuer, CrlSpec(**kwargs))  # type: ignore[arg-type]


def _idp(*, uri: str | None = None, ca_only: bool = False,
         user_only: bool = False) -> tuple[x509.ExtensionType, bool]:
    return x509.IssuingDistributionPoint(
        full_name=[x509.UniformResourceIdentifier(uri)] if uri else None, relative_name=None,
        only_contains_user_certs=user_only, only_contains_ca_certs=ca_only,
        only_some_reasons=None, indirect_crl=False, only_contains_attribute_certs=False), True


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
    assert "No valid CRL found" in message and "current CRL" in message
    assert "--offline" in cli_message(info.value)
    assert any("expired on" in line for line in info.value.details)


def test_missing_signing_key_crl_offline(pki_set: PkiSet) -> None:
    v = setup(pki_set, crls=[pki_set.root_crl, pki_set.inter_crl]).verifier()
    with pytest.raises(TrustError) as info:
        v.verify(pki_set.host.cert, "host.crt")
    assert info.value.check == "no-crl"
    assert "--crl" in cli_message(info.value) and "--offline" in cli_message(info.value)


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
    assert "--crl" in cli_message(err) and "drop --offline" in cli_message(err)
    err = chain_error(setup(pki_set, crls=[pki_set.inter_crl, pki_set.signing_crl]))
    assert (err.level, err.code) == (1, 3)


def test_root_crl_from_the_anchor_file(pki_set: PkiSet) -> None:
    v = setup(pki_set, crls=[pki_set.inter_crl, pki_set.signing_crl],
              anchors_crls=[pki_set.root_crl]).verifier()
    assert hkd_check(v, pki_set.host.cert) == "ok"


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


def test_stale_document_crl_named_in_the_message(pki_set: PkiSet) -> None:
    stale = _crl(pki_set.signing, last_update=NOW - 9 * DAY, next_update=NOW - DAY)
    v = setup(pki_set, crls=[pki_set.root_crl, pki_set.inter_crl, stale]).verifier()
    with pytest.raises(TrustError) as info:
        v.verify(pki_set.host.cert, "host.crt")
    message = str(info.value)
    assert info.value.check == "no-crl" and "\n" not in message
    assert "(crl2.crl) expired on " in message and "give a current CRL" in message
    assert "--offline" in cli_message(info.value)
    wrong = _crl(pki_set.signing, sign_with=pki.ec_key())
    v = setup(pki_set, crls=[pki_set.root_crl, pki_set.inter_crl, stale, wrong]).verifier()
    with pytest.raises(TrustError) as info:
        v.verify(pki_set.host.cert, "host.crt")
    assert "(and 1 more, see -v)" in cli_message(info.value) and len(info.value.details) == 2


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
