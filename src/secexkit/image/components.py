"""Secured components: padding, AES-256-XTS per 4 KiB page, PLD/ALD/TLD digests.

Each secured component (kernel, ramdisk, command line, stage3b) is read in
4 KiB pages, the last one zero-padded (an empty input still gives one page).
Page ``i`` is encrypted with the tweak ``base + i * 4096`` (128-bit big-endian
arithmetic).  Three SHA-512 digests run across all components in layout order:
PLD over the output pages, ALD over the 8-byte page addresses, TLD over the
16-byte page tweaks.

Streaming: memory is a few fixed buffers whatever the input size.  The main
thread reads and encrypts page by page; a second thread hashes the output (PLD)
and a third writes it, 1 MiB at a time — hashlib and file writes release the
GIL, so the work spreads over the cores.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, Final, Protocol

from ..crypto.xts import batch_cipher
from ..errors import InputError
from ..formats.sizes import PAGE_SIZE
from ..formats.tweak import COMPONENT_TWEAK, TWEAK_PREFIX_SIZE, ComponentKind
from ..secret import SecretBytes
from .header import ComponentDigests

__all__ = [
    "BATCH_PAGES",
    "DROP_BEHIND_WINDOWS",
    "PIPELINE_DEPTH",
    "WRITE_BEHIND_BYTES",
    "CmdlineSource",
    "ComponentEncryptor",
    "ComponentKind",
    "PageSource",
    "Progress",
    "SecuredComponent",
    "new_tweak_base",
    "padded_size",
    "page_tweak",
]

log = logging.getLogger(__name__)

#: pages per pipeline batch (1 MiB)
BATCH_PAGES: Final = 256
#: output buffers in flight between the encrypting and the writing thread
PIPELINE_DEPTH: Final = 4
_TWEAK_MODULUS: Final = 1 << 128


def new_tweak_base(kind: ComponentKind, random6: bytes | None = None) -> bytes:
    """``kind (u16) || 6 random bytes || page offset 0 (u64)`` (:data:`COMPONENT_TWEAK`)."""
    size = COMPONENT_TWEAK["random"].size
    rand = os.urandom(size) if random6 is None else random6
    if len(rand) != size:
        raise ValueError(f"the random part of a tweak is {size} bytes")
    return COMPONENT_TWEAK.pack({"kind": int(kind), "random": rand, "page_offset": 0})


def page_tweak(base: bytes, page: int) -> bytes:
    """The tweak of page ``page``: ``base + page * 4096`` modulo 2**128."""
    return ((int.from_bytes(base, "big") + page * PAGE_SIZE) % _TWEAK_MODULUS).to_bytes(
        COMPONENT_TWEAK.size, "big")


def padded_size(size: int) -> int:
    """Size after padding to whole pages; an empty component still takes a page."""
    return max(1, -(-size // PAGE_SIZE)) * PAGE_SIZE


@dataclass(frozen=True)
class SecuredComponent:
    """Where one component landed in the image and with which tweak."""

    kind: ComponentKind
    address: int
    size: int
    """padded (output) size"""
    original_size: int
    tweak: bytes

    @property
    def tweak_prefix(self) -> int:
        """The first 8 tweak bytes as u64 (what the IPIB lists)."""
        return int.from_bytes(self.tweak[:TWEAK_PREFIX_SIZE], "big")

    @property
    def end(self) -> int:
        """The first address after the component."""
        return self.address + self.size


class PageSource(Protocol):
    """Anything with ``readinto`` (files, :class:`CmdlineSource`)."""

    def readinto(self, buffer: memoryview, /) -> int | None:
        """Read into ``buffer``; 0 or None at the end."""


class CmdlineSource:
    """A command line: the file content plus a NUL unless it already ends with one."""

    def __init__(self, stream: PageSource) -> None:
        self._stream = stream
        self._last: int | None = None
        self._done = False

    def readinto(self, buffer: memoryview, /) -> int:
        """Fill ``buffer`` from the file, then the NUL; 0 at the end."""
        if self._done or len(buffer) == 0:
            return 0
        count = self._stream.readinto(buffer) or 0
        if count:
            self._last = buffer[count - 1]
            return count
        self._done = True
        if self._last == 0:
            return 0
        buffer[0] = 0
        return 1


def _fill(source: PageSource, buffer: memoryview) -> int:
    """Read until ``buffer`` is full or the source ends."""
    total = 0
    while total < len(buffer):
        count = source.readinto(buffer[total:])
        if not count:
            break
        total += count
    return total


Progress = Callable[[int], None]


Job = tuple[bytearray, int] | None


class _Stage(threading.Thread):
    """One pipeline stage: apply ``work`` to each buffer in order, then pass it on.

    After an error the stage keeps passing buffers on (so nobody waits forever)
    but does no more work; the error is reported by the encryptor.  ``taken`` is
    released each time the stage takes a buffer (see :meth:`ComponentEncryptor.add`).
    """

    def __init__(self, name: str, work: Callable[[memoryview], object],
                 forward: Callable[[Job], None]) -> None:
        super().__init__(name=name, daemon=True)
        self.work = work
        self.forward = forward
        self.jobs: queue.Queue[Job] = queue.Queue()
        self.taken = threading.Semaphore(0)
        self.error: BaseException | None = None

    def run(self) -> None:
        while True:
            job = self.jobs.get()
            self.taken.release()
            if job is not None and self.error is None:
                buffer, size = job
                try:
                    self.work(memoryview(buffer)[:size])
                except BaseException as exc:
                    self.error = exc
            self.forward(job)
            if job is None:
                return


def _page_views(buffer: bytearray, length: int) -> list[memoryview]:
    """Views of each page of a batch buffer (``length`` may reach into the next page)."""
    view = memoryview(buffer)
    return [view[i * PAGE_SIZE:i * PAGE_SIZE + length] for i in range(BATCH_PAGES)]


def _write_all(out: BinaryIO, view: memoryview) -> None:
    while view:
        written = out.write(view)
        view = view[written or 0:]


#: write-behind window: after this many bytes the writer asks the kernel to start
#: writing them to disk, so that the final fsync finds little left to do
WRITE_BEHIND_BYTES: Final = 8 << 20
#: written-back windows older than this many are dropped from the page cache
DROP_BEHIND_WINDOWS: Final = 4


class _Writer:
    """Sequential writer of the output stream, optionally with write-behind.

    With ``write_behind`` every :data:`WRITE_BEHIND_BYTES` the range just written
    is handed to ``posix_fadvise(POSIX_FADV_DONTNEED)``: on Linux that starts
    asynchronous writeback of its dirty pages (it does not wait for it) and drops
    what is already clean.  A second call a few windows later drops the then
    written-back pages, so a 1 GiB image does not fill the page cache either.
    Durability still comes from the final fsync (:mod:`.output`); this only moves
    the disk work into the time we spend computing (ADR 0024).  Any error of
    the hint disables it; write errors are reported as usual.
    """

    def __init__(self, out: BinaryIO, start: int, write_behind: bool) -> None:
        self.out = out
        self.position = start
        self.window_start = start
        self.fd: int | None = None
        advise = getattr(os, "posix_fadvise", None)
        if write_behind and advise is not None:
            try:
                self.fd = out.fileno()
            except (OSError, ValueError):
                self.fd = None
        self.windows: list[tuple[int, int]] = []

    def __call__(self, view: memoryview) -> None:
        _write_all(self.out, view)
        self.position += len(view)
        if self.fd is not None and self.position - self.window_start >= WRITE_BEHIND_BYTES:
            window = (self.window_start, self.position - self.window_start)
            self.window_start = self.position
            self.windows.append(window)
            try:
                os.posix_fadvise(self.fd, *window, os.POSIX_FADV_DONTNEED)
                if len(self.windows) > DROP_BEHIND_WINDOWS:
                    os.posix_fadvise(self.fd, *self.windows.pop(0), os.POSIX_FADV_DONTNEED)
            except OSError:
                self.fd = None


class ComponentEncryptor:
    """Streams secured components into ``out`` (positioned at ``start``)."""

    def __init__(self, out: BinaryIO, start: int, image_key: SecretBytes, *,
                 encrypt: bool = True, progress: Progress | None = None,
                 write_behind: bool = False, name: str = "the image") -> None:
        if start % PAGE_SIZE:
            raise ValueError("secured components must start on a page boundary")
        self._cipher = batch_cipher(image_key) if encrypt else None
        self._name = name
        self._next = start
        self._progress = progress
        self._pld = hashlib.sha512()
        self._ald = hashlib.sha512()
        self._tld = hashlib.sha512()
        self._pages = 0
        self._free: queue.Queue[bytearray] = queue.Queue()
        # page views of every buffer, made once (slicing per page costs time)
        self._out_pages: dict[int, list[memoryview]] = {}
        for _ in range(PIPELINE_DEPTH):
            buffer = bytearray(BATCH_PAGES * PAGE_SIZE + 16)
            self._out_pages[id(buffer)] = _page_views(buffer, PAGE_SIZE + 16)
            self._free.put(buffer)
        self._input = bytearray(BATCH_PAGES * PAGE_SIZE)
        self._in_pages = _page_views(self._input, PAGE_SIZE)
        # encrypt (this thread) -> hash PLD -> write: hashing and writing overlap
        self._write_stage = _Stage("secexkit-image-write", _Writer(out, start, write_behind),
                                   self._recycle)
        self._hash_stage = _Stage("secexkit-image-hash", self._pld.update,
                                  self._write_stage.jobs.put)
        self._write_stage.start()
        self._hash_stage.start()
        self._closed = False
        self.components: list[SecuredComponent] = []

    @property
    def next_address(self) -> int:
        """Where the next component will start."""
        return self._next

    def _recycle(self, job: Job) -> None:
        if job is not None:
            self._free.put(job[0])

    def _check_writer(self) -> None:
        error = self._hash_stage.error or self._write_stage.error
        if error is not None:
            if isinstance(error, OSError):
                raise InputError(f"Cannot write `{self._name}`: {error.strerror or error}") \
                    from error
            raise error

    def add(self, kind: ComponentKind, source: PageSource, tweak: bytes | None = None,
            max_size: int | None = None) -> SecuredComponent:
        """Read ``source`` to its end and append it as the next secured component."""
        if self._closed:
            raise ValueError("the component encryptor is already finished")
        base = tweak if tweak is not None else new_tweak_base(kind)
        if len(base) != COMPONENT_TWEAK.size:
            raise ValueError(f"a component tweak is {COMPONENT_TWEAK.size} bytes")
        address = self._next
        base_int = int.from_bytes(base, "big")
        tweak_size = COMPONENT_TWEAK.size
        in_view = memoryview(self._input)
        original = 0
        page_index = 0
        cipher = self._cipher
        while True:
            try:
                count = _fill(source, in_view)
            except OSError as exc:
                raise InputError(f"Cannot read the {kind.label}: {exc.strerror or exc}") from None
            original += count
            if max_size is not None and original > max_size:
                raise InputError(f"The {kind.label} is larger than {max_size} bytes")
            if count == 0 and page_index > 0:
                break
            pages = max(1, -(-count // PAGE_SIZE))
            used = pages * PAGE_SIZE
            if used != count:
                in_view[count:used] = bytes(used - count)
            self._check_writer()
            out = self._free.get()
            out_view = memoryview(out)
            tweaks = [
                ((base_int + (page_index + i) * PAGE_SIZE) % _TWEAK_MODULUS).to_bytes(tweak_size, "big")
                for i in range(pages)
            ]
            if cipher is None:
                out_view[:used] = in_view[:used]
            else:
                cipher(tweaks, self._in_pages, self._out_pages[id(out)])
            self._hash_stage.jobs.put((out, used))
            # Wait until the hashing thread has taken the batch.  This thread holds
            # the GIL while it encrypts; a thread coming back from hashlib or a write
            # would otherwise wait for the interpreter's switch interval (5 ms by
            # default, several batches' time) before it gets the GIL back.  Blocking
            # here hands it over once per batch, without changing the process-wide
            # switch interval (ADR 0061).
            while not self._hash_stage.taken.acquire(timeout=1.0):
                if not self._hash_stage.is_alive():
                    raise RuntimeError("the image hashing thread stopped unexpectedly")
            self._tld.update(b"".join(tweaks))
            first = address + page_index * PAGE_SIZE
            self._ald.update(struct.pack(f">{pages}Q", *range(first, first + used, PAGE_SIZE)))
            page_index += pages
            if self._progress is not None and count:
                self._progress(count)
            if count < len(in_view):
                break
        size = page_index * PAGE_SIZE
        self._pages += page_index
        self._next = address + size
        component = SecuredComponent(kind, address, size, original, base)
        self.components.append(component)
        log.debug("%s: %d bytes at %#x (%d pages)", kind.label, original, address, page_index)
        return component

    def close(self) -> None:
        """Stop the writer thread (idempotent); pending buffers are still written."""
        if not self._closed:
            self._closed = True
            self._hash_stage.jobs.put(None)
            self._hash_stage.join()
            self._write_stage.join()

    def finish(self) -> ComponentDigests:
        """Wait for the output and return PLD, ALD, TLD and the page count."""
        self.close()
        self._check_writer()
        return ComponentDigests(self._pld.digest(), self._ald.digest(), self._tld.digest(),
                                self._pages)
