"""A software ultravisor's state folder: machine, guests and secret stores between commands (ADR 0090).

Layout (folder 0700, every file 0600)::

    machine.json     versioned JSON: profile, key files, guests and their stores
    host-key-N.pem   the host private keys (PKCS#8 PEM), current first
    keys-all         what /sys/firmware/uv/keys/all would show (for pvimg test)
    .lock            the fcntl lock every command holds while it works

Every write replaces a file atomically; a command holds an exclusive ``flock``
on ``.lock`` from loading the state to its last save, so concurrent commands
run one after the other and never see or leave a half-written state.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import time
from collections.abc import Iterator, Sequence
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ... import fileio
from ...errors import InputError
from ...formats.se_header import BootHdrTags
from ...secret import SecretBytes
from .machine import Guest, Machine, Profile, StoredSecret

__all__ = [
    "STATE_FILE",
    "STATE_FORMAT",
    "STATE_VERSION",
    "MachineState",
    "StateError",
    "create_state",
    "describe",
    "open_state",
]

STATE_FILE: Final = "machine.json"
LOCK_FILE: Final = ".lock"
KEYS_ALL_FILE: Final = "keys-all"
STATE_FORMAT: Final = "secexkit-softuv-machine"
STATE_VERSION: Final = 1
#: how long a command waits for another one to release the folder
LOCK_TIMEOUT: Final = 60.0


class StateError(InputError):
    """A state folder is missing, not a machine state, corrupt, or busy."""


def write_private(path: str, data: bytes) -> None:
    """Replace ``path`` atomically with a 0600 file (the one atomic writer, :mod:`secexkit.fileio`)."""
    fileio.write_atomic(path, data, secret=True)


def _lock(folder: str, timeout: float) -> int:
    fd = os.open(os.path.join(folder, LOCK_FILE), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() >= deadline:
                os.close(fd)
                raise StateError(f"Software ultravisor state `{folder}` is busy: another command "
                                 f"holds its lock") from None
            time.sleep(0.02)


# ---------------------------------------------------------------------------- JSON

def _hex(value: bytes | SecretBytes | None) -> str | None:
    if value is None:
        return None
    return (value.reveal() if isinstance(value, SecretBytes) else value).hex()


def _guest_json(guest: Guest) -> dict[str, Any]:
    return {
        "tags": {name: value.hex() for name, value in guest.tags._asdict().items()},
        "pcf": guest.pcf,
        "scf": guest.scf,
        "header_cck": _hex(guest.header_cck),
        "cck": _hex(guest.cck),
        "image_phkh": guest.image_phkh.hex(),
        "cuid": guest.cuid.hex(),
        "store": [
            {"index": s.index, "type": s.secret_type, "length": s.length,
             "id": s.secret_id.hex(), "payload": _hex(s.payload)}
            for s in guest.store
        ],
        "next_index": guest.next_index,
        "ext_secret": _hex(guest.ext_secret),
        "add_tags": [t.hex() for t in guest.add_tags],
        "locked": guest.locked,
        "dump_disabled": guest.dump_disabled,
        "dump_disabled_by": guest.dump_disabled_by,
        "dump_in_progress": guest.dump_in_progress,
        "firmware_state": guest.firmware_state.hex(),
        "boots": guest.boots,
    }


def _b(data: dict[str, Any], name: str, size: int | None = None) -> bytes:
    value = bytes.fromhex(data[name])
    if size is not None and len(value) != size:
        raise ValueError(f"{name} has {len(value)} bytes, not {size}")
    return value


def _guest_from_json(machine: Machine, name: str, data: dict[str, Any]) -> Guest:
    tags = data["tags"]
    guest = Guest(
        machine, name,
        BootHdrTags(*(bytes.fromhex(tags[k]) for k in ("pld", "ald", "tld", "tag"))),
        int(data["pcf"]), int(data["scf"]), SecretBytes(_b(data, "header_cck", 32)),
        _b(data, "image_phkh", 32), _b(data, "cuid", 16), SecretBytes(_b(data, "cck", 32)),
    )
    for item in data["store"]:
        guest.store.append(StoredSecret(int(item["index"]), int(item["type"]), int(item["length"]),
                                        _b(item, "id", 32), SecretBytes(_b(item, "payload"))))
    guest.next_index = int(data["next_index"])
    guest.ext_secret = None if data["ext_secret"] is None else SecretBytes(_b(data, "ext_secret", 32))
    guest.add_tags = [bytes.fromhex(t) for t in data["add_tags"]]
    if any(len(t) != 16 for t in guest.add_tags):
        raise ValueError("add-secret tags are 16 bytes")
    for flag in ("locked", "dump_disabled", "dump_in_progress"):
        if not isinstance(data[flag], bool):
            raise ValueError(f"{flag} is not true/false")
        setattr(guest, flag, data[flag])
    guest.dump_disabled_by = data["dump_disabled_by"]
    guest.firmware_state = _b(data, "firmware_state", 320)
    guest.boots = int(data["boots"])
    return guest


def _machine_json(machine: Machine, key_files: Sequence[str], current: str | None) -> dict[str, Any]:
    return {
        "format": STATE_FORMAT,
        "version": STATE_VERSION,
        "profile": machine.profile.to_json(),
        "host_keys": list(key_files),
        "verification_pattern": machine.verification_pattern.hex(),
        "current_guest": current,
        "guests": {name: _guest_json(g) for name, g in sorted(machine.guests.items())},
    }


def _dump(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode("utf-8")


class MachineState:
    """A machine loaded from its folder under the folder's lock; :meth:`save` writes changes."""

    def __init__(self, folder: str, machine: Machine, key_files: list[str], *,
                 current: str | None, lock_fd: int, saved: bytes) -> None:
        self.folder = folder
        self.machine = machine
        self.key_files = key_files
        self.current_guest = current
        self._lock_fd = lock_fd
        self._saved = saved

    def __repr__(self) -> str:
        return f"MachineState({self.folder!r}, {self.machine!r})"

    def guest(self, name: str | None = None) -> Guest:
        """Guest ``name``, else the one booted last; :class:`StateError` if there is none."""
        name = name or self.current_guest
        if name is None or name not in self.machine.guests:
            known = ", ".join(sorted(self.machine.guests)) or "none"
            wanted = f"no guest named `{name}`" if name else "no running guest"
            raise StateError(f"Software ultravisor `{self.folder}` has {wanted} (guests: {known}); "
                             "boot one with `secexkit-uv boot`")
        return self.machine.guests[name]

    def save(self) -> None:
        """Write the state if it changed (atomically, 0600)."""
        data = _dump(_machine_json(self.machine, self.key_files, self.current_guest))
        if data != self._saved:
            write_private(os.path.join(self.folder, STATE_FILE), data)
            self._saved = data

    def detach_lock(self) -> int:
        """Hand the lock's file descriptor to the caller (closing it releases the lock)."""
        fd, self._lock_fd = self._lock_fd, -1
        return fd

    def close(self) -> None:
        """Release the lock (idempotent; does not save)."""
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def __enter__(self) -> MachineState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def create_state(folder: str, host_keys: Sequence[ec.EllipticCurvePrivateKey],
                 profile: Profile | None = None, *, verification_pattern: bytes | None = None) -> Machine:
    """Create a machine in ``folder`` (created 0700 if missing; an existing state is refused)."""
    machine = Machine(host_keys, profile, verification_pattern=verification_pattern)
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise StateError(f"Cannot create software ultravisor state `{folder}`: "
                         f"{exc.strerror or exc}") from None
    if not os.path.isdir(folder):
        raise StateError(f"Cannot create software ultravisor state `{folder}`: not a directory")
    fd = _lock(folder, LOCK_TIMEOUT)
    try:
        if os.path.exists(os.path.join(folder, STATE_FILE)):
            raise StateError(f"`{folder}` already holds a software ultravisor state")
        files = []
        for number, key in enumerate(machine.host_keys, 1):
            name = f"host-key-{number}.pem"
            write_private(os.path.join(folder, name), _private_pem(key))
            files.append(name)
        write_private(os.path.join(folder, KEYS_ALL_FILE), machine.keys_all_text().encode("ascii"))
        write_private(os.path.join(folder, STATE_FILE), _dump(_machine_json(machine, files, None)))
    finally:
        os.close(fd)
    return machine


def _corrupt(folder: str, why: str) -> StateError:
    return StateError(f"Software ultravisor state `{folder}` is corrupt: {why}")


def _load_key(folder: str, name: object) -> ec.EllipticCurvePrivateKey:
    if not isinstance(name, str) or os.path.basename(name) != name or not name:
        raise _corrupt(folder, f"bad host key file name {name!r}")
    try:
        with open(os.path.join(folder, name), "rb") as stream:
            key = serialization.load_pem_private_key(stream.read(64 * 1024), None)
    except (OSError, ValueError, TypeError) as exc:
        raise _corrupt(folder, f"cannot read host key `{name}`: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise _corrupt(folder, f"host key `{name}` is not an EC key")
    return key


def _load(folder: str, fd: int) -> MachineState:
    path = os.path.join(folder, STATE_FILE)
    try:
        with open(path, "rb") as stream:
            raw = stream.read(64 * 1024 * 1024)
    except OSError as exc:
        raise StateError(f"Cannot read software ultravisor state `{path}`: {exc.strerror or exc}") \
            from None
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _corrupt(folder, f"{STATE_FILE} is not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
        raise StateError(f"`{folder}` is not a software ultravisor state ({STATE_FILE} has another format)")
    if data.get("version") != STATE_VERSION:
        raise StateError(f"Software ultravisor state `{folder}` has version {data.get('version')!r}; "
                         f"this secexkit reads version {STATE_VERSION}")
    try:
        key_files = list(data["host_keys"])
        keys = [_load_key(folder, name) for name in key_files]
        machine = Machine(keys, Profile.from_json(data["profile"]),
                          verification_pattern=bytes.fromhex(data["verification_pattern"]))
        for name, guest in data["guests"].items():
            machine.guests[str(name)] = _guest_from_json(machine, str(name), guest)
        current = data["current_guest"]
        if current is not None and current not in machine.guests:
            raise ValueError(f"current guest {current!r} does not exist")
    except StateError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        what = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise _corrupt(folder, what) from None
    return MachineState(folder, machine, key_files, current=current, lock_fd=fd, saved=raw)


def open_state(folder: str, *, timeout: float = LOCK_TIMEOUT) -> MachineState:
    """Lock and load the machine in ``folder``; one-line :class:`StateError` when it is not one."""
    if not os.path.isdir(folder):
        raise StateError(f"`{folder}` is not a software ultravisor state folder: "
                         "no such directory (create one with `secexkit-uv init`)")
    if not os.path.isfile(os.path.join(folder, STATE_FILE)):
        raise StateError(f"`{folder}` is not a software ultravisor state folder: no {STATE_FILE} "
                         "(create one with `secexkit-uv init`)")
    fd = _lock(folder, timeout)
    try:
        return _load(folder, fd)
    except BaseException:
        os.close(fd)
        raise


@contextlib.contextmanager
def locked_state(folder: str) -> Iterator[MachineState]:
    """``with locked_state(dir) as state:`` … the lock is released at the end (no implicit save)."""
    state = open_state(folder)
    try:
        yield state
    finally:
        state.close()


def describe(state: MachineState) -> dict[str, Any]:
    """The state for people and scripts: no key or secret bytes, only hashes, IDs and sizes."""
    machine = state.machine
    guests = {}
    for name, guest in sorted(machine.guests.items()):
        status = guest.dump_status()
        guests[name] = {
            "cuid": "0x" + guest.cuid.hex(),
            "image_phkh": guest.image_phkh.hex(),
            "pcf": f"{guest.pcf:#018x}",
            "scf": f"{guest.scf:#018x}",
            "boots": guest.boots,
            "locked": guest.locked,
            "secrets": [
                {"index": s.index, "type": s.secret_type, "length": s.length, "id": "0x" + s.secret_id.hex()}
                for s in guest.store
            ],
            "accepted_requests": len(guest.add_tags),
            "secret_store_hash": guest.secret_store_hash().hex(),
            "extension_secret_latched": guest.ext_secret is not None,
            "dump_allowed": status.allowed,
            "dump": status.reason,
            "dump_in_progress": guest.dump_in_progress,
        }
    return {
        "format": STATE_FORMAT,
        "version": STATE_VERSION,
        "folder": os.path.abspath(state.folder),
        "profile": machine.profile.to_json(),
        "host_key_hashes": [h.hex() for h in machine.host_key_hashes],
        "current_guest": state.current_guest,
        "guests": guests,
    }
