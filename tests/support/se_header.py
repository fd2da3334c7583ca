"""The SE header of the reference's builder test vector, built with secexkit (shared by the
header and info tests)."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec

from secexkit.hostkeys import HostKey
from secexkit.image.header import ComponentDigests, HeaderKeys, HeaderSecrets, build_se_header
from secexkit.secret import SecretBytes


def builder_test_header(customer: ec.EllipticCurvePrivateKey, host: HostKey) -> bytes:
    """The SE header of the reference's builder test: fixed keys, secrets and digests."""
    return build_se_header(
        host_keys=[host],
        keys=HeaderKeys(b"\x33" * 12, customer, SecretBytes(b"\x32" * 32)),
        secrets=HeaderSecrets(SecretBytes(b"\x31" * 32), SecretBytes(b"\x03" * 64),
                              psw_mask=0x162E, psw_address=0x4D2, scf=0),
        digests=ComponentDigests(pld=b"\x02" * 64, ald=b"\x01" * 64, tld=b"\x03" * 64,
                                 page_count=1),
        pcf=0,
    )
