"""Chain constraints as strict as OpenSSL with X509_STRICT|CRL_CHECK_ALL|POLICY_CHECK:
directoryName name constraints (critical or not), policy constraints, and host-key
documents with unknown critical extensions (ADR 0042)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from secexkit.trust import Check, TrustError
from secexkit.trust._chain import AnchorList
from secexkit.trust._x509 import SourcedCert, SourcedCrl
from secexkit.trust.verifier import HostKeyVerifier, TrustInputs, establish_trust
from tests.support import pki
from tests.support.pki import NOW, CertSpec, Entity, PkiSet, host_spec

POLICY_A = x509.ObjectIdentifier("1.3.6.1.4.1.99999.7.1")
POLICY_B = x509.ObjectIdentifier("1.3.6.1.4.1.99999.7.2")


def _country(code: str) -> x509.DirectoryName:
    return x509.DirectoryName(x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, code)]))


def _policies(*oids: x509.ObjectIdentifier) -> tuple[x509.ExtensionType, bool]:
    return x509.CertificatePolicies([x509.PolicyInformation(oid, None) for oid in oids]), False


def _verifier(pki_set: PkiSet, inter_ext: Sequence[tuple[x509.ExtensionType, bool]] = (),
              signing_ext: Sequence[tuple[x509.ExtensionType, bool]] = ()) -> HostKeyVerifier:
    """root -> inter (with ``inter_ext``) -> signing key (with ``signing_ext``), offline."""
    inter = pki.issue(pki_set.root, pki_set.inter.name, CertSpec(
        ca=True, dist_points=["http://127.0.0.1:9/root.crl"], extra_extensions=inter_ext),
        key=pki_set.inter.key)
    signing = pki.issue(inter, pki_set.signing.name, CertSpec(
        dist_points=["http://127.0.0.1:9/inter.crl"], extra_extensions=signing_ext),
        key=pki_set.signing.key)
    crls = [pki_set.root_crl, pki.make_crl(inter), pki_set.signing_crl]
    inputs = TrustInputs([SourcedCert(signing.cert, "signing.crt"),
                          SourcedCert(inter.cert, "inter.crt")],
                         [SourcedCrl(c, f"crl{i}.crl") for i, c in enumerate(crls)],
                         AnchorList([SourcedCert(pki_set.root.cert, "root.crt")]))
    return establish_trust(inputs, fetcher=None, now=NOW)


def _chain_error(pki_set: PkiSet, **kwargs: Sequence[tuple[x509.ExtensionType, bool]]) -> TrustError:
    with pytest.raises(TrustError) as info:
        _verifier(pki_set, **kwargs)
    assert info.value.check == Check.CHAIN and "\n" not in str(info.value)
    return info.value


@pytest.mark.parametrize("critical", [False, True])
def test_excluded_country_is_refused(pki_set: PkiSet, critical: bool) -> None:
    err = _chain_error(pki_set, inter_ext=[(x509.NameConstraints(None, [_country("US")]), critical)])
    assert (err.level, err.code) == (0, 48) and "excluded" in str(err)


@pytest.mark.parametrize("critical", [False, True])
def test_name_outside_the_permitted_subtree_is_refused(pki_set: PkiSet, critical: bool) -> None:
    err = _chain_error(pki_set, inter_ext=[(x509.NameConstraints([_country("DE")], None), critical)])
    assert (err.level, err.code) == (0, 47) and "permitted" in str(err)


def test_permitted_and_not_excluded_names_pass(pki_set: PkiSet) -> None:
    v = _verifier(pki_set, inter_ext=[(x509.NameConstraints([_country("US")], [_country("DE")]), True)])
    assert len(v.chain) == 3


def test_root_constraints_apply_to_the_intermediate(pki_set: PkiSet) -> None:
    root = pki.root_ca(spec=CertSpec(ca=True, extra_extensions=[
        (x509.NameConstraints(None, [_country("US")]), False)]), key=pki_set.root.key)
    inter = pki.issue(root, pki_set.inter.name, CertSpec(ca=True), key=pki_set.inter.key)
    signing = pki.issue(inter, pki_set.signing.name, CertSpec(), key=pki_set.signing.key)
    inputs = TrustInputs([SourcedCert(signing.cert, "signing.crt"),
                          SourcedCert(inter.cert, "inter.crt")],
                         [SourcedCrl(pki.make_crl(root), "r.crl"),
                          SourcedCrl(pki.make_crl(inter), "i.crl")],
                         AnchorList([SourcedCert(root.cert, "root.crt")]))
    with pytest.raises(TrustError) as info:
        establish_trust(inputs, fetcher=None, now=NOW)
    assert (info.value.level, info.value.code) == (1, 48)


def test_other_constraint_types_fail_closed(pki_set: PkiSet) -> None:
    err = _chain_error(pki_set, inter_ext=[(x509.NameConstraints(
        [x509.DNSName("example.com")], None), False)])
    assert (err.level, err.code) == (1, 51) and "not evaluated" in str(err)


def test_require_explicit_policy_without_policies_is_refused(pki_set: PkiSet) -> None:
    err = _chain_error(pki_set, inter_ext=[(x509.PolicyConstraints(0, None), False)])
    assert err.code == 43 and "explicit certificate policy" in str(err)


def test_require_explicit_policy_with_a_common_policy_passes(pki_set: PkiSet) -> None:
    v = _verifier(pki_set, inter_ext=[(x509.PolicyConstraints(0, None), True), _policies(POLICY_A)],
                  signing_ext=[_policies(POLICY_A)])
    assert len(v.chain) == 3


def test_require_explicit_policy_with_disjoint_policies_is_refused(pki_set: PkiSet) -> None:
    err = _chain_error(pki_set, inter_ext=[(x509.PolicyConstraints(0, None), True), _policies(POLICY_A)],
                       signing_ext=[_policies(POLICY_B)])
    assert err.code == 43


def test_any_policy_and_inhibit_any_policy(pki_set: PkiSet) -> None:
    any_policy = x509.ObjectIdentifier("2.5.29.32.0")
    v = _verifier(pki_set, inter_ext=[(x509.PolicyConstraints(0, None), True), _policies(any_policy)],
                  signing_ext=[_policies(POLICY_B)])
    assert len(v.chain) == 3
    err = _chain_error(pki_set, inter_ext=[(x509.PolicyConstraints(0, None), True),
                                     (x509.InhibitAnyPolicy(0), True), _policies(POLICY_A)],
                       signing_ext=[_policies(any_policy)])
    assert err.code == 43


def test_explicit_policy_beyond_the_chain_is_not_required(pki_set: PkiSet) -> None:
    v = _verifier(pki_set, inter_ext=[(x509.PolicyConstraints(5, None), True)])
    assert len(v.chain) == 3


def test_document_with_an_unknown_critical_extension_is_refused(pki_set: PkiSet) -> None:
    unknown = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.9"), b"\x05\x00")
    document = pki.issue(pki_set.signing, pki.HOST_SUBJECT, host_spec(extra_extensions=[(unknown, True)]),
                         key=pki_set.host_key)
    v = _verifier(pki_set)
    with pytest.raises(TrustError) as info:
        v.verify(document.cert, "odd.crt")
    assert info.value.check == "critical-extension"
    assert info.value.check is Check.CRITICAL_EXTENSION
    assert "1.3.6.1.4.1.99999.9" in str(info.value)
    harmless = pki.issue(pki_set.signing, pki.HOST_SUBJECT,
                         host_spec(extra_extensions=[(unknown, False)]), key=pki_set.host_key)
    v.verify(harmless.cert, "fine.crt")


def test_crl_issuer_name_cannot_drive_the_terminal(pki_set: PkiSet) -> None:
    """A downloaded CRL's issuer name with a newline and ANSI escapes appears escaped."""
    from secexkit.trust import CrlFetcher, Transfer

    evil_name = x509.Name([x509.NameAttribute(
        NameOID.ORGANIZATIONAL_UNIT_NAME, "x\n\x1b[2J\x1b[Hhost.crt: OK, verified")])
    evil = pki.make_crl(Entity(pki_set.signing.cert, pki.ec_key()), pki.CrlSpec(issuer_name=evil_name))

    class Served(CrlFetcher):
        def transfer(self, uri: str, transfer: Transfer) -> list[bytes]:
            return [pki.der(evil)]

    inputs = TrustInputs([SourcedCert(pki_set.signing.cert, "signing.crt"),
                          SourcedCert(pki_set.inter.cert, "inter.crt")],
                         [SourcedCrl(pki_set.root_crl, "r.crl"), SourcedCrl(pki_set.inter_crl, "i.crl")],
                         AnchorList([SourcedCert(pki_set.root.cert, "root.crt")]))
    v = establish_trust(inputs, fetcher=Served(), now=NOW)
    with pytest.raises(TrustError) as info:
        v.verify(pki_set.host.cert, "host.crt")
    text = " ".join([str(info.value), *info.value.details])
    assert "\n" not in text and "\x1b" not in text
    assert "x\\x0a\\x1b[2J\\x1b[Hhost.crt: OK, verified" in str(info.value)
