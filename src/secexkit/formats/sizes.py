"""Sizes that several wire structures share, each written down once.

A size that belongs to one structure only is a field of that structure's
:class:`~secexkit.formats._layout.Layout` (read it as ``LAYOUT["field"].size``);
the constants here are the ones that requests, SE headers, images and the
ultravisor device have in common.
"""

from __future__ import annotations

from typing import Final

#: s390x page: image components, header probes, ultravisor list buffers
PAGE_SIZE: Final = 0x1000
#: AES-256-GCM IV of requests and SE headers
IV_SIZE: Final = 12
#: AES-GCM tag (requests, SE headers, key slots)
TAG_SIZE: Final = 16
#: the AES-256 key that each key slot wraps (request or SE header protection key)
PROTECTION_KEY_SIZE: Final = 32
#: customer communication key (SE header, update-CCK secret, extension secret IKM)
CCK_SIZE: Final = 32
#: configuration unique ID of a guest
CUID_SIZE: Final = 16
#: the ID of a named secret (secret header, secret list)
SECRET_ID_SIZE: Final = 32
#: one affine coordinate of a P-521 point, big-endian
COORDINATE_SIZE: Final = 80
#: a P-521 public key as X || Y (customer public key of requests and SE headers)
PUBLIC_KEY_SIZE: Final = 2 * COORDINATE_SIZE
#: SHA-256 of a host key's coordinates (PHKH)
HOST_KEY_HASH_SIZE: Final = 32
#: SHA-512 digests of the secured components (PLD, ALD, TLD)
COMPONENT_DIGEST_SIZE: Final = 64
