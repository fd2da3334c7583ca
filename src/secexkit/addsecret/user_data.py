"""User data of add-secret requests: unsigned data, policy references, signatures.

The 512-byte user-data field (request offset 0x218) holds arbitrary tenant
data.  With a signing key (EC secp521r1, RSA-2048, RSA-3072) part of the field
is a signature over the whole request (without its tag, signature area zero),
so a guest can prove where a request came from.  Building the request with the
signature is done by :func:`secexkit.addsecret.request.build_request` (two passes); this
module provides the signer and the verifier.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import BinaryIO, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    PrivateKeyTypes,
    PublicKeyTypes,
)

from ..errors import InputError, VerificationError
from ..formats.request import (
    USER_DATA_OFFSET,
    USER_DATA_SIZE,
    UserDataType,
    check_request_frame,
)
from ..formats.sizes import TAG_SIZE
from ..formats.user_data import (
    EC_SIGNATURE_MAX,
    EC_USER_DATA,
    pack_ec_signature_area,
    pack_policy_reference,
    unpack_ec_signature,
)
from .request import UserData, UserDataSigner
from .retrievable import load_private_key

__all__ = [
    "EC_USER_DATA",
    "UNSUPPORTED_SIGNING_KEY",
    "SigningKey",
    "VerifiedUserData",
    "load_signing_key",
    "load_verification_certificate",
    "make_user_data",
    "policy_reference",
    "policy_reference_from_stream",
    "signer_for",
    "user_data_type_for_key",
    "verify_request_user_data",
]

log = logging.getLogger(__name__)

SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
#: any certificate key is accepted; only EC secp521r1 and RSA 2048/3072 match signed data
VerificationKey = PublicKeyTypes

UNSUPPORTED_SIGNING_KEY: Final = (
    "Unsupported user data signing key provided. "
    "Only EC(secp521r1) and RSA(2048 & 3072 bit) are supported"
)
NO_VERIFICATION_KEY: Final = "No user-key for verification provided and user-data is signed"
SIGNATURE_FAILED: Final = (
    "The user-defined request signature could not be verified with the provided certificate"
)

_PSS_SALT_SIGN: Final = 64  # the digest length; see docs/adr/0030
_HASH: Final = hashes.SHA512


def _pss_sign() -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(_HASH()), salt_length=_PSS_SALT_SIGN)


def _pss_verify() -> padding.PSS:
    # any salt length: OpenSSL 3.0 signs with the maximum, 3.1+ with 64
    return padding.PSS(mgf=padding.MGF1(_HASH()), salt_length=padding.PSS.AUTO)


# ---------------------------------------------------------------------------
# keys


def user_data_type_for_key(key: PrivateKeyTypes | PublicKeyTypes) -> UserDataType | None:
    """The signed user-data type a key produces, or ``None`` if it is not supported."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return UserDataType.SIGNED_EC_SECP521R1 if isinstance(key.curve, ec.SECP521R1) else None
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return {
            2048: UserDataType.SIGNED_RSA_2048,
            3072: UserDataType.SIGNED_RSA_3072,
        }.get(key.key_size)
    return None


def _describe_key(key: PublicKeyTypes) -> str:
    """How the reference names a verification key in mismatch errors."""
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC"
    # the reference says "Unknown"; the algorithm is more helpful
    return f"Unknown: {type(key).__name__.removesuffix('PublicKey')}"


def load_signing_key(data: bytes, source: str) -> SigningKey:
    """A user-data signing key from DER or PEM (PKCS#8 or traditional, unencrypted).

    Keys other than EC secp521r1, RSA-2048 and RSA-3072 are rejected with the
    reference's message.
    """
    key = load_private_key(data, source, "private key")
    if user_data_type_for_key(key) is None:
        raise InputError(f"{UNSUPPORTED_SIGNING_KEY} (`{source}` holds {_key_summary(key)})")
    assert isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
    return key


def _key_summary(key: PrivateKeyTypes | PublicKeyTypes) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return f"an EC {key.curve.name} key"
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return f"an RSA {key.key_size}-bit key"
    return f"an {type(key).__name__.removesuffix('PrivateKey').removesuffix('PublicKey')} key"


def load_verification_certificate(data: bytes, source: str) -> VerificationKey:
    """The public key of the first X.509 certificate (PEM or DER) in ``data``.

    No chain of trust is checked: the certificate only carries the tenant's key.
    """
    cert: x509.Certificate | None = None
    try:
        certs = x509.load_pem_x509_certificates(data)
        cert = certs[0] if certs else None
    except ValueError:
        try:
            cert = x509.load_der_x509_certificate(data)
        except ValueError:
            cert = None
    if cert is None:
        hint = " (it holds a private key)" if b"PRIVATE KEY-----" in data else ""
        raise InputError(f"{source}: File does not contain a X509 certificate{hint}")
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InputError(
            f"{source}: the certificate's public key cannot be read", str(exc)
        ) from None
    # Other key types are no error yet: a request without user data ignores the
    # certificate (as the reference); with user data they are a key-type mismatch.
    return key


# ---------------------------------------------------------------------------
# signing


def signer_for(key: SigningKey) -> UserDataSigner:
    """A signer for :class:`secexkit.addsecret.request.UserData`: message in, laid-out signature area out.

    EC: DER ECDSA-SHA512 signature zero-padded to 139 bytes, 5 reserved bytes,
    the u16 signature length and 110 reserved bytes (256 bytes in all).
    RSA: the RSASSA-PSS (SHA-512, MGF1-SHA512, salt 64) signature, key size bytes.
    """
    kind = user_data_type_for_key(key)
    if kind is None:
        raise InputError(UNSUPPORTED_SIGNING_KEY)

    if isinstance(key, ec.EllipticCurvePrivateKey):
        ec_key = key

        def sign_ec(message: bytes) -> bytes:
            signature = ec_key.sign(message, ec.ECDSA(_HASH()))
            return pack_ec_signature_area(signature)

        return sign_ec

    rsa_key = key

    def sign_rsa(message: bytes) -> bytes:
        return rsa_key.sign(message, _pss_sign(), _HASH())

    return sign_rsa


def make_user_data(data: bytes | None, sign_key: SigningKey | None = None) -> UserData:
    """User data as ``--user-data`` / ``--user-sign-key`` define it.

    Without a key the data is unsigned (type 1, up to 512 bytes, an empty
    file included); with a key the type follows the key and the size limit is
    256 (EC, RSA-2048) or 128 (RSA-3072) bytes.
    """
    payload = data or b""
    if sign_key is None:
        return UserData(UserDataType.UNSIGNED, payload)
    kind = user_data_type_for_key(sign_key)
    if kind is None:
        raise InputError(UNSUPPORTED_SIGNING_KEY)
    return UserData(kind, payload, signer_for(sign_key))


def _policy_user_data(digest: bytes, path: str | bytes) -> bytes:
    raw_path = path if isinstance(path, bytes) else path.encode("utf-8", "surrogateescape")
    return pack_policy_reference(digest, raw_path)


def policy_reference(policy: bytes, path: str | bytes) -> tuple[bytes, bytes]:
    """(SHA-256 of the policy file, 512-byte policy-reference user data).

    The user data is the hash followed by the path exactly as given (raw
    bytes, truncated to 480 bytes, zero padded).
    """
    digest = hashes.Hash(hashes.SHA256())
    digest.update(policy)
    value = digest.finalize()
    return value, _policy_user_data(value, path)


def policy_reference_from_stream(stream: BinaryIO, path: str | bytes,
                                 chunk: int = 1 << 20) -> tuple[bytes, bytes]:
    """:func:`policy_reference` for a policy file of any size, read in chunks."""
    digest = hashes.Hash(hashes.SHA256())
    while block := stream.read(chunk):
        digest.update(block)
    value = digest.finalize()
    return value, _policy_user_data(value, path)


# ---------------------------------------------------------------------------
# verification


@dataclass(frozen=True)
class VerifiedUserData:
    """Result of :func:`verify_request_user_data`."""

    kind: UserDataType
    #: the user data (with zero padding): 512 bytes unsigned, 256 or 128 signed;
    #: ``None`` when the request carries no user data
    data: bytes | None


def verify_request_user_data(
    request: bytes, key: VerificationKey | None = None
) -> VerifiedUserData:
    """The checks of ``pvsecret verify``: structure, then the user-data signature.

    The request is not decrypted.  Raises :class:`FormatError` for a request
    that is not one and :class:`VerificationError` for a missing or mismatching
    key and a bad signature.
    """
    kind = check_request_frame(request)
    length = len(request)
    body = bytearray(request[: length - TAG_SIZE])
    field = body[USER_DATA_OFFSET : USER_DATA_OFFSET + USER_DATA_SIZE]
    if kind == UserDataType.NULL:
        return VerifiedUserData(kind, None)
    if kind == UserDataType.UNSIGNED:
        if key is not None:
            raise VerificationError(_mismatch(key, kind))
        return VerifiedUserData(kind, bytes(field))
    if key is None:
        raise VerificationError(NO_VERIFICATION_KEY, "pass the signer's certificate (--user-cert)")
    if user_data_type_for_key(key) != kind:
        raise VerificationError(_mismatch(key, kind))

    limit = kind.max_data_size
    data = bytes(field[:limit])
    if kind == UserDataType.SIGNED_EC_SECP521R1:
        signature, size = unpack_ec_signature(bytes(field))
        # Stricter than the reference (docs/adr/0032): the signer writes zeros in
        # the padding and reserved bytes, which the signature does not cover.
        area = bytes(field[limit:])
        if size > EC_SIGNATURE_MAX or area != pack_ec_signature_area(signature):
            raise VerificationError(
                SIGNATURE_FAILED,
                "the ECDSA signature area has a bad length field or non-zero padding",
            )
    else:
        signature = bytes(field[limit:])
    body[USER_DATA_OFFSET + limit : USER_DATA_OFFSET + USER_DATA_SIZE] = bytes(
        USER_DATA_SIZE - limit
    )
    message = bytes(body)
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, ec.ECDSA(_HASH()))
        else:
            assert isinstance(key, rsa.RSAPublicKey)  # the type matched the user data
            key.verify(signature, message, _pss_verify(), _HASH())
    except InvalidSignature:
        raise VerificationError(SIGNATURE_FAILED) from None
    log.debug("user-data signature verified (%s)", kind.display)
    return VerifiedUserData(kind, data)


def _mismatch(key: PublicKeyTypes, kind: UserDataType) -> str:
    return (
        f"Provided user-data key type ({_describe_key(key)}) does not match "
        f"with the user-data ({kind.display})"
    )
