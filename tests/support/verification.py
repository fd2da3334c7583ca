"""Verification set-ups over the test PKI, and the one-line-message checks every verdict
must pass (see :mod:`tests.support.pki` for the PKI itself)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest
from cryptography import x509

from secexkit.trust import TrustError
from secexkit.trust._chain import AnchorList
from secexkit.trust._x509 import SourcedCert, SourcedCrl
from secexkit.trust.verifier import HostKeyVerifier, TrustInputs, establish_trust
from tests.support.pki import NOW, Entity, PkiSet


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
        """Establish trust offline at NOW, with the root as the only anchor."""
        certs = [SourcedCert(self.signing.cert, "signing.crt"),
                 SourcedCert(self.inter.cert, "inter.crt"),
                 *(SourcedCert(e.cert, f"extra{i}.crt") for i, e in enumerate(self.extra_certs))]
        crls = [SourcedCrl(c, f"crl{i}.crl") for i, c in enumerate(self.crls)]
        anchors = AnchorList([SourcedCert(self.root.cert, "root.crt")],
                             [SourcedCrl(c, "root.crt") for c in self.anchors_crls])
        return establish_trust(TrustInputs(certs, crls, anchors), fetcher=None, now=NOW)


def setup(p: PkiSet, **changes: object) -> Setup:
    """The valid set-up of ``p`` with ``changes`` applied."""
    base = Setup(p.root, p.inter, p.signing, [p.root_crl, p.inter_crl, p.signing_crl])
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def chain_error(s: Setup) -> TrustError:
    """The chain error that establishing trust for ``s`` must raise (message checked)."""
    with pytest.raises(TrustError) as info:
        s.verifier()
    err = info.value
    assert err.check == "chain", err
    assert "\n" not in str(err)
    assert f"Error occurred at level {err.level}" in str(err)
    return err


def hkd_check(v: HostKeyVerifier, cert: x509.Certificate) -> str:
    """The failed check's name for a host-key document, or "ok" (message checked)."""
    try:
        v.verify(cert, "doc.crt")
    except TrustError as exc:
        assert str(exc).startswith("Host-key verification failed for 'doc.crt': ")
        assert "\n" not in str(exc)
        return exc.check
    return "ok"
