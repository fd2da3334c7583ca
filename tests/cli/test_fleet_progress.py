"""pvsecret plan's progress bar: drawn on a terminal (standard error a pty), ended with a
newline, cleared for the messages written while it runs (a failed guest, the error of an
interrupted run); absent when standard error is no terminal, with ``-q``, and when the JSON
summary goes to the same terminal."""

from __future__ import annotations

import errno
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support import pki
from tests.support.fleet import World, build_world, guest

ROOT = Path(__file__).resolve().parents[2]
META = {"meta": {"flags": ["disable-dump"]}}
TIMEOUT = 60


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, pki_set: pki.PkiSet, vectors: Path) -> World:
    return build_world(tmp_path_factory.mktemp("fleet-progress"), pki_set,
                       vectors / "exp" / "secure_guest.hdr", hosts=1)


def _plan(world: World, name: str, guests: int, bad_at: int | None = None) -> Path:
    entries = [guest(world, f"g{i:03d}", [META], hosts=1) for i in range(guests)]
    if bad_at is not None:
        entries[bad_at] = guest(world, "bad", [META],
                                options={"host-key-document": [str(world.revoked)]})
    return world.write_plan(entries, name=name)


def _start(argv: list[str | Path], *, stdout_on_terminal: bool = False,
           stderr_on_terminal: bool = True) -> tuple[subprocess.Popen[bytes], int]:
    """Run pvsecret with standard error (and maybe standard output) on a new pty; the
    pty's master end."""
    master, slave = os.openpty()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    child = subprocess.Popen(
        [sys.executable, "-m", "secexkit.cli.pvsecret", *map(str, argv), "-f"], env=env,
        stdin=subprocess.DEVNULL,
        stdout=slave if stdout_on_terminal else subprocess.DEVNULL,
        stderr=slave if stderr_on_terminal else subprocess.PIPE)
    os.close(slave)
    return child, master


def _read(master: int, until: bytes | None = None) -> bytes:
    """What the pty shows until every writer closed it (or ``until`` appeared)."""
    data = b""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if until is not None and until in data:
            return data
        ready, _, _ = select.select([master], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError as exc:  # EIO: the slave end is closed everywhere
            if exc.errno != errno.EIO:
                raise
            return data
        if not chunk:
            return data
        data += chunk
    raise AssertionError(f"no end of output within {TIMEOUT} s: {data[-300:]!r}")


def _screen(raw: bytes) -> list[str]:
    """The lines a terminal shows for ``raw``: ``\\r`` returns to column 0 (overwriting),
    ``ESC [ K`` erases to the end of the line."""
    text = raw.decode("utf-8", "replace")
    lines: list[str] = []
    line: list[str] = []
    column = 0
    i = 0
    while i < len(text):
        char = text[i]
        if text.startswith("\x1b[K", i):
            del line[column:]
            i += 3
            continue
        if char == "\r":
            column = 0
        elif char == "\n":
            lines.append("".join(line))
            line, column = [], 0
        else:
            if column < len(line):
                line[column] = char
            else:
                line.append(char)
            column += 1
        i += 1
    if line:
        lines.append("".join(line))
    return lines


def _finish(child: subprocess.Popen[Any], master: int) -> tuple[int, bytes]:
    try:
        shown = _read(master)
        return child.wait(timeout=TIMEOUT), shown
    finally:
        os.close(master)


def test_progress_on_a_terminal_ends_cleanly(world: World, tmp_path: Path) -> None:
    plan = _plan(world, "progress.yaml", 25, bad_at=14)
    child, master = _start(["plan", plan, "-o", tmp_path / "out", "-j", "1", "--no-sync",
                            "--summary", tmp_path / "summary.json"])
    code, shown = _finish(child, master)
    assert code == 1, shown
    assert b"\r[" in shown  # drawn in place
    screen = _screen(shown)
    assert screen[0].startswith(f"The host-key document {world.revoked} was refused"), screen
    # the failed guest's message replaced the bar drawn after 10 guests, on a line of its own
    assert screen[1].startswith("guest 'bad' (plan line "), screen
    assert screen[2:] == ["[" + "#" * 30 + "] 25/25 guests, 1 failed",
                          "25 guests: 1 failed, 24 written"], screen
    assert shown.count(b"/25 guests") >= 3  # after 10 and 20 guests, and at the end


def test_no_progress_when_stderr_is_no_terminal(world: World, tmp_path: Path) -> None:
    plan = _plan(world, "pipe.yaml", 25)
    child, master = _start(["plan", plan, "-o", tmp_path / "out", "-j", "1", "--no-sync",
                            "--summary", tmp_path / "summary.json"], stderr_on_terminal=False)
    os.close(master)
    _, err = child.communicate(timeout=TIMEOUT)
    assert child.returncode == 0, err
    assert err == b"25 guests: 25 written\n"


@pytest.mark.parametrize("quiet", ["-q", "--quiet"])
def test_quiet_shows_no_progress(world: World, tmp_path: Path, quiet: str) -> None:
    plan = _plan(world, "quiet.yaml", 25, bad_at=14)
    child, master = _start(["plan", plan, "-o", tmp_path / "out", "-j", "1", "--no-sync",
                            "--summary", tmp_path / "summary.json", quiet])
    code, shown = _finish(child, master)
    assert code == 1
    assert b"guests" not in shown and b"\r" not in shown.replace(b"\r\n", b"\n"), shown
    # the failed guest is still reported (-q hides the warnings)
    screen = _screen(shown)
    assert len(screen) == 1 and screen[0].startswith("guest 'bad' (plan line "), screen


def test_no_progress_when_the_summary_goes_to_the_terminal(world: World,
                                                           tmp_path: Path) -> None:
    plan = _plan(world, "stdout.yaml", 25)
    child, master = _start(["plan", plan, "-o", tmp_path / "out", "-j", "1", "--no-sync"],
                           stdout_on_terminal=True)
    code, shown = _finish(child, master)
    assert code == 0, shown
    assert b"\r[" not in shown and b"#" not in shown
    screen = _screen(shown)
    assert screen[-1] == "25 guests: 25 written"
    assert sum('"status": "written"' in line for line in screen) == 25


def test_an_interrupted_run_ends_the_progress_line(world: World, tmp_path: Path) -> None:
    plan = _plan(world, "interrupted.yaml", 400)
    child, master = _start(["plan", plan, "-o", tmp_path / "out", "-j", "1", "--no-sync",
                            "--summary", tmp_path / "summary.json"])
    try:
        shown = _read(master, until=b"/400 guests")
        assert child.poll() is None, "the run ended before it could be interrupted"
        child.send_signal(signal.SIGTERM)
        code, rest = _finish(child, master)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    screen = _screen(shown + rest)
    assert code == 128 + signal.SIGTERM, screen
    assert screen[-1] == "error: terminated by signal 15", screen
    assert screen[-2].startswith("[") and "/400 guests, 0 failed" in screen[-2], screen
    assert not (tmp_path / "summary.json").exists()
