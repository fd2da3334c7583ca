"""Child process of tests/cli/test_endless_inputs.py (run as a script, never imported).

Usage: endless_inputs_child.py FIXTURES SPARSE_SIZE CASE...   where CASE is ``index:kind``.
Runs each case in-process under the address-space limit set by the parent and
prints one JSON list of problems (empty: every case ended cleanly).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from secexkit import fileio
from secexkit.cli import pvimg, pvsecret, pvverify

TOOLS: dict[str, Callable[[Sequence[str] | None], int]] = {
    "pvsecret": pvsecret.main, "pvimg": pvimg.main, "pvverify": pvverify.main}
#: seconds a case may take: a read that blocks forever is a failure
CASE_TIMEOUT = 5


def _endless_writer(fifo: str) -> None:
    """Open the FIFO for writing (once a reader came) and write until the reader leaves."""
    try:
        fd = os.open(fifo, os.O_WRONLY)
    except OSError:
        return
    block = b"\0" * 65536
    try:
        while True:
            os.write(fd, block)
    except OSError:
        pass
    finally:
        os.close(fd)


def make_input(kind: str, work: Path, sparse_size: int) -> str:
    if kind == "zero":
        return "/dev/zero"
    if kind == "urandom":
        return "/dev/urandom"
    path = work / f"input-{kind}"
    if kind == "sparse":
        with open(path, "wb") as stream:
            stream.truncate(sparse_size)
    else:
        os.mkfifo(path)
        if kind == "fifo-endless":
            threading.Thread(target=_endless_writer, args=(str(path),), daemon=True).start()
    return str(path)


class _Timeout(BaseException):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _Timeout


def run_case(case: dict[str, object], kind: str, fixtures: dict[str, str], work: Path,
             sparse_size: int) -> str | None:
    """None if the case ended cleanly, else what went wrong."""
    value = make_input(kind, work, sparse_size)
    if case.get("directory"):  # the option names a directory holding the input file
        directory = work / "loaders"
        directory.mkdir()
        os.symlink(value, directory / "stage3a.bin")
        (directory / "stage3b_reloc.bin").write_bytes(b"\0" * 0x300)
        value = str(directory)
    names = {**fixtures, "out": str(work / "out"), "input": value}
    argv = []
    tokens: list[str] = case["argv"]  # type: ignore[assignment]
    for token in tokens:
        head, at, name = token.partition("@")
        argv.append(head + names[name] if at else head)
    if case.get("uv"):  # a fake ultravisor behind a regular file
        from tests.support.fake_uv import FakeUltravisor

        pvsecret.UV_DEVICE, pvsecret.UV_IOCTL, pvsecret.MACHINE = (
            fixtures["uvdev"], FakeUltravisor().ioctl, "s390x")
    err = io.StringIO()
    signal.alarm(CASE_TIMEOUT)
    started = time.monotonic()
    try:
        out = io.TextIOWrapper(io.BytesIO())
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            code = TOOLS[str(case["tool"])](argv)
    except _Timeout:
        return f"still running after {CASE_TIMEOUT} s"
    finally:
        signal.alarm(0)
        pvsecret.UV_DEVICE, pvsecret.UV_IOCTL, pvsecret.MACHINE = "/dev/uv", None, None
    text = err.getvalue()
    errors = [line for line in text.splitlines() if line.startswith("error: ")]
    left = sorted(p.name for p in work.iterdir() if p.name.endswith(".part") or p.name == "out")
    problems = []
    if "Traceback" in text or "internal error" in text:
        problems.append("internal error")
    if left and code != 0:
        problems.append(f"left behind: {left}")
    if code not in (0, 1, 2):
        problems.append(f"exit {code}")
    if case.get("verdict"):  # pvverify reports each document on stdout, exit 1
        if code != 1:
            problems.append(f"exit {code}, not 1")
    elif code != 0 and len(errors) != 1:
        problems.append("not one error line")
    if code == 0:
        problems.append("accepted")
    if not problems:
        return None
    return f"{'; '.join(problems)} ({time.monotonic() - started:.1f} s): {text.strip()!r}"


def main() -> int:
    fixtures = json.loads(Path(sys.argv[1]).read_text())
    cases = json.loads(Path(fixtures["cases"]).read_text())
    sparse_size = int(sys.argv[2])
    fileio.PIPE_IDLE_TIMEOUT = 0.2  # a FIFO nobody opens is refused after this wait
    signal.signal(signal.SIGALRM, _alarm)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    failures = []
    for number, spec in enumerate(sys.argv[3:]):
        index, kind = spec.split(":")
        case = cases[int(index)]
        work = Path(fixtures["scratch"]) / f"case{number}"
        work.mkdir()
        cwd = os.getcwd()
        os.chdir(work)
        try:
            problem = run_case(case, kind, fixtures, work, sparse_size)
        finally:
            os.chdir(cwd)
        if problem is not None:
            failures.append(f"{case['name']} <- {kind}: {problem}")
    print(json.dumps(failures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
