"""secexkit.fileio: bounded inputs, the atomic writer, the same-file check, printable text."""

from __future__ import annotations

import os
import signal
import stat
import threading
import time
from pathlib import Path

import pytest

from secexkit import fileio
from secexkit.errors import InputError


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part"))


# ---------------------------------------------------------------------------- printable

def test_printable_escapes_controls() -> None:
    assert fileio.printable("plain/path ok") == "plain/path ok"
    assert fileio.printable("a\nb\rc\td") == "a\\nb\\rc\\td"
    assert fileio.printable("\x1b[2Jverified OK") == "\\x1b[2Jverified OK"
    assert fileio.printable("x\x7fy\x9bz\x85") == "x\\x7fy\\x9bz\\x85"
    assert fileio.printable("r\u202etxt.exe\u2028") == "r\\u202etxt.exe\\u2028"
    assert fileio.printable(os.fsdecode(b"bad\xffname")) == "bad\\xffname"
    assert fileio.printable("Grüße — 名前") == "Grüße — 名前"
    for code in [*range(0x20), *range(0x7F, 0xA0)]:
        escaped = fileio.printable(chr(code))
        assert escaped.startswith("\\") and escaped.isprintable(), code


# ---------------------------------------------------------------------------- inputs

def test_read_input_limits(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.write_bytes(b"x" * 100)
    assert fileio.read_input(str(small), "thing", 100) == b"x" * 100
    with pytest.raises(InputError, match=r"^thing `.*small` is larger than 99 bytes$"):
        fileio.read_input(str(small), "thing", 99)
    sparse = tmp_path / "sparse"
    with open(sparse, "wb") as stream:
        stream.truncate(10 << 30)  # 10 GiB, refused before a byte is read
    with pytest.raises(InputError, match="larger than 1024 bytes"):
        fileio.read_input(str(sparse), "thing", 1024)
    with pytest.raises(InputError, match="not a regular file or pipe"):
        fileio.read_input("/dev/zero", "thing", 1024)
    with pytest.raises(InputError, match="Is a directory"):
        fileio.read_input(str(tmp_path), "thing", 1024)


def test_read_input_fifo_without_writer_and_endless_pipe(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    # no writer ever: opening does not block, the wait for one ends
    monkeypatch.setattr(fileio, "PIPE_IDLE_TIMEOUT", 0.1)
    with pytest.raises(InputError, match=r"no data for 0\.1 seconds"):
        fileio.read_input(str(fifo), "thing", 10)
    # a writer that comes late is waited for (no premature end of input)
    def late_writer() -> None:
        time.sleep(0.05)
        with open(fifo, "wb") as stream:
            stream.write(b"late")

    monkeypatch.setattr(fileio, "PIPE_IDLE_TIMEOUT", 10)
    thread = threading.Thread(target=late_writer)
    thread.start()
    assert fileio.read_input(str(fifo), "thing", 10) == b"late"
    thread.join()
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    try:
        os.write(write_end, b"y" * 60000)
        with pytest.raises(InputError, match="larger than 1000 bytes"):
            fileio.read_input(f"/dev/fd/{read_end}", "thing", 1000)
    finally:
        os.close(read_end)
        os.close(write_end)


def test_open_regular(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, message in ((fifo, "not a regular file"), (Path("/dev/zero"), "not a regular file"),
                          (tmp_path, "Is a directory"), (tmp_path / "missing", "Cannot open")):
        with pytest.raises(InputError, match=message):
            fileio.open_regular(path, "ramdisk")
    big = tmp_path / "big"
    with open(big, "wb") as sparse:
        sparse.truncate(1 << 40)
    with pytest.raises(InputError, match=r"^ramdisk `.*big` is larger than 4096 bytes$"):
        fileio.open_regular(big, "ramdisk", 4096)
    data = tmp_path / "data"
    data.write_bytes(b"abc")
    stream, size = fileio.open_regular(data, "x", capped=True)
    with stream:
        assert size == 3 and stream.read() == b"abc"


def test_open_regular_capped_refuses_growth(tmp_path: Path) -> None:
    path = tmp_path / "growing"
    path.write_bytes(b"a" * 10)
    stream, _ = fileio.open_regular(path, "policy file", capped=True)
    with stream, open(path, "ab") as writer:
        writer.write(b"b" * 10)
        writer.flush()
        with pytest.raises(InputError, match="larger than 10 bytes"):
            while stream.read(4):
                pass


# ---------------------------------------------------------------------------- same file

def test_check_distinct(tmp_path: Path) -> None:
    a = tmp_path / "a"
    a.write_bytes(b"input")
    os.link(a, tmp_path / "hard")
    (tmp_path / "sym").symlink_to(a)
    (tmp_path / "dangling").symlink_to(tmp_path / "new")
    fileio.check_distinct([("-o", str(tmp_path / "out")), ("--x", "-")], [("-k", str(a)), ("-i", "-")])
    for output in (str(a), str(tmp_path / "hard"), str(tmp_path / "sym"),
                   str(tmp_path / "." / "a"), os.path.relpath(a)):
        with pytest.raises(InputError, match=r"^-o `.*` and -k `.*a` are the same file"):
            fileio.check_distinct([("-o", output)], [("-k", str(a))])
    with pytest.raises(InputError, match=r"--output-secret .* and --output"):
        fileio.check_distinct([("--output-secret", str(tmp_path / "dangling")),
                               ("--output", str(tmp_path / "new"))])


# ---------------------------------------------------------------------------- outputs

@pytest.fixture
def umask() -> object:
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o077, 0o277])
def test_modes_under_any_umask(tmp_path: Path, umask: object, mask: int) -> None:
    os.umask(mask)
    with fileio.OutputTransaction() as outputs:
        outputs.add(tmp_path / "plain", b"request")
        outputs.add(tmp_path / "secret", b"secret", secret=True)
    assert stat.S_IMODE((tmp_path / "plain").stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE((tmp_path / "secret").stat().st_mode) == 0o600
    assert _leftovers(tmp_path) == []


def test_temporary_names_are_unpredictable(tmp_path: Path) -> None:
    names = set()
    for _ in range(3):
        outputs = fileio.OutputTransaction()
        outputs.open(tmp_path / "out")
        names.update(_leftovers(tmp_path))
        outputs.discard()
    assert len(names) == 3 and all(n.startswith(".out.") and len(n) > 30 for n in names), names
    assert _leftovers(tmp_path) == []
    # what an attacker might pre-create blocks nothing
    (tmp_path / "out.part").write_bytes(b"theirs")
    fileio.write_atomic(tmp_path / "out", b"ours")
    assert (tmp_path / "out").read_bytes() == b"ours"
    assert (tmp_path / "out.part").read_bytes() == b"theirs"


def test_failed_commit_restores_every_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.write_bytes(b"old first")
    real_replace = os.replace
    calls = []

    def failing_replace(src: str, dst: str) -> None:
        calls.append(dst)
        if str(dst) == str(second):
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr("secexkit.fileio.os.replace", failing_replace)
    with pytest.raises(InputError, match=r"Cannot write `.*second`: No space left"), \
            fileio.OutputTransaction() as outputs:
        outputs.add(first, b"new first")
        outputs.add(second, b"new second")
    monkeypatch.undo()
    assert first.read_bytes() == b"old first"
    assert not second.exists()
    assert _leftovers(tmp_path) == []


def test_error_inside_the_block_leaves_nothing(tmp_path: Path) -> None:
    for error in (InputError("boom"), KeyboardInterrupt(), fileio.Interrupted(signal.SIGTERM)):
        with pytest.raises(type(error)), fileio.OutputTransaction() as outputs:
            outputs.add(tmp_path / "a", b"a")
            outputs.open(tmp_path / "b").write(b"b")
            raise error
        assert list(tmp_path.iterdir()) == []


def test_special_targets_are_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "link-to-fifo").symlink_to(fifo)
    targets: tuple[tuple[Path | str, str], ...] = ((fifo, "not a regular file"), (tmp_path / "link-to-fifo",
                                                            "not a regular file"),
                            (Path("/dev/null"), "not a regular file"),
                            (tmp_path, "it is a directory"),
                            (tmp_path / "no" / "x", "does not exist"),
                            (f"{tmp_path}/new/", "cannot end with '/'"))
    for target, message in targets:
        with pytest.raises(InputError, match=message):
            fileio.write_atomic(target, b"data")
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_no_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "image"
    outputs = fileio.OutputTransaction()
    outputs.open(target, overwrite=False).write(b"new")
    target.write_bytes(b"appeared meanwhile")
    with pytest.raises(InputError, match="already exists"):
        outputs.commit()
    assert target.read_bytes() == b"appeared meanwhile"
    assert _leftovers(tmp_path) == []
    with pytest.raises(InputError, match=r"already exists \(hint\)"):
        fileio.OutputTransaction().open(target, overwrite=False, hint=" (hint)")


def test_append_is_undone_when_the_commit_fails(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    toc = tmp_path / "toc"
    toc.write_bytes(b"existing\n")
    with fileio.OutputTransaction() as outputs:
        outputs.add(tmp_path / "req", b"r")
        outputs.append(toc, b"tag1\n")
    assert toc.read_bytes() == b"existing\ntag1\n"

    def fail(*_: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr("secexkit.fileio._fsync_directory", fail)
    with pytest.raises(OSError), fileio.OutputTransaction() as outputs:
        outputs.add(tmp_path / "req2", b"r")
        outputs.append(toc, b"tag2\n")
    assert toc.read_bytes() == b"existing\ntag1\n"
    assert not (tmp_path / "req2").exists()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        fileio.OutputTransaction().append(fifo, b"x")


def test_stdout_parts_are_written_at_commit(tmp_path: Path,
                                            capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    with fileio.OutputTransaction() as outputs:
        outputs.add("-", b"one\n")
        outputs.add(tmp_path / "f", b"file")
        assert capsysbinary.readouterr().out == b""
    assert capsysbinary.readouterr().out == b"one\n"


# ---------------------------------------------------------------------------- signals

def test_raise_on_signals_leaves_ignored_signals_alone() -> None:
    old_hup = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    old_term = signal.getsignal(signal.SIGTERM)
    try:
        with fileio.raise_on_signals():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            if old_term is signal.SIG_DFL:
                assert callable(signal.getsignal(signal.SIGTERM))
                with pytest.raises(fileio.Interrupted) as caught:
                    os.kill(os.getpid(), signal.SIGTERM)
                    for _ in range(1000):  # the handler runs between bytecodes
                        pass
                assert caught.value.signum == signal.SIGTERM
        assert signal.getsignal(signal.SIGTERM) == old_term
    finally:
        signal.signal(signal.SIGHUP, old_hup)


def test_stdin_without_file_descriptor_is_read_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    """An in-memory standard input (pytest, embedding) is read, and capped, not an internal error."""
    import io
    import sys

    from secexkit.errors import InputError
    from secexkit.fileio import read_input

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"abc")))
    assert read_input("-", "user data", 10, allow_stdin=True) == b"abc"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"x" * 11)))
    with pytest.raises(InputError, match="larger than 10 bytes"):
        read_input("-", "user data", 10, allow_stdin=True)
