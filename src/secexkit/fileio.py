"""Files in: bounded reads of whole inputs.

Every input that is read whole goes through :func:`read_input`, with a limit
that its format can hold (the table below).  A regular file larger than the
limit is refused before a byte is read; pipes (``-``, process substitution)
are read up to the limit and refused past it; devices, sockets and directories
are refused, since ``/dev/zero`` or ``/dev/urandom`` never end.
"""

from __future__ import annotations

import os
import stat
import sys
from typing import Final

from .errors import InputError

__all__ = [
    "MAX_CERTIFICATE_FILE",
    "MAX_CRL_FILE",
    "MAX_KEY_FILE",
    "MAX_SMALL_FILE",
    "MAX_SYSTEM_BUNDLE",
    "read_input",
]

KiB: Final = 1024
MiB: Final = 1024 * KiB

#: a host-key document, certificate or small bundle of certificates (PEM or DER)
MAX_CERTIFICATE_FILE: Final = 1 * MiB
#: a CRL file (several PEM CRLs allowed); the same as the download cap
MAX_CRL_FILE: Final = 16 * MiB
#: the system trust store bundle (SSL_CERT_FILE) and each file of SSL_CERT_DIR
MAX_SYSTEM_BUNDLE: Final = 64 * MiB
#: a private key, signing key or certificate for user data (PEM or DER)
MAX_KEY_FILE: Final = 1 * MiB
#: small binary inputs (CUID, extension secret, CCK, secret payloads, user data)
MAX_SMALL_FILE: Final = 64 * KiB

_CHUNK: Final = 64 * KiB


def read_input(path: str, what: str, limit: int, *, allow_stdin: bool = False) -> bytes:
    """Read the whole input at ``path`` (``-`` is standard input if allowed), at most ``limit`` bytes.

    Raises :class:`~secexkit.errors.InputError` naming ``what`` and ``path`` when
    the input cannot be opened, is not a file or pipe, or is larger than ``limit``.
    """
    if path == "-" and allow_stdin:
        return _read_capped(sys.stdin.buffer.fileno(), path, what, limit)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise InputError(f"Cannot read {what} at `{path}`: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISREG(mode):
            size = os.fstat(fd).st_size
            if size > limit:
                raise InputError(f"{what} `{path}` is larger than {limit} bytes")
        elif stat.S_ISDIR(mode):
            raise InputError(f"Cannot read {what} at `{path}`: it is a directory")
        elif not stat.S_ISFIFO(mode):
            raise InputError(f"Cannot read {what} at `{path}`: not a regular file or pipe")
        os.set_blocking(fd, True)
        return _read_capped(fd, path, what, limit)
    finally:
        os.close(fd)


def _read_capped(fd: int, path: str, what: str, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        try:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
        except OSError as exc:
            raise InputError(f"Cannot read {what} at `{path}`: {exc.strerror or exc}") from None
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise InputError(f"{what} `{path}` is larger than {limit} bytes")
