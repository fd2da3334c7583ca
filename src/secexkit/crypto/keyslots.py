"""Key slots: how a protection key is handed to each IBM Z host key.

Add-secret requests and SE headers share the construction: a fresh customer EC
key, one key slot per host key wrapping the protection key under
KEK = SHA-256(ECDH(customer, host) || 00000001), and AES-256-GCM with the
protection key and a random IV over the rest.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric import ec

from .. import crypto
from ..errors import CryptoError, InputError
from ..formats.keyslot import KeySlot
from ..formats.request import MAX_HOST_KEYS
from ..formats.sizes import IV_SIZE, PROTECTION_KEY_SIZE
from ..secret import SecretBytes

__all__ = [
    "EnvelopeKeys",
    "SlotRecipient",
    "check_host_key_count",
    "open_key_slot",
    "seal_key_slots",
]


class SlotRecipient(Protocol):
    """What a key slot needs of a host key (:class:`secexkit.hostkeys.HostKey` is one)."""

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The host's EC secp521r1 public key."""

    @property
    def hash(self) -> bytes:
        """The host-key hash (PHKH) that names the slot."""


class EnvelopeKeys:
    """The random material of one request or header.  Never reuse it.

    Production code uses :meth:`generate`; tests pass fixed values to reproduce
    the reference vectors.
    """

    __slots__ = ("customer_key", "iv", "protection_key")

    def __init__(self, iv: bytes, customer_key: ec.EllipticCurvePrivateKey,
                 protection_key: SecretBytes) -> None:
        if len(iv) != IV_SIZE:
            raise ValueError(f"the IV must be {IV_SIZE} bytes")
        if len(protection_key) != PROTECTION_KEY_SIZE:
            raise ValueError(f"the protection key must be {PROTECTION_KEY_SIZE} bytes")
        if not isinstance(customer_key.curve, ec.SECP521R1):
            raise ValueError("the customer key must be on secp521r1")
        self.iv = iv
        self.customer_key = customer_key
        self.protection_key = protection_key

    @classmethod
    def generate(cls, protection_key: SecretBytes | None = None) -> EnvelopeKeys:
        """Fresh IV and customer key; a fresh protection key unless one is given."""
        return cls(os.urandom(IV_SIZE), crypto.generate_customer_key(),
                   protection_key or SecretBytes(os.urandom(PROTECTION_KEY_SIZE)))

    @property
    def customer_public_key(self) -> bytes:
        """The 160-byte coordinate encoding stored beside the key slots."""
        return crypto.encode_public_key(self.customer_key.public_key())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<random, single use>)"


def check_host_key_count(count: int, maximum: int = MAX_HOST_KEYS,
                         what: str = "an add-secret request") -> None:
    """Refuse no host key, or more than ``maximum`` (one key slot each) for ``what``.

    The one check for requests (``maximum`` 255) and SE headers (95).  An
    :class:`InputError` (exit code 1), as the reference reports both.
    """
    if count == 0:
        raise InputError("No host-key provided", f"{what} needs at least one")
    if count > maximum:
        raise InputError(
            f"Too many host-keys provided: {count} > {maximum}, the most {what} can carry"
        )


def seal_key_slots(keys: EnvelopeKeys, host_keys: Sequence[SlotRecipient]) -> list[KeySlot]:
    """One key slot per host key, in order, each wrapping the protection key."""
    slots = []
    for host_key in host_keys:
        kek = crypto.key_slot_kek(keys.customer_key, host_key.public_key)
        wrapped, tag = crypto.wrap_key(kek, keys.protection_key)
        slots.append(KeySlot(host_key.hash, wrapped, tag))
    return slots


def open_key_slot(key_slots: Sequence[KeySlot], customer_public_key: bytes,
                  host_private_key: ec.EllipticCurvePrivateKey, what: str) -> SecretBytes:
    """What the ultravisor does: find the host's slot, derive the KEK, unwrap the key."""
    host_hash = crypto.host_key_hash(host_private_key.public_key())
    slot = next((s for s in key_slots if s.host_key_hash == host_hash), None)
    if slot is None:
        raise CryptoError(f"{what} has no key slot for this host key")
    kek = crypto.key_slot_kek(host_private_key, crypto.decode_public_key(customer_public_key))
    return crypto.unwrap_key(kek, slot.wrapped_key, slot.tag)
