"""Host-key document checks against the generated PKI: validity period, authority key
identifier, signature, key type and strength, and the order the checks run in.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from secexkit.trust import TrustError
from tests.support import pki
from tests.support.pki import (
    ANOTHER_KEY,
    DAY,
    NOW,
    SIGNING_UNIT,
    CertSpec,
    PkiSet,
    host_spec,
    ibm_name,
    issue,
)
from tests.support.verification import hkd_check, setup


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


def test_document_with_another_curve(pki_set: PkiSet) -> None:
    for curve in (ec.SECP384R1(), ec.SECP256R1()):
        doc = pki.issue(pki_set.signing, pki.HOST_SUBJECT, host_spec(), key=pki.ec_key(curve))
        assert hkd_check(setup(pki_set).verifier(), doc.cert) == "key-type"
    assert hkd_check(setup(pki_set).verifier(), pki_set.host.cert) == "ok"
