"""Building and opening SE headers (v1).

The header protection key encrypts the 128-byte secret area with AES-256-GCM
(AAD = magic .. last key slot); every host key gets a key slot wrapping that
protection key with an ECDH(customer key, host key) derived KEK, exactly like
an add-secret request.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives.asymmetric import ec

from .. import crypto
from ..crypto.keyslots import EnvelopeKeys, check_host_key_count, open_key_slot, seal_key_slots
from ..errors import CryptoError
from ..formats.se_header import (
    IMAGE_KEY_SIZE,
    KEY_SLOTS_OFFSET,
    MAX_SE_HEADER_KEY_SLOTS,
    SE_HEADER_SECRETS_V1,
    SeHeader,
    pack_se_header_aad,
    parse_se_header,
    se_header_size,
)
from ..formats.sizes import CCK_SIZE, PROTECTION_KEY_SIZE, TAG_SIZE
from ..hostkeys import HostKey
from ..secret import SecretBytes

log = logging.getLogger(__name__)

#: what :func:`check_host_key_count` names when a header gets too many host keys
SE_HEADER_WHAT: Final = "one Secure Execution header"


#: the random material of one header (IV, customer key, header protection key)
HeaderKeys = EnvelopeKeys


@dataclass(frozen=True)
class HeaderSecrets:
    """The content of the encrypted area."""

    cck: SecretBytes
    image_key: SecretBytes
    psw_mask: int
    psw_address: int
    scf: int

    def __post_init__(self) -> None:
        if len(self.cck) != CCK_SIZE:
            raise ValueError(f"the CCK must be {CCK_SIZE} bytes")
        if len(self.image_key) != IMAGE_KEY_SIZE:
            raise ValueError(f"the image key must be {IMAGE_KEY_SIZE} bytes")

    def to_bytes(self) -> bytes:
        """The 128-byte plaintext of the encrypted area."""
        return SE_HEADER_SECRETS_V1.pack(
            {
                "cck": self.cck.reveal(),
                "image_key": self.image_key.reveal(),
                "psw_mask": self.psw_mask,
                "psw_address": self.psw_address,
                "scf": self.scf,
                "optional_item_count": 0,
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> HeaderSecrets:
        """Inverse of :meth:`to_bytes`; optional items are refused."""
        v = SE_HEADER_SECRETS_V1.unpack(data)
        items = int(v["optional_item_count"])
        if items != 0:
            raise CryptoError(f"SE header carries {items} optional items; v1 allows none")
        return cls(
            SecretBytes(v["cck"]),  # type: ignore[arg-type]
            SecretBytes(v["image_key"]),  # type: ignore[arg-type]
            int(v["psw_mask"]),
            int(v["psw_address"]),
            int(v["scf"]),
        )

    def __repr__(self) -> str:
        return (f"HeaderSecrets(psw_mask={self.psw_mask:#x}, psw_address={self.psw_address:#x}, "
                f"scf={self.scf:#x}, <keys hidden>)")


@dataclass(frozen=True)
class ComponentDigests:
    """What the secured components contribute to the header."""

    pld: bytes
    ald: bytes
    tld: bytes
    page_count: int


def check_header_host_key_count(count: int) -> None:
    """:func:`~secexkit.crypto.keyslots.check_host_key_count` with the SE header's limit (95)."""
    check_host_key_count(count, MAX_SE_HEADER_KEY_SLOTS, SE_HEADER_WHAT)


def build_se_header(
    *,
    host_keys: Sequence[HostKey],
    keys: HeaderKeys,
    secrets: HeaderSecrets,
    digests: ComponentDigests,
    pcf: int,
) -> bytes:
    """Serialize and encrypt a v1 header: one key slot per host key, in order."""
    check_header_host_key_count(len(host_keys))
    slots = seal_key_slots(keys, host_keys)
    aad = pack_se_header_aad(
        iv=keys.iv,
        page_count=digests.page_count,
        pcf=pcf,
        customer_public_key=keys.customer_public_key,
        pld=digests.pld,
        ald=digests.ald,
        tld=digests.tld,
        key_slots=slots,
    )
    sealed = crypto.gcm_seal(keys.protection_key, keys.iv, aad, secrets.to_bytes())
    return aad + sealed


def expected_header_size(key_slot_count: int) -> int:
    """Size of the header :func:`build_se_header` writes for ``key_slot_count`` host keys."""
    return se_header_size(key_slot_count)


def decrypt_se_header(header: SeHeader, protection_key: SecretBytes) -> HeaderSecrets:
    """Authenticate the whole header and return its secret area."""
    if len(protection_key) != PROTECTION_KEY_SIZE:
        raise CryptoError(
            f"The SE header protection key must be {PROTECTION_KEY_SIZE} bytes, "
            f"not {len(protection_key)}"
        )
    try:
        plain = crypto.gcm_open(protection_key, header.iv, header.aad,
                                header.encrypted_area + header.tag)
    except CryptoError:
        raise CryptoError("Failed to authenticate and decrypt the Secure Execution header") from None
    if len(plain) != SE_HEADER_SECRETS_V1.size:
        raise CryptoError(f"SE header encrypted area has {len(plain)} bytes, "
                          f"expected {SE_HEADER_SECRETS_V1.size}")
    return HeaderSecrets.from_bytes(plain)


def unwrap_protection_key(header: SeHeader, host_private_key: ec.EllipticCurvePrivateKey) -> SecretBytes:
    """What the ultravisor does: find our key slot, derive the KEK, unwrap the key."""
    return open_key_slot(header.key_slots, header.customer_public_key, host_private_key,
                         "The SE header")


def header_contains(header: SeHeader, host_key_hash: bytes) -> bool:
    """Whether one of the header's key slots names this host-key hash."""
    return any(slot.host_key_hash == host_key_hash for slot in header.key_slots)


__all__ = [
    "CCK_SIZE",
    "IMAGE_KEY_SIZE",
    "KEY_SLOTS_OFFSET",
    "PROTECTION_KEY_SIZE",
    "TAG_SIZE",
    "ComponentDigests",
    "HeaderKeys",
    "HeaderSecrets",
    "build_se_header",
    "check_header_host_key_count",
    "decrypt_se_header",
    "expected_header_size",
    "header_contains",
    "parse_se_header",
    "unwrap_protection_key",
]
