"""A simulated IBM Z machine for tests: a software ultravisor's state folder and a small handle.

:class:`SimulatedMachine` wraps a state folder of :mod:`secexkit.uv.softuv.state`
(the folder ``secexkit-uv`` works on).  The guest commands use it when
``SECEXKIT_UV`` names the folder: pass :attr:`SimulatedMachine.env` to a
subprocess, or call :meth:`SimulatedMachine.activate` for in-process calls
(``pvsecret.main([...])``).  Test material only: the host private keys are
written unprotected (0600) into the folder.

Example::

    machine = SimulatedMachine.create(tmp_path / "machine", [pki.host_keys[0]])
    cuid = machine.boot(image)                       # bytes; "0x" + cuid.hex() for --cuid-hex
    subprocess.run(["pvsecret", "add", "nodump.req"], env=machine.env, check=True)
    assert machine.dump_allowed() == (False, "dumping was disabled by ...")
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..errors import CryptoError, FormatError, InputError
from ..fileio import MAX_SMALL_FILE, open_regular, read_input
from ..image.bootloader import STAGE3A_MIN_SIZE, STAGE3A_NAME, STAGE3B_NAME
from ..uv.device import SIMULATOR_VARIABLE
from ..uv.softuv import DumpStatus, Profile
from ..uv.softuv.state import create_state, describe, open_state

__all__ = ["PLACEHOLDER_LABEL", "SimulatedMachine", "write_placeholder_boot_loaders"]

#: what placeholder boot loaders start with (readable in the clear part of an SE image)
PLACEHOLDER_LABEL: Final = b"secexkit placeholder boot loader: NOT BOOTABLE on IBM Z\n"

StrPath = str | os.PathLike[str]


def _private_key(key: ec.EllipticCurvePrivateKey | StrPath) -> ec.EllipticCurvePrivateKey:
    """A host private key, or one read from a PEM file (as ``secexkit-testpki`` writes them)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key
    path = os.fspath(key)
    try:
        loaded = serialization.load_pem_private_key(
            read_input(path, "host private key", MAX_SMALL_FILE), None)
    except (ValueError, TypeError) as exc:
        raise InputError(f"host private key `{path}` is not a PEM private key: {exc}") from None
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise InputError(f"host private key `{path}` is not an EC key")
    return loaded


def _cuid(cuid: bytes | str | None) -> bytes | None:
    if cuid is None:
        return None
    if isinstance(cuid, str):
        try:
            cuid = bytes.fromhex(cuid.removeprefix("0x"))
        except ValueError:
            raise InputError(f"CUID {cuid!r} is not hex") from None
    if len(cuid) != 16:
        raise InputError(f"a CUID is 16 bytes (32 hex digits), not {len(cuid)}")
    return cuid


def write_placeholder_boot_loaders(folder: StrPath) -> Path:
    """Write stand-ins for s390-tools' ``stage3a.bin`` and ``stage3b_reloc.bin`` into
    ``folder`` (created if missing) for ``pvimg create --bootloader-dir``; returns the folder.

    The software ultravisor never executes boot loaders, so an image built with these
    boots on the model; it does NOT boot on IBM Z.  Both files start with
    :data:`PLACEHOLDER_LABEL`, which stays readable in the image (the loaders are not
    encrypted), so such an image can be recognised.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for name, size in ((STAGE3A_NAME, STAGE3A_MIN_SIZE + 0x1000), (STAGE3B_NAME, 0x2000)):
        (out / name).write_bytes(PLACEHOLDER_LABEL.ljust(size, b"\0"))
    return out


class SimulatedMachine:
    """A software ultravisor's state folder, with the few calls a test needs.

    Each call locks and loads the folder, so the object can be used alongside the
    ``secexkit-uv`` command and guest commands in subprocesses.
    """

    def __init__(self, folder: StrPath, *, host_key_document: Path | None = None) -> None:
        #: the state folder (what ``SECEXKIT_UV`` names)
        self.folder = Path(folder).absolute()
        #: the host-key document of the machine's host key, when known (e.g. from a test PKI)
        self.host_key_document = host_key_document
        self._saved_env: list[str | None] = []

    def __repr__(self) -> str:
        return f"SimulatedMachine({str(self.folder)!r})"

    @classmethod
    def create(cls, folder: StrPath,
               host_keys: Sequence[ec.EllipticCurvePrivateKey | StrPath],
               profile: Profile | None = None, *,
               host_key_document: Path | None = None) -> SimulatedMachine:
        """A new machine in ``folder`` (created; an existing state is refused) from a current
        host private key and optionally a backup one (key objects or PEM files)."""
        create_state(os.fspath(folder), [_private_key(k) for k in host_keys], profile)
        return cls(folder, host_key_document=host_key_document)

    @property
    def env(self) -> dict[str, str]:
        """A copy of ``os.environ`` with ``SECEXKIT_UV`` naming this machine (for subprocesses)."""
        return {**os.environ, SIMULATOR_VARIABLE: str(self.folder)}

    def boot(self, image_or_header: StrPath | bytes, *, name: str = "guest",
             cuid: bytes | str | None = None) -> bytes:
        """Boot guest ``name`` from an SE image or SE header (a file or its bytes); it becomes
        the current guest, which guest commands use.  Returns its CUID (16 bytes; random
        unless ``cuid`` is given as bytes or hex)."""
        wanted = _cuid(cuid)
        with open_state(str(self.folder)) as state:
            if isinstance(image_or_header, bytes):
                guest = state.machine.boot(image_or_header, name=name, cuid=wanted)
            else:
                path = os.fspath(image_or_header)
                stream, _ = open_regular(path, "SE image")
                with stream:
                    try:
                        guest = state.machine.boot(stream, name=name, cuid=wanted)
                    except (FormatError, CryptoError) as exc:
                        raise type(exc)(f"{exc} (`{path}`)", *exc.details) from None
            state.current_guest = guest.name
            state.save()
            return guest.cuid

    def dump_allowed(self, name: str | None = None) -> DumpStatus:
        """``(allowed, reason)``: whether the hypervisor may dump guest ``name`` (default: the
        current guest) now, as ``secexkit-uv dump`` would answer; changes nothing."""
        with open_state(str(self.folder)) as state:
            return state.guest(name).dump_status()

    def state(self) -> dict[str, Any]:
        """The machine as ``secexkit-uv state`` shows it (JSON-ready; no key or secret bytes)."""
        with open_state(str(self.folder)) as state:
            return describe(state)

    def activate(self) -> SimulatedMachine:
        """Set ``SECEXKIT_UV`` in this process's environment until :meth:`deactivate` (or the
        end of a ``with machine.activate():`` block), so in-process guest commands use the
        machine."""
        self._saved_env.append(os.environ.get(SIMULATOR_VARIABLE))
        os.environ[SIMULATOR_VARIABLE] = str(self.folder)
        return self

    def _restore(self) -> None:
        previous = self._saved_env.pop()
        if previous is None:
            os.environ.pop(SIMULATOR_VARIABLE, None)
        else:
            os.environ[SIMULATOR_VARIABLE] = previous

    def deactivate(self) -> None:
        """Undo every :meth:`activate` still in effect (restores the earlier value)."""
        while self._saved_env:
            self._restore()

    def __enter__(self) -> SimulatedMachine:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._saved_env:
            self._restore()
