"""Files in and out: bounded reads of inputs, one atomic writer for every output.

Inputs (ADR 0051)
    Every input that is read whole goes through :func:`read_input`, with a limit
    that its format can hold (the ``MAX_*`` constants).  A regular file larger
    than the limit is refused before a byte is read; pipes (``-``, process
    substitution) are read up to the limit and refused past it; devices, sockets
    and directories are refused, since ``/dev/zero`` or ``/dev/urandom`` never
    end.  Inputs that are streamed or read at offsets (image components, the
    policy file, SE images) go through :func:`open_regular`: regular files only,
    at most a limit, opened without ever blocking on a FIFO.

Outputs (ADR 0050)
    :class:`OutputTransaction` stages every output of a command in an
    exclusively created temporary file with an unpredictable name beside its
    target, writes (or streams) it, fsyncs it and renames all of them together;
    on any error, including a signal turned into :class:`Interrupted` by
    :func:`raise_on_signals`, nothing is left behind and replaced files are
    restored.  :func:`check_output` fails early for targets that can never be
    written; :func:`check_distinct` refuses an output that is the same file as
    another output or an input.

Text (ADR 0050)
    :func:`printable` escapes control characters in names, paths and messages
    before they reach a terminal.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import BinaryIO, Final

from .errors import InputError

__all__ = [
    "MAX_CERTIFICATE_FILE",
    "MAX_CRL_FILE",
    "MAX_DOCUMENT_FILE",
    "MAX_EXACT_KEY_FILE",
    "MAX_KEY_FILE",
    "MAX_POLICY_FILE",
    "MAX_SMALL_FILE",
    "MAX_SYSTEM_BUNDLE",
    "PIPE_IDLE_TIMEOUT",
    "FolderFlush",
    "Interrupted",
    "OutputTransaction",
    "check_distinct",
    "check_output",
    "open_regular",
    "printable",
    "raise_on_signals",
    "read_exact",
    "read_input",
    "write_atomic",
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
#: small binary inputs (CUID file, key hashes)
MAX_SMALL_FILE: Final = 64 * KiB
#: a document read whole whose content decides its own, smaller limit with a
#: better message: user data, a retrievable secret, a NAME.yaml description
MAX_DOCUMENT_FILE: Final = 1 * MiB
#: a key of an exact size (32 or 64 bytes): larger files are refused outright
MAX_EXACT_KEY_FILE: Final = 4 * KiB
#: the ``--policy`` file, hashed in chunks (never read whole)
MAX_POLICY_FILE: Final = 64 * MiB

#: seconds a FIFO or pipe input may stay without data (or without a writer) before
#: it is refused; standard input (``-``) waits without a limit
PIPE_IDLE_TIMEOUT: float = 30.0

_CHUNK: Final = 64 * KiB
_OPEN_FLAGS: Final = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0)


# ---------------------------------------------------------------------------- text

#: bidirectional overrides and isolates: they reorder what a terminal shows
_BIDI: Final = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                         "\u2066\u2067\u2068\u2069")
_SHORT: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """``text`` with every control character escaped, fit for one line on a terminal.

    Escaped: C0 controls (``\\n``, ``\\r``, ``\\t`` and ``\\xNN``), DEL, C1 controls
    (ESC-less CSI ``\\x9b`` included), the line and paragraph separators,
    bidirectional overrides, and bytes that were not valid UTF-8 in a file name
    (Python's surrogate escapes, shown as the original byte ``\\xNN``).
    """
    if text.isprintable():
        return text
    out = []
    for char in text:
        code = ord(char)
        if char in _SHORT:
            out.append(_SHORT[char])
        elif code < 0x20 or 0x7F <= code <= 0x9F:
            out.append(f"\\x{code:02x}")
        elif 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's escape of an undecodable byte
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF or char in _BIDI or char in "\u2028\u2029":
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def _named(what: str, path: str) -> str:
    return f"{what} `{path}`" if what else f"`{path}`"


# ---------------------------------------------------------------------------- inputs

def read_input(path: str, what: str, limit: int, *, allow_stdin: bool = False) -> bytes:
    """Read the whole input at ``path`` (``-`` is standard input if allowed), at most ``limit`` bytes.

    Raises :class:`~secexkit.errors.InputError` naming ``what`` and ``path`` when
    the input cannot be opened, is not a file or pipe, or is larger than ``limit``.
    """
    if path == "-" and allow_stdin:
        stream = sys.stdin.buffer
        try:
            fd = stream.fileno()
        except (OSError, ValueError):  # an in-memory stream (embedding, tests): read it capped
            data = stream.read(limit + 1)
            if len(data) > limit:
                raise InputError(f"{what} `{path}` is larger than {limit} bytes") from None
            return bytes(data)
        return _read_capped(fd, path, what, limit)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise InputError(f"Cannot read {what} at `{path}`: {exc.strerror or exc}") from None
    try:
        status = os.fstat(fd)
        if stat.S_ISREG(status.st_mode):
            if status.st_size > limit:
                raise InputError(f"{what} `{path}` is larger than {limit} bytes")
        elif stat.S_ISDIR(status.st_mode):
            raise InputError(f"Cannot read {what} at `{path}`: Is a directory")
        elif not stat.S_ISFIFO(status.st_mode):
            raise InputError(f"Cannot read {what} at `{path}`: not a regular file or pipe")
        else:
            return _read_pipe(fd, path, what, limit)
        os.set_blocking(fd, True)
        return _read_capped(fd, path, what, limit)
    finally:
        os.close(fd)


def read_exact(path: str, size: int, what: str) -> bytes:
    """A key or secret file that must hold exactly ``size`` bytes (:func:`read_input`'s
    checks; a wrong size names the file and its size)."""
    data = read_input(path, what, max(size, MAX_EXACT_KEY_FILE))
    if len(data) != size:
        raise InputError(f"{what} must be exactly {size} bytes long",
                         f"`{path}` has {len(data)} bytes")
    return data


def _read_pipe(fd: int, path: str, what: str, limit: int) -> bytes:
    """A FIFO or pipe, still non-blocking: wait for data at most :data:`PIPE_IDLE_TIMEOUT` each time.

    A FIFO opened for reading before any writer reports neither data nor hang-up
    until a writer comes (Linux), so a writer that is about to open it is waited
    for, and one that never comes ends in a refusal instead of a hang.
    """
    import select

    poller = select.poll()
    poller.register(fd, select.POLLIN)

    def wait() -> None:
        if not poller.poll(int(PIPE_IDLE_TIMEOUT * 1000)):
            raise InputError(f"Cannot read {what} at `{path}`: no data for {PIPE_IDLE_TIMEOUT:g} "
                             "seconds (a FIFO without a writer?)")

    return _read_capped(fd, path, what, limit, wait=wait)


def _read_capped(fd: int, path: str, what: str, limit: int,
                 wait: Callable[[], None] | None = None) -> bytes:
    """Read to the end, refusing more than ``limit`` bytes; ``wait`` (a non-blocking
    ``fd``) is called before each read."""
    chunks: list[bytes] = []
    total = 0
    while True:
        if wait is not None:
            wait()
        try:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
        except BlockingIOError:
            continue
        except OSError as exc:
            raise InputError(f"Cannot read {what} at `{path}`: {exc.strerror or exc}") from None
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise InputError(f"{what} `{path}` is larger than {limit} bytes")


class _Capped(io.RawIOBase):
    """A regular file read up to the size it had when opened; more is an error."""

    def __init__(self, raw: io.FileIO, size: int, path: str, what: str) -> None:
        super().__init__()
        self._raw = raw
        self._left = size
        self._size = size
        self._label = _named(what, path)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        if self._left <= 0:
            if self._raw.read(1):  # the file grew while we read it
                raise InputError(f"{self._label} is larger than {self._size} bytes "
                                 "(it grew while being read)")
            return 0
        count = self._raw.readinto(view[:self._left]) or 0
        self._left -= count
        return count

    def close(self) -> None:
        self._raw.close()
        super().close()


def open_regular(path: str | os.PathLike[str], what: str, limit: int | None = None, *,
                 capped: bool = False) -> tuple[io.BufferedReader, int]:
    """Open a regular file for streamed or random-access reading: ``(stream, size)``.

    FIFOs, devices, sockets and directories are refused (without blocking on a
    FIFO that has no writer), so are files larger than ``limit``.  With
    ``capped`` the stream reads at most the size the file had when opened and
    raises :class:`~secexkit.errors.InputError` if the file grew meanwhile
    (random access is then unavailable).
    """
    name = os.fspath(path)
    try:
        fd = os.open(name, _OPEN_FLAGS)
    except OSError as exc:
        raise InputError(f"Cannot open {_named(what, name)}: {exc.strerror or exc}") from None
    try:
        status = os.fstat(fd)
        if stat.S_ISDIR(status.st_mode):
            raise InputError(f"Cannot open {_named(what, name)}: Is a directory")
        if not stat.S_ISREG(status.st_mode):
            raise InputError(f"Cannot read {_named(what, name)}: not a regular file")
        if limit is not None and status.st_size > limit:
            raise InputError(f"{_named(what, name)} is larger than {limit} bytes")
        os.set_blocking(fd, True)
        raw = io.FileIO(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise
    if capped:
        return io.BufferedReader(_Capped(raw, status.st_size, name, what)), status.st_size
    return io.BufferedReader(raw), status.st_size


# ---------------------------------------------------------------------------- same file

def _identity(path: str) -> tuple[str, tuple[int, int] | None]:
    real = os.path.realpath(path)
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return real, None
    return real, (status.st_dev, status.st_ino)


def check_distinct(outputs: Iterable[tuple[str, str | os.PathLike[str] | None]],
                   inputs: Iterable[tuple[str, str | os.PathLike[str] | None]] = ()) -> None:
    """Refuse an output that is the same file as another output or as an input.

    Both are ``(label, path)`` pairs; ``None`` and ``-`` (standard streams) are
    skipped.  Two paths are the same file if they resolve to the same path
    (symbolic links followed, even dangling ones) or name the same inode (hard
    links).  Raises :class:`~secexkit.errors.InputError` naming both; call it
    before anything is written.
    """
    def usable(pairs: Iterable[tuple[str, str | os.PathLike[str] | None]]
               ) -> list[tuple[str, str, tuple[str, tuple[int, int] | None]]]:
        found = []
        for label, path in pairs:
            if path is None:
                continue
            name = os.fspath(path)
            if name in ("", "-"):
                continue
            found.append((label, name, _identity(name)))
        return found

    outs = usable(outputs)
    others = outs + usable(inputs)
    for index, (label, name, (real, inode)) in enumerate(outs):
        for other_label, other_name, (other_real, other_inode) in others[index + 1:]:
            if real == other_real or (inode is not None and inode == other_inode):
                raise InputError(f"{label} `{name}` and {other_label} `{other_name}` "
                                 "are the same file: choose another output")


# ---------------------------------------------------------------------------- outputs

def check_output(path: str | os.PathLike[str], *, overwrite: bool = True,
                 hint: str = "") -> None:
    """Fail early, before any expensive work, if ``path`` cannot become an output file.

    Refused: a directory, a name ending in ``/``, an existing FIFO, device or
    socket (replacing ``/dev/null`` or a FIFO is never meant), any existing
    file without ``overwrite`` (``hint`` is appended to that message), and a
    missing or unwritable parent directory.  ``-`` (standard output) passes.
    """
    target = os.fspath(path)
    if target == "-":
        return
    if os.path.isdir(target):
        raise InputError(f"Cannot write `{target}`: it is a directory")
    if target.endswith(("/", os.sep)):
        raise InputError(f"Cannot write `{target}`: a file name cannot end with '/'")
    try:
        mode: int | None = os.lstat(target).st_mode
    except OSError:
        mode = None
    if mode is not None:
        if not overwrite:
            raise InputError(f"Output `{target}` already exists{hint}")
        if stat.S_ISLNK(mode):
            with contextlib.suppress(OSError):
                mode = os.stat(target).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
            raise InputError(f"Cannot write `{target}`: it exists and is not a regular file")
    parent = os.path.dirname(target) or "."
    if not os.path.isdir(parent):
        raise InputError(f"Cannot create `{target}`: the directory `{parent}` does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"Cannot create `{target}`: no permission to write in `{parent}`")


def _temporary_beside(target: str, mode: int) -> tuple[int, str]:
    """A new, exclusively created ``.NAME.<96 random bits>.part`` in the target's directory."""
    directory = os.path.dirname(target) or "."
    name = os.path.basename(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        tmp = os.path.join(directory, f".{name}.{os.urandom(12).hex()}.part")
        try:
            return os.open(tmp, flags, mode), tmp
        except FileExistsError:
            continue
        except OSError as exc:
            raise InputError(f"Cannot create `{target}`: {exc.strerror or exc}") from None
    raise InputError(f"Cannot create `{target}`: no free temporary name in `{directory}`")


class _Staged:
    """One output being written to its temporary file."""

    def __init__(self, target: str, tmp: str, stream: io.FileIO, overwrite: bool) -> None:
        self.target = target
        self.tmp: str | None = tmp
        self.stream = stream
        self.overwrite = overwrite
        self.backup: str | None = None  # the replaced file, kept until the commit succeeded
        self.placed = False


class _Append:
    """An append to an existing (or new) file, done after the renames."""

    def __init__(self, target: str, fd: int, size: int, data: bytes) -> None:
        self.target = target
        self.fd = fd
        self.size = size
        self.data = data


class OutputTransaction:
    """Stage every output of a command beside its target, then put them in place together.

    Each file output is written to an exclusively created temporary file with an
    unpredictable name in the target's directory (so nobody can pre-create or
    swap it), with mode ``mode & ~umask`` (``secret=True``: exactly 0600 under
    any umask).  :meth:`commit` fsyncs every file, renames all of them (an
    existing target is replaced only with ``overwrite``; a file that appeared
    meanwhile is never replaced without it), performs the appends, fsyncs the
    directories and writes the standard-output parts.  On any error, including
    ``KeyboardInterrupt`` and :class:`Interrupted`, every temporary file is
    removed and targets already replaced are restored: all outputs or none.

    Use it as a context manager: it commits when the block ends normally and
    discards when it raises.
    """

    def __init__(self, *, sync: bool = True) -> None:
        self.sync = sync
        self._staged: list[_Staged] = []
        self._appends: list[_Append] = []
        self._stdout: list[bytes] = []

    # -- staging

    def open(self, path: str | os.PathLike[str], *, secret: bool = False, mode: int = 0o666,
             overwrite: bool = True, hint: str = "") -> BinaryIO:
        """A new unbuffered binary stream (seekable) that becomes ``path`` at commit."""
        target = os.fspath(path)
        if target == "-":
            raise InputError("Cannot stream to standard output: name a file")
        check_output(target, overwrite=overwrite, hint=hint)
        fd, tmp = _temporary_beside(target, 0o600 if secret else mode)
        try:
            if secret:
                os.fchmod(fd, 0o600)  # whatever the umask: owner read and write
            stream = io.FileIO(fd, "wb", closefd=True)
        except OSError as exc:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise InputError(f"Cannot create `{target}`: {exc.strerror or exc}") from None
        self._staged.append(_Staged(target, tmp, stream, overwrite))
        return stream

    def add(self, path: str | os.PathLike[str], data: bytes, *, secret: bool = False,
            mode: int = 0o666, overwrite: bool = True, hint: str = "") -> None:
        """Stage ``data`` for ``path`` (``-``: standard output, written at commit)."""
        if os.fspath(path) == "-":
            self._stdout.append(data)
            return
        stream = self.open(path, secret=secret, mode=mode, overwrite=overwrite, hint=hint)
        try:
            view = memoryview(data)
            while view:
                view = view[stream.write(view) or 0:]
        except OSError as exc:
            raise InputError(f"Cannot write `{os.fspath(path)}`: {exc.strerror or exc}") from None

    def append(self, path: str | os.PathLike[str], data: bytes) -> None:
        """Append ``data`` to the regular file ``path`` (created if missing) at commit.

        The file is opened now (a FIFO or device is refused without blocking); the
        bytes are written after all renames, and cut off again if the commit fails.
        """
        target = os.fspath(path)
        check_output(target)
        flags = (os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NONBLOCK
                 | getattr(os, "O_NOCTTY", 0))
        try:
            fd = os.open(target, flags, 0o666)
        except OSError as exc:
            raise InputError(f"Cannot append to `{target}`: {exc.strerror or exc}") from None
        try:
            status = os.fstat(fd)
            if not stat.S_ISREG(status.st_mode):
                raise InputError(f"Cannot append to `{target}`: not a regular file")
            os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        self._appends.append(_Append(target, fd, status.st_size, data))

    # -- commit and discard

    def commit(self) -> None:
        """Put every staged output in place (see the class); on error nothing changes."""
        try:
            self._commit()
            self._stdout_parts()  # a failure here (e.g. a closed pipe) undoes the files too
        except BaseException:
            self._rollback()
            self.discard()
            raise
        self._forget_backups()

    def _commit(self) -> None:
        for item in self._staged:
            try:
                if self.sync:
                    os.fsync(item.stream.fileno())
                item.stream.close()
            except OSError as exc:
                raise InputError(f"Cannot write `{item.target}`: {exc.strerror or exc}") from None
        for item in self._staged:
            self._place(item)
        for append in self._appends:
            try:
                view = memoryview(append.data)
                while view:
                    view = view[os.write(append.fd, view):]
                if self.sync:
                    os.fsync(append.fd)
            except OSError as exc:
                raise InputError(f"Cannot append to `{append.target}`: "
                                 f"{exc.strerror or exc}") from None
        if self.sync:
            for directory in {os.path.dirname(item.target) or "." for item in self._staged}:
                _fsync_directory(directory)

    def _forget_backups(self) -> None:
        for item in self._staged:
            if item.backup is not None:
                with contextlib.suppress(OSError):
                    os.unlink(item.backup)
                item.backup = None
        for append in self._appends:
            with contextlib.suppress(OSError):
                os.close(append.fd)
        self._appends.clear()
        self._staged.clear()

    def _place(self, item: _Staged) -> None:
        assert item.tmp is not None
        target = item.target
        try:
            mode = os.lstat(target).st_mode
        except OSError:
            mode = None
        if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
            raise InputError(f"Cannot write `{target}`: it exists and is not a regular file")
        try:
            if item.overwrite:
                if mode is not None and stat.S_ISREG(mode):
                    item.backup = _link_backup(target)
                os.replace(item.tmp, target)
            else:
                _link_new(item.tmp, target)
        except FileExistsError:
            raise InputError(f"Output `{target}` already exists") from None
        except OSError as exc:
            raise InputError(f"Cannot write `{target}`: {exc.strerror or exc}") from None
        item.tmp = None
        item.placed = True

    def _rollback(self) -> None:
        for item in reversed(self._staged):
            if not item.placed:
                continue
            with contextlib.suppress(OSError):
                if item.backup is not None:
                    os.replace(item.backup, item.target)
                    item.backup = None
                else:
                    os.unlink(item.target)
            item.placed = False
        for append in self._appends:
            with contextlib.suppress(OSError):
                os.ftruncate(append.fd, append.size)

    def _stdout_parts(self) -> None:
        if self._stdout:
            for data in self._stdout:
                sys.stdout.buffer.write(data)
            sys.stdout.flush()
            self._stdout.clear()

    def discard(self) -> None:
        """Remove every temporary file (idempotent); nothing is put in place."""
        for item in self._staged:
            with contextlib.suppress(OSError):
                item.stream.close()
            for leftover in (item.tmp, item.backup):
                if leftover is not None:
                    with contextlib.suppress(OSError):
                        os.unlink(leftover)
        self._staged.clear()
        for append in self._appends:
            with contextlib.suppress(OSError):
                os.close(append.fd)
        self._appends.clear()
        self._stdout.clear()

    def __enter__(self) -> OutputTransaction:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is not None:
            self.discard()
            return
        self.commit()


def _link_backup(target: str) -> str | None:
    """A hard link to the file about to be replaced, to restore it if the commit fails."""
    directory = os.path.dirname(target) or "."
    for _ in range(10):
        backup = os.path.join(directory, f".{os.path.basename(target)}.{os.urandom(12).hex()}.part")
        try:
            os.link(target, backup, follow_symlinks=False)
            return backup
        except FileExistsError:
            continue
        except OSError:
            return None  # no hard links here: the commit cannot be undone for this file
    return None


def _link_new(tmp: str, target: str) -> None:
    """Move ``tmp`` to ``target`` without ever replacing an existing ``target``."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV,
                             errno.EMLINK, errno.ENOSYS):
            raise
        # no hard links here: rename after a last look (a small window remains)
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "File exists", target) from None
        os.rename(tmp, target)
        return
    os.unlink(tmp)


#: what fsync of a directory answers on file systems that do not sync directories
_NO_DIRECTORY_SYNC: Final = frozenset({errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP,
                                       errno.EBADF, errno.EACCES, errno.EPERM})


def _fsync_directory(directory: str, *, strict: bool = False) -> None:
    """fsync a directory; ``strict``: an I/O error (not "cannot sync directories here") raises."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        if strict:
            raise
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if strict and exc.errno not in _NO_DIRECTORY_SYNC:
            raise
    finally:
        os.close(fd)


_SYNCFS: list[object] = []  # [libc syncfs function or None], resolved on first use


def _syncfs() -> object:
    """libc's ``syncfs`` where it reports write-back errors (Linux 5.8 and later), else None."""
    if not _SYNCFS:
        function = None
        release = os.uname().release if hasattr(os, "uname") else ""
        try:
            version = tuple(int(part) for part in release.split("-")[0].split(".")[:2])
        except ValueError:
            version = ()
        if sys.platform.startswith("linux") and version >= (5, 8):
            with contextlib.suppress(Exception):
                import ctypes

                function = getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None)
        _SYNCFS.append(function)
    return _SYNCFS[0]


class FolderFlush:
    """Makes the files of a batch of folders durable with one flush (ADR 0150).

    Open it *before* the batch is written: on Linux 5.8 and later ``syncfs(2)`` then
    reports every write-back error of the file system since this point to this flush,
    even one another process's flush saw first.  Elsewhere (older kernels, which do not
    report write-back errors through ``syncfs``, and other systems) every file and
    folder is fsynced.  Use as a context manager; :meth:`flush` raises :class:`OSError`.
    """

    def __init__(self, anchor: str) -> None:
        self._function = _syncfs()
        self._fd: int | None = None
        if self._function is not None:
            self._fd = os.open(anchor, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_DIRECTORY", 0))
        self._anchor = anchor

    def flush(self, folders: Iterable[str]) -> None:
        """Make every file written into ``folders`` (on the anchor's file system) durable."""
        if self._fd is not None:
            import ctypes

            if self._function(self._fd) != 0:  # type: ignore[operator]
                code = ctypes.get_errno()
                raise OSError(code, os.strerror(code), self._anchor)
            return
        for folder in folders:
            with os.scandir(folder) as entries:
                for entry in entries:
                    fd = os.open(entry.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
            _fsync_directory(folder, strict=True)

    def close(self) -> None:
        """Release the file system handle."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FolderFlush:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_atomic(path: str | os.PathLike[str], data: bytes, *, secret: bool = False,
                 mode: int = 0o666, overwrite: bool = True, sync: bool = True) -> None:
    """Write one output atomically (see :class:`OutputTransaction`)."""
    with OutputTransaction(sync=sync) as outputs:
        outputs.add(path, data, secret=secret, mode=mode, overwrite=overwrite)


# ---------------------------------------------------------------------------- signals

class Interrupted(BaseException):
    """A termination signal arrived while :func:`raise_on_signals` was active.

    A ``BaseException`` (as ``KeyboardInterrupt``), so that ``except Exception``
    does not swallow it while the writers clean up on the way out.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def raise_on_signals(signums: Iterable[int] | None = None) -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into :class:`Interrupted` while the block runs.

    Only in the main thread, and only for signals whose handler is the default
    one: a signal the caller ignores (``nohup`` ignores SIGHUP) or handles
    itself is left alone.  After the first signal further ones are ignored, so
    that the clean-up on the way out is not interrupted; the previous handlers
    come back when the block ends.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = list(signums) if signums is not None else [
        getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    fired = False

    def handler(signum: int, frame: object) -> None:
        nonlocal fired
        if fired:
            return
        fired = True
        raise Interrupted(signum)

    saved = {}
    try:
        for signum in wanted:
            if signal.getsignal(signum) is signal.SIG_DFL:
                saved[signum] = signal.signal(signum, handler)
        yield
    finally:
        for signum, previous in saved.items():
            signal.signal(signum, previous)
