"""SIGTERM, SIGHUP and SIGINT in the middle of pvimg's streaming write leave nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import secexkit
from tests.support.images import make_kernel, make_loaders
from tests.support.keys import write_host_key_document

ROOT = Path(__file__).resolve().parents[2]
#: the secexkit under test (the child must import the same one)
SOURCE = Path(secexkit.__file__).resolve().parents[1]

# the child slows the image writer down and says when the first buffer is written
CHILD = textwrap.dedent("""
    import os, sys, time
    from secexkit.image import components
    from secexkit.cli import pvimg

    ready = int(os.environ["READY_FD"])
    real = components._write_all

    def slow(out, view):
        global ready
        if ready >= 0:
            os.write(ready, b"x")
            os.close(ready)
            ready = -1
        time.sleep(0.02)
        real(out, view)

    components._write_all = slow
    sys.exit(pvimg.main(sys.argv[1:]))
""")


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 128 + signal.SIGTERM),
                                              (signal.SIGHUP, 128 + signal.SIGHUP),
                                              (signal.SIGINT, 130)])
def test_signal_mid_write_removes_the_temporary_file(tmp_path: Path, signum: int, code: int) -> None:
    hkd, _ = write_host_key_document(tmp_path, "host")
    ramdisk = tmp_path / "ramdisk"
    ramdisk.write_bytes(os.urandom(64 << 20))  # 64 batches: seconds at the child's pace
    out = tmp_path / "out" / "image.se"
    out.parent.mkdir()
    read_end, write_end = os.pipe()
    env = {**os.environ, "PYTHONPATH": str(SOURCE) + os.pathsep + str(ROOT),
           "READY_FD": str(write_end)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, "create", "-i", str(make_kernel(tmp_path / "kernel")),
         "-r", str(ramdisk), "-o", str(out), "-k", str(hkd), "--no-verify",
         "--x-bootloader-directory", str(make_loaders(tmp_path / "boot"))],
        env=env, pass_fds=(write_end,), stderr=subprocess.PIPE, text=True,
        start_new_session=True)  # SIGINT only to the child, not to pytest
    os.close(write_end)
    try:
        assert os.read(read_end, 1) == b"x"  # the image is being written
        assert [p.name for p in out.parent.iterdir() if p.name.endswith(".part")]
        child.send_signal(signum)
        _, err = child.communicate(timeout=60)
    finally:
        os.close(read_end)
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == code, err
    assert list(out.parent.iterdir()) == [], err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in err, err
