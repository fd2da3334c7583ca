"""Is this machine an IBM Secure Execution guest?  (cheap: no ioctl, no ctypes)."""

from __future__ import annotations

import os
from typing import Final

PROT_VIRT_GUEST_PATH: Final = "/sys/firmware/uv/prot_virt_guest"


def is_se_guest(path: str = PROT_VIRT_GUEST_PATH, *, machine: str | None = None) -> bool:
    """True on an s390x Secure Execution guest: the sysfs flag starts with ``1``.

    A missing, empty or unreadable file, or any other content, means "not a guest".
    """
    machine = machine if machine is not None else os.uname().machine
    if machine != "s390x":
        return False
    try:
        with open(path, "rb") as stream:
            first = stream.read(1)
    except OSError:
        return False
    return first == b"1"
