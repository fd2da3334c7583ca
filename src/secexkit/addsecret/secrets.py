"""Secrets carried by add-secret requests: meta, association, update-CCK (and retrievable).

A :class:`GuestSecret` is what goes into the secret header (type, length, ID)
and the encrypted payload.  Constructors validate sizes with the reference's
rules and messages.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from ..crypto import sha256
from ..errors import InputError
from ..formats.request import ASSOCIATION_SECRET_SIZE, SecretType
from ..formats.sizes import CCK_SIZE, SECRET_ID_SIZE
from ..secret import SecretBytes


def secret_id_from_name(name: str, *, use_name: bool = False) -> bytes:
    """ID of a named secret: SHA-256 of the UTF-8 name, or (``use_name``) the name itself.

    With ``use_name`` the first at most 31 bytes are kept and zero-padded to 32,
    so the last byte is always zero (the reference's rule; it may cut a UTF-8
    sequence).
    """
    encoded = name.encode("utf-8", "surrogateescape")
    if use_name:
        return encoded[: SECRET_ID_SIZE - 1].ljust(SECRET_ID_SIZE, b"\0")
    return sha256(encoded)


class GuestSecret(NamedTuple):
    """A secret ready to be placed in a request."""

    secret_type: int
    payload: SecretBytes
    secret_id: bytes | None = None
    name: str | None = None

    @property
    def type_name(self) -> str:
        """The reference's display name of the secret type."""
        # imported here: the names are not needed on pvsecret create's start-up path (ADR 0006)
        from ..formats.names import secret_type_name

        return secret_type_name(self.secret_type)

    @property
    def is_named(self) -> bool:
        """Association and retrievable secrets have a name, an ID and a NAME.yaml."""
        return self.name is not None


def meta_secret() -> GuestSecret:
    """The meta (null) secret: no payload, only the request flags matter."""
    return GuestSecret(SecretType.META, SecretBytes(b""))


def exact_size(data: bytes | SecretBytes, size: int, what: str) -> SecretBytes:
    """Check that ``data`` is exactly ``size`` bytes (reference message)."""
    value = data if isinstance(data, SecretBytes) else SecretBytes(data)
    if len(value) != size:
        raise InputError(f"{what} must be exactly {size} bytes long", f"it has {len(value)} bytes")
    return value


def association_secret(
    name: str, secret: bytes | SecretBytes | None = None, *, use_name: bool = False
) -> GuestSecret:
    """An association secret; a random 32-byte secret unless one is given."""
    value = (
        SecretBytes(os.urandom(ASSOCIATION_SECRET_SIZE))
        if secret is None
        else exact_size(secret, ASSOCIATION_SECRET_SIZE, "Association secret")
    )
    return GuestSecret(
        SecretType.ASSOCIATION, value, secret_id_from_name(name, use_name=use_name), name
    )


def update_cck_secret(cck: bytes | SecretBytes) -> GuestSecret:
    """A request that replaces the customer communication key (the ID is zero)."""
    return GuestSecret(
        SecretType.UPDATE_CCK, exact_size(cck, CCK_SIZE, "CCK"), bytes(SECRET_ID_SIZE)
    )
