"""A streaming, atomic output file: ``OUTPUT.part`` (mode 0600) renamed at the end.

The ``.part`` file is created exclusively, so two runs never write into each
other's file; on any error it is removed.  Without ``overwrite`` the final
step links the file into place, which fails (instead of replacing) if the
output appeared meanwhile.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from ..errors import InputError

log = logging.getLogger(__name__)


class AtomicOutput:
    def __init__(self, path: str | os.PathLike[str], *, overwrite: bool = False,
                 sync: bool = True) -> None:
        self.given = os.fspath(path)
        # Path() drops a trailing slash: "new/" would silently become the file "new"
        self._names_directory = self.given.endswith(("/", os.sep))
        self.path = Path(path)
        self.sync = sync
        self.part = self.path.with_name(self.path.name + ".part")
        self.overwrite = overwrite
        self._stream: BinaryIO | None = None

    def check_target(self) -> None:
        """Fail early (before any work) if the output exists and may not be replaced."""
        if self.path.is_dir():
            raise InputError(f"Cannot write `{self.given}`: it is a directory")
        if self._names_directory:
            raise InputError(f"Cannot write `{self.given}`: a file name cannot end with '/'")
        if not self.overwrite and os.path.lexists(self.path):
            raise InputError(f"Output `{self.path}` already exists (use --overwrite to replace it)")
        try:
            mode = os.lstat(self.path).st_mode
        except OSError:
            return
        # --overwrite replaces files (or symbolic links), never /dev/null or a FIFO
        if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
            raise InputError(f"Cannot write `{self.given}`: it exists and is not a regular file")

    def __enter__(self) -> BinaryIO:
        self.check_target()
        try:
            fd = os.open(self.part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                         0o600)
        except OSError as exc:
            raise InputError(f"Cannot create `{self.part}`: {exc.strerror or exc}") from None
        self._stream = os.fdopen(fd, "wb", buffering=0)
        return self._stream

    def _discard(self) -> None:
        if self._stream is not None:
            with contextlib.suppress(OSError):
                self._stream.close()
        with contextlib.suppress(OSError):
            self.part.unlink()

    def _commit(self) -> None:
        assert self._stream is not None
        try:
            self._stream.flush()
            if self.sync:
                os.fsync(self._stream.fileno())
            self._stream.close()
        except OSError as exc:
            raise InputError(f"Cannot write `{self.part}`: {exc.strerror or exc}") from None
        try:
            if self.overwrite:
                os.replace(self.part, self.path)
                return
            try:
                os.link(self.part, self.path)
            except OSError as exc:
                if exc.errno == errno.EEXIST:
                    raise InputError(f"Output `{self.path}` already exists "
                                     "(use --overwrite to replace it)") from None
                # no hard links here: a plain rename after the existence check
                self.check_target()
                os.rename(self.part, self.path)
                return
            self.part.unlink()
        except OSError as exc:
            raise InputError(f"Cannot write `{self.path}`: {exc.strerror or exc}") from None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is not None:
            self._discard()
            return
        try:
            self._commit()
        except BaseException:
            self._discard()
            raise
