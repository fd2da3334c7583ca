"""The ultravisor device ``/dev/uv``: add, list, lock and retrieve secrets from an SE guest.

Every call is an ioctl with a 64-byte control block that points to an argument
buffer; the ultravisor's return code (rc) and reason code (rrc) come back in
the block.  The device path, the machine name and the ioctl function are
injectable, so the whole layer runs against a fake on any machine; only the
default ``fcntl.ioctl`` on a real s390x Secure Execution guest reaches the
ultravisor.  All integers are big-endian (s390x is big-endian, and the control
block is native-endian there).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import logging
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Final

from ..errors import DeviceIoError, FormatError, InputError, NotAvailableError, UltravisorError
from ..formats.attestation import ExchangeRequest, ExchangeResponse
from ..formats.request import ASRCB_MAGIC, MAX_REQUEST_SIZE, SecretType, parse_request
from ..formats.retrievable import MAX_RETRIEVE_SIZE
from ..formats.secret_list import SecretEntry, SecretList, format_secret_id, parse_secret_list
from ..formats.sizes import PAGE_SIZE
from ..formats.uvio import (
    DEVICE_INFO,
    IOCTL_CB,
    LIST_PAGES,
    RC_MORE_DATA,
    RC_SUCCESS,
    RETRIEVE_ARGUMENT,
    UvIoctl,
    ioctl_request,
)
from ..secret import SecretBytes
from .se_guest import PROT_VIRT_GUEST_PATH, is_se_guest

__all__ = [
    "DEVICE_INFO",
    "IOCTL_CB",
    "LIST_PAGES",
    "MAX_RETRIEVE_SIZE",
    "PROT_VIRT_GUEST_PATH",
    "RC_MORE_DATA",
    "RC_SUCCESS",
    "RETRIEVE_ARGUMENT",
    "SIMULATOR_GUEST_VARIABLE",
    "SIMULATOR_VARIABLE",
    "UV_DEVICE_PATH",
    "DeviceIoError",
    "IoctlFunction",
    "UvDevice",
    "UvDeviceInfo",
    "UvIoctl",
    "add_secret",
    "attest",
    "device_info",
    "ioctl_request",
    "is_se_guest",
    "list_secrets",
    "lock_secret_store",
    "retrieve_secret",
    "secret_id_of_request",
    "simulated_keys_all",
    "simulated_uv",
]

log = logging.getLogger(__name__)

UV_DEVICE_PATH: Final = "/dev/uv"
#: names a software ultravisor's state folder: the device layer then uses the model (ADR 0093)
SIMULATOR_VARIABLE: Final = "SECEXKIT_UV"
#: optionally names the simulated guest (default: the one booted last)
SIMULATOR_GUEST_VARIABLE: Final = "SECEXKIT_UV_GUEST"
_announced: set[str] = set()


def simulated_uv() -> str | None:
    """The software ultravisor's state folder when ``SECEXKIT_UV`` names one, else ``None``.

    The one switch every guest-side check uses: with it set, the device is the
    model's and "needs s390x / an SE guest with /dev/uv" does not apply.
    """
    return os.environ.get(SIMULATOR_VARIABLE) or None


def _announce(folder: str) -> None:
    if folder not in _announced:
        _announced.add(folder)
        log.warning("Using the software ultravisor in '%s' (%s is set): this is NOT an IBM Secure "
                    "Execution guest", folder, SIMULATOR_VARIABLE)


def simulated_keys_all() -> str | None:
    """With ``SECEXKIT_UV``: the model's ``/sys/firmware/uv/keys/all`` file, else ``None``."""
    folder = simulated_uv()
    if folder is None:
        return None
    from .softuv.state import KEYS_ALL_FILE, open_state

    open_state(folder).close()  # a clear error for a folder that is no machine state
    _announce(folder)
    return os.path.join(folder, KEYS_ALL_FILE)


def _open_simulated(folder: str) -> UvDevice:
    from .softuv.kernel import SimulatedDevice
    from .softuv.state import open_state

    state = open_state(folder)
    try:
        guest = state.guest(os.environ.get(SIMULATOR_GUEST_VARIABLE) or None)
    except BaseException:
        state.close()
        raise
    _announce(folder)
    device = SimulatedDevice(guest, state.save)
    return UvDevice(state.detach_lock(), f"the software ultravisor '{folder}'", device.ioctl)


#: ``ioctl(fd, request, control_block)``: mutates the 64-byte block in place,
#: raises :class:`OSError` when the syscall fails (same contract as fcntl.ioctl).
IoctlFunction = Callable[[int, int, bytearray], object]


def _fcntl_ioctl(fd: int, request: int, control_block: bytearray) -> object:
    return fcntl.ioctl(fd, request, control_block, True)


_GENERIC_RC: Final = {
    0x0000: "invalid rc",
    0x0002: "invalid UV command",
    0x0005: "request has an invalid size",
    0x0030: "home address space control bit has R-bit set to one. This may be due to a "
    "corrupted host or a guest kernel bug. STOP using this guest",
    0x0031: "address translation exception. This may be due to a corrupted host or a guest "
    "kernel bug. STOP using this guest",
    0x0032: "request contains virtual address translating to an invalid address. This may be "
    "due to a corrupted host or a guest kernel bug. STOP using this guest",
}
_COMMAND_RC: Final[dict[UvIoctl, dict[int, str]]] = {
    UvIoctl.ADD_SECRET: {
        0x0101: "not allowed to modify the secret store",
        0x0102: "secret store locked",
        0x0103: "access exception when accessing request control block",
        0x0104: "unsupported add secret version",
        0x0105: "invalid request size",
        0x0106: "invalid number of host-keys",
        0x0107: "unsupported flags specified",
        0x0108: "unable to decrypt the request",
        0x0109: "unsupported secret provided",
        0x010A: "invalid length for the specified secret",
        0x010B: "secret store full",
        0x010C: "unable to add secret",
        0x010D: "dump in progress, try again later",
    },
    UvIoctl.LOCK_SECRETS: {
        0x0101: "not allowed to modify the secret store",
        0x0102: "secret store already locked",
    },
    UvIoctl.ATTESTATION: {
        0x0101: "Invalid continuation token specified",
        0x0102: "User data length is greater than 256",
        0x0103: "Access exception recognized when accessing the attestation request control block",
        0x0104: "Access exception recognized when accessing the measurement data area",
        0x0105: "Access exception recognized when accessing the additional data area",
        0x0106: "Unsupported attestation request version",
        0x0107: "Invalid attestation request length for the specified attestation request version",
        0x0108: "Number of key slots is either equal to 0 or greater than the maximum number "
        "supported by the specified attestation request version",
        0x0109: "Size of encrypted area does not match measurement length plus any optional items",
        0x010A: "Unsupported plaintext attestation flag set",
        0x010B: "Unsupported measurement algorithm specified.",
        0x010C: "Unable to decrypt attestation request control block. Probably no valid host-key "
        "was provided",
        0x010D: "Measurement data length is not large enough to store measurement",
        0x010E: "Additional data length not large enough to hold all requested additional data",
    },
    UvIoctl.RETRIEVE_SECRET: {
        0x0009: "the allocated buffer is to small to store the secret",
        0x0102: "access exception recognized when accessing retrieved secret storage area",
        0x010F: "the Secret Store is empty",
        0x0110: "the Secret Store does not contain a secret with the specified index",
        0x0111: "the secret is not retrievable",
    },
}


def rc_message(command: UvIoctl, rc: int) -> str:
    """The reference's text for an ultravisor return code."""
    if rc in _GENERIC_RC:
        return _GENERIC_RC[rc]
    return _COMMAND_RC.get(command, {}).get(rc, "unexpected error-code")


def _not_available(what: str, reason: str) -> NotAvailableError:
    return NotAvailableError(
        f"{what} needs an s390x Secure Execution guest (/dev/uv): {reason}"
    )


class UvDevice:
    """An open ultravisor device.  Use :meth:`open`; close it (or use ``with``)."""

    def __init__(self, fd: int, path: str, ioctl: IoctlFunction | None = None) -> None:
        self._fd = fd
        self.path = path
        self._ioctl = ioctl or _fcntl_ioctl

    @classmethod
    def open(
        cls,
        path: str = UV_DEVICE_PATH,
        *,
        what: str = "This command",
        ioctl: IoctlFunction | None = None,
        machine: str | None = None,
    ) -> UvDevice:
        """Open the device read-write; off s390x or without it: :class:`NotAvailableError`.

        With ``SECEXKIT_UV`` set (and no ``ioctl`` injected) the device is the
        software ultravisor in that folder, on any machine (ADR 0093).
        """
        simulated = simulated_uv() if ioctl is None else None
        if simulated is not None:
            return _open_simulated(simulated)
        machine = machine if machine is not None else platform.machine()
        if machine != "s390x":
            raise _not_available(what, f"Command only available on s390x (this is {machine})")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            raise _not_available(what, f"{path} does not exist") from None
        except OSError as exc:
            raise NotAvailableError(
                f"Cannot open {path}: {exc.strerror or exc}",
                "the ultravisor device needs read and write access (usually root)",
            ) from None
        return cls(fd, path, ioctl)

    def close(self) -> None:
        """Close the device (idempotent)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> UvDevice:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def call(self, command: UvIoctl, argument: bytearray | None = None) -> int:
        """Send one ioctl; ``argument`` is updated in place.  Returns RC_SUCCESS or RC_MORE_DATA."""
        if self._fd < 0:
            raise ValueError("the ultravisor device is closed")
        buffer = None
        if argument:
            buffer = ctypes.create_string_buffer(bytes(argument), len(argument))
        control = bytearray(
            IOCTL_CB.pack(
                {
                    "flags": 0,
                    "uv_rc": 0,
                    "uv_rrc": 0,
                    "argument_addr": ctypes.addressof(buffer) if buffer is not None else 0,
                    "argument_len": len(argument) if argument else 0,
                }
            )
        )
        log.debug("ioctl %s (%#x), %d argument bytes", command.name, ioctl_request(command),
                  len(argument or b""))
        try:
            self._ioctl(self._fd, ioctl_request(command), control)
        except OSError as exc:
            err = exc.errno or 0
            raise DeviceIoError(
                f"The {command.name.lower().replace('_', ' ')} ioctl on {self.path} failed: "
                f"{exc.strerror or os.strerror(err)}",
                err,
            ) from None
        finally:
            if buffer is not None and argument is not None:
                argument[:] = buffer.raw
                ctypes.memset(buffer, 0, len(argument))  # may hold a secret
        rc = IOCTL_CB.get_int(control, "uv_rc")
        rrc = IOCTL_CB.get_int(control, "uv_rrc")
        log.debug("ultravisor rc %#06x rrc %#06x", rc, rrc)
        if rc in (RC_SUCCESS, RC_MORE_DATA):
            return rc
        raise UltravisorError(rc_message(command, rc), rc, rrc)


# ---------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class UvDeviceInfo:
    """Which ioctls the device (and the ultravisor) support."""

    supp_uvio_cmds: int
    #: ``None``: old driver without the info ioctl (only attestation is assumed)
    supp_uv_cmds: int | None

    def supports(self, command: UvIoctl) -> bool:
        """Whether both the driver and the ultravisor support ``command``."""
        bit = 1 << command
        if not self.supp_uvio_cmds & bit:
            return False
        return self.supp_uv_cmds is None or bool(self.supp_uv_cmds & bit) or command == 0


def device_info(device: UvDevice) -> UvDeviceInfo:
    """The info ioctl; ENOTTY (old driver) means only attestation is supported."""
    buffer = bytearray(DEVICE_INFO.size)
    try:
        device.call(UvIoctl.INFO, buffer)
    except DeviceIoError as exc:
        if exc.errno != errno.ENOTTY:
            raise
        return UvDeviceInfo(1 << UvIoctl.ATTESTATION, None)
    values = DEVICE_INFO.unpack(buffer)
    return UvDeviceInfo(int(values["supp_uvio_cmds"]), int(values["supp_uv_cmds"]))


def list_secrets(device: UvDevice) -> SecretList:
    """List the secret store: four pages, or one page on drivers that refuse more."""
    buffer = bytearray(LIST_PAGES * PAGE_SIZE)
    try:
        rc = device.call(UvIoctl.LIST_SECRETS, buffer)
    except DeviceIoError as exc:
        if exc.errno != errno.EINVAL:
            raise
        log.info("Uvdevice does not support longer lists. Fallback to one page list.")
        buffer = bytearray(PAGE_SIZE)
        rc = device.call(UvIoctl.LIST_SECRETS, buffer)
    if rc == RC_MORE_DATA:
        log.warning("The secret list contains more data but the uvdevice cannot show all.")
    return parse_secret_list(buffer, "secret list returned by the ultravisor")


def secret_id_of_request(request: bytes) -> bytes | None:
    """The ID in the request's secret header, if it has one (named secrets only).

    The reference reads the "ID" at a wrong offset (docs/adr/0033); this reads
    the secret header after the key slots.  Meta and update-CCK requests, and
    requests that do not parse, have none.
    """
    try:
        parsed = parse_request(request)
    except FormatError as exc:
        log.debug("no secret ID: %s", exc)
        return None
    if parsed.secret_type in (SecretType.META, SecretType.UPDATE_CCK):
        return None
    return parsed.secret_id


def check_add_request(request: bytes, source: str = "Input") -> None:
    """What ``pvsecret add`` checks before the ultravisor sees the request."""
    if len(request) > MAX_REQUEST_SIZE:
        raise InputError(
            f"{source} is larger than the ultravisor accepts for an add-secret request "
            f"({len(request)} > {MAX_REQUEST_SIZE} bytes)"
        )
    if not request.startswith(ASRCB_MAGIC):
        raise FormatError(f"{source} does not contain an add-secret request")


def add_secret(device: UvDevice, request: bytes, *, force: bool = False,
               source: str = "Input") -> None:
    """Add a request to the secret store, refusing a duplicate ID unless ``force``."""
    check_add_request(request, source)
    secret_id = secret_id_of_request(request)
    if secret_id is not None and list_secrets(device).find(secret_id):
        log.warning("There is already a secret in the secret store with that id.")
        if not force:
            raise InputError(
                "Unable to add the secret due to duplicated IDs",
                f"ID {format_secret_id(secret_id)}; use --force to add it anyway",
            )
        log.warning("'--force' specified: Adding the secret anyways.")
    device.call(UvIoctl.ADD_SECRET, bytearray(request))


def lock_secret_store(device: UvDevice) -> None:
    """Refuse every later change of the secret store (until the guest reboots)."""
    device.call(UvIoctl.LOCK_SECRETS)


def retrieve_secret(device: UvDevice, entry: SecretEntry) -> SecretBytes:
    """The stored bytes of one retrievable secret (``entry`` comes from :func:`list_secrets`)."""
    if entry.length > MAX_RETRIEVE_SIZE:
        raise InputError(
            f"The secret with the ID {format_secret_id(entry.secret_id)} cannot be retrieved. "
            f"The requested size is too large ({entry.length})"
        )
    buffer = bytearray(max(2, entry.length))
    buffer[: RETRIEVE_ARGUMENT.size] = RETRIEVE_ARGUMENT.pack({"index": entry.index})
    try:
        device.call(UvIoctl.RETRIEVE_SECRET, buffer)
        return SecretBytes(buffer[: entry.length])
    finally:
        buffer[:] = bytes(len(buffer))


def attest(device: UvDevice, request: ExchangeRequest, user_data: bytes | None = None
           ) -> ExchangeResponse:
    """The attestation ioctl for ``request`` with optional user data (at most 256 bytes).

    The ARCB, measurement and additional-data buffers live for the call only;
    the response is what ``pvattest perform`` writes (additional data cut to
    the length the ultravisor reports).
    """
    from ..attest.perform import check_user_data_size, pack_attest_argument, response_from_device

    check_user_data_size(user_data or b"")
    arcb = ctypes.create_string_buffer(bytes(request.arcb), len(request.arcb))
    measurement = ctypes.create_string_buffer(request.measurement_size)
    additional = (ctypes.create_string_buffer(request.additional_size)
                  if request.additional_size else None)
    argument = pack_attest_argument(
        request, user_data or b"",
        arcb_address=ctypes.addressof(arcb),
        measurement_address=ctypes.addressof(measurement),
        additional_address=ctypes.addressof(additional) if additional is not None else 0,
    )
    device.call(UvIoctl.ATTESTATION, argument)
    return response_from_device(request, user_data, argument, measurement.raw,
                                additional.raw if additional is not None else b"")


# ---------------------------------------------------------------------------- SE guest

