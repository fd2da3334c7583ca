"""secexkit.testing.pki: the generated test PKI through the library."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509

import secexkit
from secexkit.testing import generate_pki


def test_generated_pki_verifies_offline(tmp_path: Path) -> None:
    pki = generate_pki(2, days=10)
    files = pki.write(tmp_path / "out")
    keys = secexkit.verify_host_key_documents(
        [str(p) for p in files.hosts], [str(files.intermediate), str(files.signing)],
        crls=[str(p) for p in files.crls], root_ca=str(files.root_ca), offline=True)
    assert len(keys) == 2
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files.host_keys)
    signing = pki.signing.subject
    assert signing.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == (
        "IBM Z Host Key Signing Service")


def test_private_keys_match_documents() -> None:
    pki = generate_pki(2)
    for cert, key in zip(pki.hosts, pki.host_keys, strict=True):
        assert cert.public_key() == key.public_key()
    assert "PrivateKey" not in repr(pki)


@pytest.mark.parametrize(("hosts", "days"), [(0, 1), (1, 0)])
def test_bad_parameters(hosts: int, days: int) -> None:
    with pytest.raises(ValueError):
        generate_pki(hosts, days=days)
