"""The ultravisor device's ioctl interface (``asm/uvdevice.h``): control block,
argument blocks, ioctl numbers and return codes.

Big-endian, as on s390x (where the control block is native-endian).  The calls
themselves live in :mod:`secexkit.uv.device`.
"""

from __future__ import annotations

import enum
from typing import Final

from ._layout import Layout, u

__all__ = [
    "DEVICE_INFO",
    "IOCTL_CB",
    "LIST_PAGES",
    "RC_MORE_DATA",
    "RC_SUCCESS",
    "RETRIEVE_ARGUMENT",
    "UvIoctl",
    "ioctl_request",
]

#: ``struct uvio_ioctl_cb``
IOCTL_CB = Layout(
    "uvio_ioctl_cb",
    0x40,
    [
        u("flags", 0x00, 4),
        u("uv_rc", 0x04, 2),
        u("uv_rrc", 0x06, 2),
        u("argument_addr", 0x08, 8),
        u("argument_len", 0x10, 4),
    ],
)

#: The retrieve-secret argument: the secret's index in its first two bytes on
#: input; the ultravisor overwrites the whole buffer (at least 2 bytes) with the secret.
RETRIEVE_ARGUMENT = Layout("retrieve secret argument", 2, [u("index", 0x00, 2)])

#: ``struct uvio_uvdev_info``: two LSB0 bit masks of supported ioctl numbers
DEVICE_INFO = Layout(
    "uvio_uvdev_info", 0x10, [u("supp_uvio_cmds", 0x00, 8), u("supp_uv_cmds", 0x08, 8)]
)

#: pages of the list-secrets buffer (drivers that refuse it get one page)
LIST_PAGES: Final = 4

RC_SUCCESS: Final = 0x0001
RC_MORE_DATA: Final = 0x0100


class UvIoctl(enum.IntEnum):
    """ioctl numbers of the ultravisor device."""

    INFO = 0
    ATTESTATION = 1
    ADD_SECRET = 2
    LIST_SECRETS = 3
    LOCK_SECRETS = 4
    RETRIEVE_SECRET = 5


_IOC_READ_WRITE: Final = 3
_UV_IOCTL_TYPE: Final = ord("u")


def ioctl_request(nr: int) -> int:
    """``_IOWR('u', nr, struct uvio_ioctl_cb)``."""
    return (_IOC_READ_WRITE << 30) | (IOCTL_CB.size << 16) | (_UV_IOCTL_TYPE << 8) | nr
