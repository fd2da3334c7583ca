"""A fake ultravisor behind an injectable ioctl function (runs on any machine).

It reads the 64-byte control block exactly as the kernel would (big-endian
layout, argument address and length), reads and writes the argument buffer
through its address with ctypes, and keeps a secret store.  With a host
private key it decrypts added requests, so add -> list -> retrieve round trips
carry the real payloads.
"""

from __future__ import annotations

import ctypes
import errno
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec

from secexkit.addsecret.request import open_request
from secexkit.errors import SecexError
from secexkit.formats.request import SecretType, parse_request
from secexkit.formats.secret_list import LIST_ENTRY, LIST_HEADER, SecretEntry
from secexkit.uv.device import DEVICE_INFO, IOCTL_CB, RETRIEVE_ARGUMENT, UvIoctl

_RETRIEVABLE = {3, 4, 5, 6, 7, 8, 9, 10, 0x11, 0x12, 0x13, 0x14, 0x15}


@dataclass
class Stored:
    entry: SecretEntry
    payload: bytes


@dataclass
class FakeUltravisor:
    host_key: ec.EllipticCurvePrivateKey | None = None
    #: list buffers larger than this fail with EINVAL (an old driver); None: no limit
    max_list_bytes: int | None = None
    #: None: the info ioctl fails with ENOTTY
    info: tuple[int, int] | None = (0x3F, 0x3E)
    locked: bool = False
    secrets: list[Stored] = field(default_factory=list)
    calls: list[tuple[int, int]] = field(default_factory=list)
    #: force a return code for a command: nr -> (rc, rrc)
    forced_rc: dict[int, tuple[int, int]] = field(default_factory=dict)

    def store(self, secret_type: int, secret_id: bytes, payload: bytes) -> SecretEntry:
        entry = SecretEntry(len(self.secrets), secret_type, len(payload), secret_id)
        self.secrets.append(Stored(entry, payload))
        return entry

    # the injectable ioctl -----------------------------------------------------------

    def ioctl(self, fd: int, request: int, control: bytearray) -> int:
        assert len(control) == 0x40
        assert request & ~0xFF == 0xC0407500, hex(request)
        nr = request & 0xFF
        cb = IOCTL_CB.unpack(control)
        assert cb["flags"] == 0 and not any(control[0x14:])
        addr, length = int(cb["argument_addr"]), int(cb["argument_len"])
        argument = ctypes.string_at(addr, length) if addr else b""
        assert (addr == 0) == (length == 0)
        self.calls.append((nr, length))
        rc, rrc, out = self._dispatch(nr, argument)
        if nr in self.forced_rc:
            rc, rrc = self.forced_rc[nr]
        if out is not None:
            assert len(out) <= length
            ctypes.memmove(addr, out, len(out))
        control[4:6] = rc.to_bytes(2, "big")
        control[6:8] = rrc.to_bytes(2, "big")
        return 0

    def _dispatch(self, nr: int, arg: bytes) -> tuple[int, int, bytes | None]:
        if nr == UvIoctl.INFO:
            if self.info is None:
                raise OSError(errno.ENOTTY, "Inappropriate ioctl for device")
            return 1, 0, DEVICE_INFO.pack({"supp_uvio_cmds": self.info[0],
                                           "supp_uv_cmds": self.info[1]})
        if nr == UvIoctl.LIST_SECRETS:
            if self.max_list_bytes is not None and len(arg) > self.max_list_bytes:
                raise OSError(errno.EINVAL, "Invalid argument")
            room = (len(arg) - LIST_HEADER.size) // LIST_ENTRY.size
            shown = [s.entry for s in self.secrets][:room]
            header = LIST_HEADER.pack({"stored": len(shown), "total": len(self.secrets),
                                       "next_index": 0, "reserved_06": bytes(2),
                                       "reserved_08": bytes(8)})
            data = header + b"".join(e.to_bytes() for e in shown)
            return (0x100 if len(shown) < len(self.secrets) else 1), 0, data
        if nr == UvIoctl.LOCK_SECRETS:
            assert arg == b""
            if self.locked:
                return 0x102, 0, None
            self.locked = True
            return 1, 0, None
        if nr == UvIoctl.ADD_SECRET:
            if self.locked:
                return 0x102, 0, None
            try:
                parsed = parse_request(arg)
            except SecexError:
                return 0x105, 0, None
            payload = b"\xaa" * parsed.secret_length
            if self.host_key is not None:
                try:
                    payload = open_request(arg, self.host_key).payload.reveal()
                except SecexError:
                    return 0x108, 0, None
            if parsed.secret_type in (SecretType.META, SecretType.UPDATE_CCK):
                return 1, 0, None
            assert parsed.secret_id is not None
            self.store(parsed.secret_type, parsed.secret_id, payload)
            return 1, 0, None
        if nr == UvIoctl.RETRIEVE_SECRET:
            index = RETRIEVE_ARGUMENT.get_int(arg, "index")
            if not self.secrets:
                return 0x10F, 0, None
            match = [s for s in self.secrets if s.entry.index == index]
            if not match:
                return 0x110, 0, None
            if match[0].entry.secret_type not in _RETRIEVABLE:
                return 0x111, 0, None
            if len(arg) < len(match[0].payload):
                return 0x0009, 0, None
            return 1, 0, match[0].payload
        return 0x0002, 0, None
