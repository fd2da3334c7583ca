"""Building add-secret requests: domain objects in, request bytes out.

The three random parts (GCM IV, customer EC key, protection key) come from
:class:`RequestKeys`; production code uses :meth:`RequestKeys.generate`, tests
inject fixed values to reproduce the reference vectors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from cryptography.hazmat.primitives.asymmetric import ec

from .. import crypto
from ..crypto.keyslots import EnvelopeKeys, check_host_key_count, open_key_slot, seal_key_slots
from ..errors import InputError
from ..formats.request import (
    ADD_SECRET_FLAGS,
    ASRCB_BODY,
    ASRCB_MAGIC,
    ASRCB_VERSION_1,
    EXTENSION_SECRET_SIZE,
    FLAG_DISABLE_DUMP,
    SECRET_HEADER,
    USER_DATA_OFFSET,
    USER_DATA_SIZE,
    ParsedRequest,
    UserDataType,
    parse_request,
    secret_header_size,
)
from ..formats.se_header import BootHdrTags
from ..formats.sizes import CCK_SIZE, CUID_SIZE, SECRET_ID_SIZE, TAG_SIZE
from ..hostkeys import HostKey
from ..secret import SecretBytes
from .secrets import GuestSecret

__all__ = [
    "ADD_SECRET_FLAGS",
    "FLAG_DISABLE_DUMP",
    "NO_USER_DATA",
    "AddSecretRequest",
    "OpenedRequest",
    "RequestFlags",
    "RequestKeys",
    "UserData",
    "UserDataSigner",
    "build_request",
    "check_host_key_count",
    "decode_request_flags",
    "extension_secret_from_cck",
    "open_request",
]


# The records below are plain slotted classes rather than dataclasses: they are on
# the path of every `pvsecret create`, where importing and generating dataclasses
# costs more than the request itself (ADR 0002).


#: the random material of one request (IV, customer key, protection key)
RequestKeys = EnvelopeKeys


#: A signer gets the request without its tag (signature area zero) and returns
#: the bytes to place in the signature area (already laid out).
UserDataSigner = Callable[[bytes], bytes]


class UserData:
    """The 512-byte user-data field and, for signed types, how to sign it."""

    __slots__ = ("data", "kind", "signer")

    def __init__(self, kind: UserDataType, data: bytes = b"",
                 signer: UserDataSigner | None = None) -> None:
        limit = kind.max_data_size
        if len(data) > limit:
            raise InputError(
                f"Invalid {kind.display} user-data for signing provided. "
                f"Max {limit} bytes allowed"
            )
        signed = kind not in (UserDataType.NULL, UserDataType.UNSIGNED)
        if signed != (signer is not None):
            raise ValueError("signed user data needs a signer, unsigned data must not have one")
        self.kind = kind
        self.data = data
        self.signer = signer

    def __repr__(self) -> str:
        return f"UserData({self.kind.name}, {len(self.data)} bytes)"

    @property
    def field_bytes(self) -> bytes:
        """The user-data field with the signature area zero."""
        return self.data.ljust(USER_DATA_SIZE, b"\0")

    @property
    def signature_area(self) -> slice:
        """Where the signature goes, relative to the user-data field."""
        return slice(self.kind.max_data_size, USER_DATA_SIZE)


NO_USER_DATA = UserData(UserDataType.NULL)


class RequestFlags(NamedTuple):
    """The 64-bit flags of an add-secret request, decoded.

    ``disable_dump``: once the request is added, the ultravisor no longer provides the
    dump keys of the guest (``--flags disable-dump``); ``unknown``: any other bits set,
    as an integer (0 for requests ``pvsecret create`` writes).
    """

    disable_dump: bool = False
    unknown: int = 0

    @classmethod
    def from_int(cls, value: int) -> RequestFlags:
        """Decode the flags field of a request (e.g. ``parse_request(data).flags``)."""
        if not 0 <= value < 1 << 64:
            raise ValueError("add-secret flags are a 64-bit value")
        return cls(disable_dump=bool(value & FLAG_DISABLE_DUMP),
                   unknown=value & ~FLAG_DISABLE_DUMP)

    def to_int(self) -> int:
        """The flags field as written into a request."""
        return (FLAG_DISABLE_DUMP if self.disable_dump else 0) | self.unknown

    @property
    def names(self) -> tuple[str, ...]:
        """The ``--flags`` names of the set bits that have one (e.g. ``("disable-dump",)``)."""
        return ("disable-dump",) if self.disable_dump else ()


def decode_request_flags(value: int) -> RequestFlags:
    """The flags of a parsed request, decoded (see :class:`RequestFlags`)."""
    return RequestFlags.from_int(value)


class AddSecretRequest:
    """Everything that defines one add-secret request, except the random keys."""

    __slots__ = ("boot_tags", "cuid", "extension_secret", "flags", "secret", "user_data")

    def __init__(self, secret: GuestSecret, boot_tags: BootHdrTags,  # noqa: PLR0917
                 flags: int | RequestFlags = 0,
                 cuid: bytes | None = None, extension_secret: SecretBytes | None = None,
                 user_data: UserData = NO_USER_DATA) -> None:
        if isinstance(flags, RequestFlags):
            flags = flags.to_int()
        if not 0 <= flags < 1 << 64:
            raise ValueError("add-secret flags are a 64-bit value")
        if cuid is not None and len(cuid) != CUID_SIZE:
            raise InputError(f"The CUID must be {CUID_SIZE} bytes, not {len(cuid)}")
        if extension_secret is not None and len(extension_secret) != EXTENSION_SECRET_SIZE:
            raise InputError(f"extension secret must be exactly {EXTENSION_SECRET_SIZE} bytes long")
        self.secret = secret
        self.boot_tags = boot_tags
        self.flags = flags
        self.cuid = cuid
        self.extension_secret = extension_secret
        self.user_data = user_data

    def __repr__(self) -> str:
        return (f"AddSecretRequest({self.secret.type_name}, flags={self.flags:#x}, "
                f"cuid={'set' if self.cuid else 'none'}, user_data={self.user_data!r})")

    def build(self, host_keys: Sequence[HostKey], keys: RequestKeys | None = None) -> bytes:
        """Encrypt the request for ``host_keys`` (one key slot each, in order)."""
        return build_request(self, host_keys, keys)


def extension_secret_from_cck(cck: SecretBytes, boot_tags: BootHdrTags) -> SecretBytes:
    """The CCK-derived extension secret bound to one SE header (its tag is the salt)."""
    if len(cck) != CCK_SIZE:
        raise InputError(f"CCK must be exactly {CCK_SIZE} bytes long")
    return crypto.derive_extension_secret(cck, boot_tags.tag)


def _secret_header(secret: GuestSecret) -> bytes:
    size = secret_header_size(secret.secret_type)
    values: dict[str, int | bytes] = {
        "secret_type": secret.secret_type,
        "secret_length": len(secret.payload),
        "secret_id": secret.secret_id or bytes(SECRET_ID_SIZE),
    }
    return SECRET_HEADER.pack(values)[:size]


def build_request(
    request: AddSecretRequest, host_keys: Sequence[HostKey], keys: RequestKeys | None = None
) -> bytes:
    """Assemble and encrypt an add-secret request (reference layout, byte for byte)."""
    check_host_key_count(len(host_keys))
    keys = keys or RequestKeys.generate()
    confidential = request.secret.payload.reveal() + (
        request.extension_secret.reveal()
        if request.extension_secret is not None
        else bytes(EXTENSION_SECRET_SIZE)
    )
    tail = b"".join(slot.to_bytes() for slot in seal_key_slots(keys, host_keys))
    tail += _secret_header(request.secret)
    aad_size = ASRCB_BODY.size + len(tail)
    user_data = request.user_data
    tags = request.boot_tags
    body = ASRCB_BODY.pack(
        {
            "magic": ASRCB_MAGIC,
            "user_data_type": user_data.kind,
            "version": ASRCB_VERSION_1,
            "length": aad_size + len(confidential) + TAG_SIZE,
            "iv": keys.iv,
            "key_slot_count": len(host_keys),
            "encrypted_size": len(confidential),
            "flags": request.flags,
            "pld": tags.pld,
            "ald": tags.ald,
            "tld": tags.tld,
            "header_tag": tags.tag,
            "cuid": request.cuid or bytes(CUID_SIZE),
            "user_data": user_data.field_bytes,
            "customer_public_key": keys.customer_public_key,
        }
    )
    aad = body + tail
    sealed = crypto.gcm_seal(keys.protection_key, keys.iv, aad, confidential)
    if user_data.signer is None:
        return aad + sealed
    # Signed user data: sign AAD || ciphertext with the signature area zero, place
    # the signature, then seal again.  The ciphertext does not depend on the AAD,
    # so only the tag changes.
    ciphertext = sealed[:-TAG_SIZE]
    signature_field = user_data.signer(aad + ciphertext)
    area = user_data.signature_area
    start = USER_DATA_OFFSET
    if len(signature_field) != area.stop - area.start:
        raise ValueError("the signer returned a signature area of the wrong size")
    signed_aad = aad[: start + area.start] + signature_field + aad[start + area.stop :]
    return signed_aad + crypto.gcm_seal(keys.protection_key, keys.iv, signed_aad, confidential)


class OpenedRequest(NamedTuple):
    """A request decrypted with a host private key, as the ultravisor would see it."""

    parsed: ParsedRequest
    payload: SecretBytes
    extension_secret: SecretBytes


def open_request(data: bytes, host_private_key: ec.EllipticCurvePrivateKey) -> OpenedRequest:
    """Decrypt a request with the private key of one of its host keys (tests, debugging).

    Finds the key slot by the host key hash, unwraps the protection key and
    authenticates the whole request.
    """
    parsed = parse_request(data)
    protection_key = open_key_slot(parsed.key_slots, parsed.customer_public_key,
                                   host_private_key, "The request")
    plain = crypto.gcm_open(protection_key, parsed.iv, parsed.aad, parsed.ciphertext + parsed.tag)
    split = len(plain) - EXTENSION_SECRET_SIZE
    return OpenedRequest(parsed, SecretBytes(plain[:split]), SecretBytes(plain[split:]))
