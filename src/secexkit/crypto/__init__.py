"""Thin helpers over pyca/cryptography for the Secure Execution formats.

Nothing here knows about requests or images: EC coordinate encoding, the
ECDH-derived key-slot wrapping, AES-256-GCM and the HKDF extension secret.
"""

from __future__ import annotations

from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import CryptoError
from ..formats.request import EXTENSION_SECRET_SIZE
from ..formats.sizes import COORDINATE_SIZE, IV_SIZE, PUBLIC_KEY_SIZE, TAG_SIZE
from ..secret import SecretBytes

CURVE: Final = ec.SECP521R1()
_ZERO_IV: Final = bytes(IV_SIZE)
EXTENSION_SECRET_INFO: Final = b"IBM Z Ultravisor Add-Secret"


def encode_public_key(key: ec.EllipticCurvePublicKey) -> bytes:
    """The 160-byte X||Y encoding of a P-521 public key (each coordinate 80 bytes)."""
    numbers = key.public_numbers()
    return numbers.x.to_bytes(COORDINATE_SIZE, "big") + numbers.y.to_bytes(COORDINATE_SIZE, "big")


def decode_public_key(data: bytes) -> ec.EllipticCurvePublicKey:
    """Inverse of :func:`encode_public_key`; the point must lie on P-521."""
    if len(data) != PUBLIC_KEY_SIZE:
        raise CryptoError(f"EC coordinates must be {PUBLIC_KEY_SIZE} bytes, not {len(data)}")
    x = int.from_bytes(data[:COORDINATE_SIZE], "big")
    y = int.from_bytes(data[COORDINATE_SIZE:], "big")
    try:
        return ec.EllipticCurvePublicNumbers(x, y, CURVE).public_key()
    except ValueError as exc:
        raise CryptoError("EC coordinates are not a point on secp521r1") from exc


def sha256(data: bytes) -> bytes:
    """SHA-256 through cryptography (already loaded; ``hashlib`` would cost an import)."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    return digest.finalize()


def host_key_hash(key: ec.EllipticCurvePublicKey) -> bytes:
    """PHKH: SHA-256 over the 160-byte coordinate encoding."""
    return sha256(encode_public_key(key))


def key_slot_kek(private_key: ec.EllipticCurvePrivateKey, peer: ec.EllipticCurvePublicKey) -> bytes:
    """KEK = SHA-256(Z || 00000001), Z = 66-byte ECDH shared X coordinate."""
    shared = private_key.exchange(ec.ECDH(), peer)
    return sha256(shared + b"\x00\x00\x00\x01")


def wrap_key(kek: bytes, key: SecretBytes) -> tuple[bytes, bytes]:
    """AES-256-GCM with a zero IV (the KEK is single use); returns (ciphertext, tag)."""
    out = AESGCM(kek).encrypt(_ZERO_IV, key.reveal(), None)
    return out[:-TAG_SIZE], out[-TAG_SIZE:]


def unwrap_key(kek: bytes, wrapped: bytes, tag: bytes) -> SecretBytes:
    """Inverse of :func:`wrap_key`; a wrong KEK or modified slot is a :class:`CryptoError`."""
    try:
        return SecretBytes(AESGCM(kek).decrypt(_ZERO_IV, wrapped + tag, None))
    except InvalidTag:
        raise CryptoError("The key slot could not be unwrapped with this key") from None


def gcm_seal(key: SecretBytes, iv: bytes, aad: bytes, plaintext: bytes) -> bytes:
    """AES-256-GCM; returns ciphertext || 16-byte tag."""
    return AESGCM(key.reveal()).encrypt(iv, plaintext, aad)


def gcm_open(key: SecretBytes, iv: bytes, aad: bytes, ciphertext_and_tag: bytes) -> bytes:
    """Inverse of :func:`gcm_seal`; a failed authentication is a :class:`CryptoError`."""
    try:
        return AESGCM(key.reveal()).decrypt(iv, ciphertext_and_tag, aad)
    except InvalidTag:
        raise CryptoError("Authentication failed: wrong key or modified data") from None


def derive_extension_secret(cck: SecretBytes, header_tag: bytes) -> SecretBytes:
    """HKDF-SHA512(IKM = CCK, salt = SE-header tag, info = ASCII label, L = 32)."""
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    hkdf = HKDF(algorithm=hashes.SHA512(), length=EXTENSION_SECRET_SIZE, salt=header_tag,
                info=EXTENSION_SECRET_INFO)
    return SecretBytes(hkdf.derive(cck.reveal()))


def generate_customer_key() -> ec.EllipticCurvePrivateKey:
    """A fresh customer key on secp521r1 (one per request or header)."""
    return ec.generate_private_key(CURVE)
