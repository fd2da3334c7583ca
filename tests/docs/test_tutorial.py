"""The walkthrough pages (docs/tutorial.rst, docs/fleet.rst) run: every command, in order,
in one shell, prints what the page shows; files the page shows (a code block with a
``:caption:``) are saved where it says before the commands after them.

Unlike the how-to pages, the tutorial's ``guest# `` lines really run: the page exports
``SECEXKIT_UV`` before them, so they use the software ultravisor. One ``bash`` process
runs all lines (variables, ``export`` and ``$?`` carry over as for a reader typing them),
in an empty folder, with the console scripts of ``pyproject.toml`` first on ``PATH``
(wrappers that run this tree's code). Each command must exit 0 — the page shows an
expected failure as ``command; echo "exit status $?"`` — and its output (standard output
and error together) must match the lines shown after it.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.console import (
    Command,
    FileBlock,
    check_output,
    commands,
    steps,
    write_script_wrappers,
)
from tests.support.http_server import PROXY_VARIABLES

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "tutorial.rst"
FLEET_PAGE = ROOT / "docs" / "fleet.rst"
TIMEOUT = 120
#: what the page may run: our console scripts and a few shell basics (and NAME=VALUE)
PROGRAMS = {"pvsecret", "pvverify", "pvimg", "pvattest", "secexkit-uv", "secexkit-testpki",
            "export", "mkdir", "printf", "truncate", "cp", "echo", "head", "ls", "cat"}
_END = "@@secexkit-tutorial-end@@"


class Shell:
    """A bash process that runs one command at a time and reports its output and status."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self._process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"], cwd=cwd, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def run(self, text: str) -> tuple[int, str]:
        """Run ``text`` in the shell (stdin from /dev/null); its exit status and output."""
        assert self._process.stdin is not None
        self._process.stdin.write(f"{{ {text}\n}} </dev/null 2>&1\n"
                                  "__status=$?\n"
                                  f"printf '{_END} %d\\n' \"$__status\"; (exit \"$__status\")\n")
        self._process.stdin.flush()
        output: list[str] = []
        while True:
            try:
                line = self._lines.get(timeout=TIMEOUT)
            except queue.Empty:
                raise AssertionError(f"{text}: no answer within {TIMEOUT} s") from None
            if line is None:
                raise AssertionError(f"{text}: the shell ended:\n{''.join(output)}")
            if _END in line:  # after the output's last newline, or at the end of its last line
                before, after = line.split(_END, 1)
                return int(after), "".join([*output, before]).removesuffix("\n")
            output.append(line)

    def close(self) -> None:
        """End the shell."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[Shell]:
    """A shell in an empty folder, our console scripts first on PATH, no proxies, no
    software ultravisor and no boot-loader folder set beforehand."""
    if shutil.which("bash") is None:
        pytest.skip("bash not installed")
    work = tmp_path / "work"
    work.mkdir()
    wrappers = write_script_wrappers(tmp_path / "bin")
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in PROXY_VARIABLES
           and k not in ("SECEXKIT_UV", "SECEXKIT_UV_GUEST", "SECEXKIT_BOOTLOADER_DIR",
                         "SSL_CERT_FILE", "SSL_CERT_DIR")}
    env["PATH"] = os.pathsep.join([str(wrappers), env.get("PATH", "/usr/bin:/bin")])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"),
                                                      env.get("PYTHONPATH")]))
    env["HOME"] = str(tmp_path)
    env["SSL_CERT_FILE"] = str(tmp_path / "no-system-roots.pem")
    session = Shell(work, env)
    try:
        yield session
    finally:
        session.close()


def test_the_page_runs_guest_commands_on_the_model() -> None:
    found = commands(PAGE)
    texts = [c.text for c in found]
    exported = next(i for i, t in enumerate(texts) if t.startswith("export SECEXKIT_UV="))
    guest = [i for i, c in enumerate(found) if c.guest]
    assert guest and min(guest) > exported
    assert {"pvattest perform", "pvsecret add", "pvsecret list"} <= {
        " ".join(found[i].text.split()[:2]) for i in guest}
    assert not any("--no-verify" in t for t in texts)
    dumps = [c for c in found if c.text.startswith("secexkit-uv dump")]
    assert dumps[0].expected == ["dump allowed"]
    assert dumps[-1].expected[0].startswith("dump refused: dumping was disabled by")


def test_the_shell_keeps_state_between_commands(tmp_path: Path) -> None:
    session = Shell(tmp_path, {"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    try:
        assert session.run("export A=1; B=2") == (0, "")
        assert session.run('echo "$A$B"; false') == (1, "12")
        assert session.run('echo "status $?" >&2') == (0, "status 1")
    finally:
        session.close()


def _run_page(page: Path, shell: Shell, work: Path) -> None:
    for step in steps(page):
        if isinstance(step, FileBlock):
            target = (work / step.name).resolve()
            assert target.is_relative_to(work.resolve()), step.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(step.text, encoding="utf-8")
            continue
        assert isinstance(step, Command)
        program = step.text.split()[0]
        assert program in PROGRAMS or re.match(r"[A-Za-z_]\w*=", program), (
            f"line {step.line}: unexpected program {program!r}")
        status, output = shell.run(step.text)
        where = f"{page.name}:{step.line}: {step.text}\n{output}"
        assert status == 0, where
        check_output(step, output)


def test_tutorial_commands_run(shell: Shell, tmp_path: Path) -> None:
    _run_page(PAGE, shell, tmp_path / "work")
    image = (tmp_path / "work" / "se-image.model-only").read_bytes()
    assert b"NOT BOOTABLE on IBM Z" in image  # the placeholder loaders are labelled in it


def test_fleet_page_commands_run(shell: Shell, tmp_path: Path) -> None:
    _run_page(FLEET_PAGE, shell, tmp_path / "work")
    out = tmp_path / "work" / "out"
    assert sorted(p.name for p in out.iterdir()) == ["web-1", "web-2"]
    assert not [p for p in (tmp_path / "work").rglob("*.fleet-part")]


def test_fleet_page_shows_the_plan_it_runs() -> None:
    found = steps(FLEET_PAGE)
    files = [s for s in found if isinstance(s, FileBlock)]
    assert [f.name for f in files][:1] == ["plan.yaml"]
    runs = [s for s in found if isinstance(s, Command) and s.text.startswith("pvsecret plan")]
    assert runs and all(files[0].line < r.line for r in runs)
    assert not any("no-verify" in f.text for f in files)
