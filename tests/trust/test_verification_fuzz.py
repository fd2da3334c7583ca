"""Fuzzing host-key verification: parsers raise only ValueError, trust files with arbitrary
bytes raise only InputError, and no mutated document or chain object is ever accepted.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secexkit.errors import InputError
from secexkit.trust import TrustError
from secexkit.trust._chain import AnchorList
from secexkit.trust._load import parse_certificates, parse_crls, parse_pem
from secexkit.trust._x509 import SourcedCert, SourcedCrl
from secexkit.trust.sources import load_trust_inputs
from secexkit.trust.verifier import HostKeyVerifier, TrustInputs, establish_trust
from tests.support import pki
from tests.support.pki import NOW, PkiSet
from tests.support.verification import hkd_check, setup


@pytest.fixture(scope="module")
def fuzz_verifier(pki_set: PkiSet) -> HostKeyVerifier:
    """The valid verifier of the session PKI, shared by the fuzzing examples."""
    return setup(pki_set).verifier()


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
