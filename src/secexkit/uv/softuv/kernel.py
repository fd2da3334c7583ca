"""The ``/dev/uv`` driver in front of a software ultravisor guest (spec ultravisor.md §1, §4).

:class:`SimulatedDevice.ioctl` has the contract of ``fcntl.ioctl`` that
:class:`~secexkit.uv.device.UvDevice` calls: it reads the 64-byte control block,
makes the kernel's own checks (errno, no ultravisor call), reads and writes the
caller's buffers through their addresses, issues the guest's ultravisor calls
(the list ioctl as the driver's page loop) and puts rc/rrc into the block.
After each call the machine state is saved (when it changed).
"""

from __future__ import annotations

import ctypes
import errno
from collections.abc import Callable
from typing import Final

from ...errors import UltravisorError
from ...formats.attestation import (
    ADDITIONAL_MAX_SIZE,
    ARCB_MAX_SIZE,
    MEASUREMENT_MAX_SIZE,
    UVIO_ATTEST,
)
from ...formats.request import MAX_REQUEST_SIZE
from ...formats.retrievable import MAX_RETRIEVE_SIZE
from ...formats.secret_list import LIST_ENTRY, LIST_HEADER
from ...formats.sizes import PAGE_SIZE
from ...formats.uvio import DEVICE_INFO, IOCTL_CB, RC_MORE_DATA, RC_SUCCESS, RETRIEVE_ARGUMENT, UvIoctl
from .machine import Call, Guest

__all__ = ["SimulatedDevice", "merged_list"]

_IOCTL_BASE: Final = 0xC0407500
#: the installed-call bit each ioctl needs; retrieve maps to attestation (driver quirk, §1)
_INFO_CALL: Final = {
    UvIoctl.ATTESTATION: Call.ATTEST,
    UvIoctl.ADD_SECRET: Call.ADD_SECRET,
    UvIoctl.LIST_SECRETS: Call.LIST_SECRETS,
    UvIoctl.LOCK_SECRETS: Call.LOCK_SECRETS,
    UvIoctl.RETRIEVE_SECRET: Call.ATTEST,
}


def _einval(why: str) -> OSError:
    return OSError(errno.EINVAL, f"Invalid argument ({why})")


def merged_list(guest: Guest, length: int) -> tuple[int, bytes]:
    """The list ioctl: UVCs from index 0 while rc is 0x0100 and a further page fits (§4)."""
    rc, page = guest.list_secrets(0)
    header = LIST_HEADER.unpack(page)
    entries = page[LIST_HEADER.size:LIST_HEADER.size + LIST_ENTRY.size * int(header["stored"])]
    copied = int(header["stored"])
    while rc == RC_MORE_DATA and LIST_HEADER.size + LIST_ENTRY.size * copied + PAGE_SIZE <= length:
        rc, page = guest.list_secrets(int(header["next_index"]))
        header = LIST_HEADER.unpack(page)
        stored = int(header["stored"])
        entries += page[LIST_HEADER.size:LIST_HEADER.size + LIST_ENTRY.size * stored]
        copied += stored
    merged = LIST_HEADER.pack({
        "stored": copied, "total": header["total"], "next_index": header["next_index"],
        "reserved_06": bytes(2), "reserved_08": bytes(8),
    })
    return rc, merged + entries


class SimulatedDevice:
    """The driver for one guest; ``after_call`` runs after every ioctl (saves the state)."""

    def __init__(self, guest: Guest, after_call: Callable[[], None] | None = None) -> None:
        self.guest = guest
        self._after_call = after_call

    def ioctl(self, fd: int, request: int, control: bytearray) -> int:
        """``fcntl.ioctl(fd, request, control, True)`` as the uvdevice driver answers it."""
        del fd
        if request & ~0xFF != _IOCTL_BASE or len(control) != IOCTL_CB.size:
            raise OSError(errno.ENOTTY, "Inappropriate ioctl for device")
        try:
            nr = UvIoctl(request & 0xFF)
        except ValueError:
            raise OSError(errno.ENOTTY, "Inappropriate ioctl for device") from None
        cb = IOCTL_CB.unpack(control)
        if cb["flags"] != 0 or any(control[IOCTL_CB["argument_len"].end:]):
            raise _einval("control block flags or reserved bytes set")
        addr, length = int(cb["argument_addr"]), int(cb["argument_len"])
        rc = RC_SUCCESS
        try:
            rc = self._dispatch(nr, addr, length)
        except UltravisorError as exc:
            rc = exc.rc
        finally:
            if self._after_call is not None:
                self._after_call()
        control[IOCTL_CB.slice("uv_rc")] = rc.to_bytes(2, "big")
        control[IOCTL_CB.slice("uv_rrc")] = bytes(2)
        return 0

    def _dispatch(self, nr: UvIoctl, addr: int, length: int) -> int:
        guest = self.guest
        if nr == UvIoctl.INFO:
            if length < DEVICE_INFO.size:
                raise _einval("info buffer too small")
            installed = guest.profile.installed_calls
            uv_cmds = 1 | sum(1 << ioctl for ioctl, call in _INFO_CALL.items() if call in installed)
            info = DEVICE_INFO.pack({"supp_uvio_cmds": 0x3F, "supp_uv_cmds": uv_cmds})
            ctypes.memmove(addr, info, len(info))
            return RC_SUCCESS
        if nr == UvIoctl.ATTESTATION:
            return self._attest(addr, length)
        if nr == UvIoctl.ADD_SECRET:
            if not 0 < length <= MAX_REQUEST_SIZE:
                raise _einval("request length")
            guest.add_secret(ctypes.string_at(addr, length))
            return RC_SUCCESS
        if nr == UvIoctl.LIST_SECRETS:
            if length == 0 or length % PAGE_SIZE:
                raise _einval("list buffer must be whole pages")
            rc, data = merged_list(guest, length)
            ctypes.memmove(addr, data, len(data))
            return rc
        if nr == UvIoctl.LOCK_SECRETS:
            if addr or length:
                raise _einval("lock takes no argument")
            guest.lock()
            return RC_SUCCESS
        # RETRIEVE_SECRET
        if not 2 <= length <= MAX_RETRIEVE_SIZE:
            raise _einval("retrieve buffer length")
        index = RETRIEVE_ARGUMENT.get_int(ctypes.string_at(addr, RETRIEVE_ARGUMENT.size), "index")
        payload = guest.retrieve(index, length).reveal()
        ctypes.memmove(addr, payload, len(payload))
        return RC_SUCCESS

    def _attest(self, addr: int, length: int) -> int:
        if length != UVIO_ATTEST.size:
            raise _einval("uvio_attest size")
        argument = bytearray(ctypes.string_at(addr, length))
        v = UVIO_ATTEST.unpack(argument)
        arcb_len, meas_len = int(v["arcb_length"]), int(v["measurement_length"])
        add_len, user_len = int(v["additional_length"]), int(v["user_data_length"])
        if not 0 < arcb_len <= ARCB_MAX_SIZE or not 0 < meas_len <= MEASUREMENT_MAX_SIZE \
                or add_len > ADDITIONAL_MAX_SIZE or v["reserved"] != 0:
            raise _einval("attestation sizes")
        arcb = ctypes.string_at(int(v["arcb_address"]), arcb_len)
        user = bytes(v["user_data"])[:user_len] if user_len <= 256 else bytes(257)
        measurement, additional, cuid = self.guest.attest(arcb, user, meas_len, add_len)
        ctypes.memmove(int(v["measurement_address"]), measurement, len(measurement))
        if additional:
            ctypes.memmove(int(v["additional_address"]), additional, len(additional))
        # the driver copies back the caller's own additional length (quirk, §1)
        argument[UVIO_ATTEST.slice("cuid")] = cuid
        ctypes.memmove(addr, bytes(argument), len(argument))
        return RC_SUCCESS
