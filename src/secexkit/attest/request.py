"""Attestation requests (ARCB): building for 1..255 host keys, opening with the ARPK or a host key.

An ARCB carries a fresh 64-byte measurement key and a 16-byte nonce, encrypted
with AES-256-GCM under the attestation request protection key (ARPK); the ARPK
is wrapped for each host key exactly like an add-secret request's protection
key (:mod:`secexkit.crypto.keyslots`).  The requester keeps the ARPK; with it,
:func:`open_arcb` recovers the measurement key and nonce to verify the
ultravisor's answer.  :func:`open_arcb_with_host_key` is what the ultravisor
does with its private host key (tests, a software ultravisor).

All randomness comes from :class:`ArcbKeys`; production code uses
:meth:`ArcbKeys.generate`, tests inject fixed values to reproduce the
reference vector ``exp/arcb.bin`` byte for byte.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Final, NamedTuple

from cryptography.hazmat.primitives.asymmetric import ec

from .. import crypto
from ..crypto.keyslots import EnvelopeKeys, SlotRecipient, check_host_key_count, seal_key_slots
from ..errors import CryptoError, FormatError, InputError, UsageError
from ..formats.attestation import (
    ARCB_HEAD,
    ARCB_MAGIC,
    ARCB_VERSION_1,
    FLAG_ATTESTATION_PHKH,
    FLAG_FIRMWARE_STATE,
    FLAG_IMAGE_PHKH,
    FLAG_NONCE,
    FLAG_SECRET_STORE_HASH,
    MAI_HMAC_SHA512,
    MEASUREMENT_KEY_SIZE,
    MEASUREMENT_SIZE,
    NONCE_SIZE,
    ArcbKeySlot,
    ExchangeRequest,
    ParsedArcb,
    expected_additional_size,
    parse_arcb,
)
from ..formats.sizes import TAG_SIZE
from ..secret import SecretBytes

__all__ = [
    "ADD_DATA_FLAGS",
    "ARPK_SIZE",
    "ArcbKeys",
    "AttestationRequest",
    "OpenedArcb",
    "add_data_flags",
    "build_arcb",
    "create_attestation_request",
    "open_arcb",
    "open_arcb_with_host_key",
    "read_arpk",
]

ARPK_SIZE: Final = 32

#: ``--add-data`` values and the flag each sets (the nonce flag is always set).
ADD_DATA_FLAGS: Final[dict[str, int]] = {
    "phkh-img": FLAG_IMAGE_PHKH,
    "phkh-att": FLAG_ATTESTATION_PHKH,
    "secret-store-hash": FLAG_SECRET_STORE_HASH,
    "firmware-state": FLAG_FIRMWARE_STATE,
}

DECRYPTION_FAILED: Final = "Decryption failed. Probably due to a GCM tag mismatch."


def add_data_flags(values: Iterable[str]) -> int:
    """Attestation flags for ``--add-data`` values (comma lists allowed, duplicates harmless).

    The nonce flag is always included.  An unknown value is a :class:`UsageError`
    in clap's words.
    """
    flags = FLAG_NONCE
    for value in values:
        for name in value.split(","):
            if name not in ADD_DATA_FLAGS:
                raise UsageError(
                    f"invalid value '{name}' for '--add-data <FLAGS>' "
                    f"[possible values: {', '.join(ADD_DATA_FLAGS)}]"
                )
            flags |= ADD_DATA_FLAGS[name]
    return flags


class ArcbKeys:
    """The random material of one ARCB.  Never reuse it.

    ``envelope`` holds the GCM IV, the customer EC key and the ARPK (its
    protection key); ``measurement_key`` and ``nonce`` are the encrypted payload.
    """

    __slots__ = ("envelope", "measurement_key", "nonce")

    def __init__(self, envelope: EnvelopeKeys, measurement_key: SecretBytes, nonce: bytes) -> None:
        if len(measurement_key) != MEASUREMENT_KEY_SIZE:
            raise ValueError("the measurement key must be 64 bytes")
        if len(nonce) != NONCE_SIZE:
            raise ValueError("the nonce must be 16 bytes")
        self.envelope = envelope
        self.measurement_key = measurement_key
        self.nonce = bytes(nonce)

    @classmethod
    def generate(cls) -> ArcbKeys:
        """Fresh IV, customer key, ARPK, measurement key and nonce from the OS."""
        return cls(
            EnvelopeKeys.generate(SecretBytes(os.urandom(ARPK_SIZE))),
            SecretBytes(os.urandom(MEASUREMENT_KEY_SIZE)),
            os.urandom(NONCE_SIZE),
        )

    @property
    def arpk(self) -> SecretBytes:
        """The attestation request protection key (AES-256)."""
        return self.envelope.protection_key

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<random, single use>)"


def build_arcb(host_keys: Sequence[SlotRecipient], flags: int, keys: ArcbKeys) -> bytes:
    """Assemble and encrypt a version-1 ARCB (reference layout, byte for byte).

    ``flags`` is the 64-bit attestation flag word; the nonce flag is added (the
    request always carries a nonce).  One key slot per host key, in order.
    """
    check_host_key_count(len(host_keys), what="an attestation request")
    if not 0 <= flags < 1 << 64:
        raise ValueError("attestation flags are a 64-bit value")
    flags |= FLAG_NONCE
    confidential = keys.measurement_key.reveal() + keys.nonce
    slots = b"".join(slot.to_bytes() for slot in seal_key_slots(keys.envelope, host_keys))
    aad_size = ARCB_HEAD.size + len(slots)
    head = ARCB_HEAD.pack(
        {
            "magic": ARCB_MAGIC,
            "version": ARCB_VERSION_1,
            "length": aad_size + len(confidential) + TAG_SIZE,
            "iv": keys.envelope.iv,
            "key_slot_count": len(host_keys),
            "encrypted_size": len(confidential),
            "flags": flags,
            "mai": MAI_HMAC_SHA512,
            "customer_public_key": keys.envelope.customer_public_key,
        }
    )
    aad = head + slots
    return aad + crypto.gcm_seal(keys.arpk, keys.envelope.iv, aad, confidential)


class AttestationRequest:
    """A freshly built attestation request: the ARCB and the ARPK that opens it.

    ``exchange_bytes()`` is the content of ``pvattest create -o``; ``arpk`` goes,
    revealed, into the 0600 ``--arpk`` file.
    """

    __slots__ = ("arcb", "arpk", "flags")

    def __init__(self, arcb: bytes, arpk: SecretBytes, flags: int) -> None:
        self.arcb = arcb
        self.arpk = arpk
        self.flags = flags

    @property
    def expected_additional_size(self) -> int:
        """Bytes of additional data the ultravisor will return."""
        return expected_additional_size(self.flags)

    def exchange(self) -> ExchangeRequest:
        """The request as an exchange-file record."""
        return ExchangeRequest(self.arcb, MEASUREMENT_SIZE, self.expected_additional_size)

    def exchange_bytes(self) -> bytes:
        """The request exchange file (``pvattest create --output``)."""
        return self.exchange().to_bytes()

    def __repr__(self) -> str:
        return (f"AttestationRequest({len(self.arcb)} bytes, flags={self.flags:#018x}, "
                f"arpk={self.arpk!r})")


def create_attestation_request(
    host_keys: Sequence[SlotRecipient], flags: int = FLAG_NONCE, keys: ArcbKeys | None = None
) -> AttestationRequest:
    """Build an ARCB for ``host_keys`` (already verified by the caller) with fresh keys.

    ``flags`` from :func:`add_data_flags`; ``keys`` only for reproducible tests.
    """
    keys = keys or ArcbKeys.generate()
    arcb = build_arcb(host_keys, flags, keys)
    return AttestationRequest(arcb, keys.arpk, flags | FLAG_NONCE)


class OpenedArcb(NamedTuple):
    """A decrypted ARCB: its plaintext structure, measurement key and nonce."""

    parsed: ParsedArcb
    measurement_key: SecretBytes
    #: ``None`` when the encrypted part has no nonce (64 bytes instead of 80)
    nonce: bytes | None

    @property
    def flags(self) -> int:
        """The authenticated attestation flags."""
        return self.parsed.flags

    def __repr__(self) -> str:
        # the nonce travels encrypted: keep it out of reprs like the key
        nonce = "none" if self.nonce is None else f"<{len(self.nonce)} bytes>"
        return (f"OpenedArcb(flags={self.flags:#018x}, measurement_key={self.measurement_key!r}, "
                f"nonce={nonce})")


def _open(parsed: ParsedArcb, arpk: SecretBytes) -> OpenedArcb:
    try:
        plain = crypto.gcm_open(arpk, parsed.iv, parsed.aad, parsed.ciphertext + parsed.tag)
    except CryptoError:
        raise CryptoError(DECRYPTION_FAILED) from None
    key = SecretBytes(plain[:MEASUREMENT_KEY_SIZE])
    # the reference takes a nonce only when exactly key + nonce were decrypted
    nonce = plain[MEASUREMENT_KEY_SIZE:] if len(plain) == MEASUREMENT_KEY_SIZE + NONCE_SIZE else None
    return OpenedArcb(parsed, key, nonce)


def read_arpk(data: bytes) -> SecretBytes:
    """An ARPK file's content: exactly 32 bytes."""
    if len(data) != ARPK_SIZE:
        raise InputError("Attestation request protection key must be exactly 32 bytes long")
    return SecretBytes(data)


def open_arcb(arcb: bytes, arpk: SecretBytes) -> OpenedArcb:
    """Decrypt an ARCB with its ARPK (what ``pvattest verify`` does).

    :class:`FormatError` for a malformed structure (reference messages and
    order), :class:`CryptoError` ``Decryption failed…`` when the ARPK does not
    fit or any authenticated byte changed.
    """
    if len(arpk) != ARPK_SIZE:
        raise InputError("Attestation request protection key must be exactly 32 bytes long")
    return _open(parse_arcb(arcb), arpk)


def open_arcb_with_host_key(
    arcb: bytes, host_private_key: ec.EllipticCurvePrivateKey
) -> tuple[OpenedArcb, SecretBytes]:
    """What the ultravisor does: find this host's key slot, unwrap the ARPK, decrypt.

    Returns the opened ARCB and the ARPK.  Stricter than :func:`open_arcb`: the
    key slots must fill the authenticated part exactly.
    """
    parsed = parse_arcb(arcb)
    slots: tuple[ArcbKeySlot, ...] = parsed.key_slots()
    host_hash = crypto.host_key_hash(host_private_key.public_key())
    slot = next((s for s in slots if s.host_key_hash == host_hash), None)
    if slot is None:
        raise CryptoError("The attestation request has no key slot for this host key")
    try:
        customer_key = crypto.decode_public_key(parsed.customer_public_key)
    except CryptoError:
        raise FormatError("The attestation request carries an invalid customer public key") from None
    kek = crypto.key_slot_kek(host_private_key, customer_key)
    arpk = crypto.unwrap_key(kek, slot.wrapped_key, slot.tag)
    return _open(parsed, arpk), arpk
