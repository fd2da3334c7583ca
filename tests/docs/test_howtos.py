"""Every command of every how-to page runs, in order, and prints what the page shows.

The pages (``docs/howto/*.rst``) hold ``.. code-block:: console`` blocks: ``$ `` lines
run on the workstation and must succeed; ``guest# `` lines need an s390x Secure
Execution guest, so here they must get past the parser (no usage error) and stop at
the platform check; the other lines are expected output (``...`` matches anything).
Blocks without a class run against the demo PKI (``demo/``, copied into the working
folder); blocks with ``:class: product`` are the product documentation's commands
verbatim, run against a PKI whose CRLs are served on 127.0.0.1 and whose root is the
"system" trust store (``SSL_CERT_FILE``).
"""

from __future__ import annotations

import os
import platform
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.console import Command, commands
from tests.support.console import check_output as _check_output
from tests.support.documented import write_documented_files
from tests.support.http_server import PROXY_VARIABLES, Server
from tests.support.images import make_kernel, make_loaders

ROOT = Path(__file__).resolve().parents[2]
HOWTOS = ROOT / "docs" / "howto"
PAGES = sorted(p for p in HOWTOS.glob("*.rst") if p.name != "index.rst")
TOOLS = ("pvsecret", "pvverify", "pvimg", "genprotimg")
TIMEOUT = 120


def _argv(command: Command) -> list[str]:
    words = shlex.split(command.text)
    if words[0] in TOOLS:
        return [sys.executable, "-m", "secexkit", *words]
    if words[0] == "openssl":
        if shutil.which("openssl") is None:
            pytest.skip("openssl not installed")
        return words
    raise AssertionError(f"line {command.line}: unknown program {words[0]!r}")


@pytest.fixture
def workdir(tmp_path: Path, server: Server) -> tuple[Path, dict[str, str], dict[str, str]]:
    """A working folder with the demo PKI, the product documentation's files and stand-ins
    for a kernel, RAM disk, command line and boot loaders; the environments of both kinds."""
    shutil.copytree(ROOT / "demo", tmp_path / "demo",
                    ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    make_kernel(tmp_path / "vmlinuz")
    (tmp_path / "initrd.img").write_bytes(os.urandom(10000))
    (tmp_path / "parmfile").write_text("root=/dev/disk/by-label/root console=ttysclp0\n")
    loaders = make_loaders(tmp_path.parent / f"{tmp_path.name}-loaders")

    _, roots = write_documented_files(server, tmp_path, ROOT / "demo" / "se.hdr",
                                      route="howto", root_name="Howto Root CA",
                                      roots=tmp_path.parent / f"{tmp_path.name}-system-roots.pem")

    env = {k: v for k, v in os.environ.items()
           if k.lower() not in PROXY_VARIABLES and k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    env["SECEXKIT_BOOTLOADER_DIR"] = str(loaders)
    env["HOME"] = str(tmp_path)
    demo_env = {**env, "SSL_CERT_FILE": str(tmp_path / "no-system-roots.pem")}
    product_env = {**env, "SSL_CERT_FILE": str(roots)}
    return tmp_path, demo_env, product_env


def test_every_page_has_commands_of_both_places() -> None:
    assert len(PAGES) == 8
    for page in PAGES:
        found = commands(page)
        assert any(not c.guest for c in found), page.name
    everything = [c for page in PAGES for c in commands(page)]
    assert any(c.guest for c in everything) and any(c.product for c in everything)


def test_block_parser_reads_continuations_and_output(tmp_path: Path) -> None:
    page = tmp_path / "page.rst"
    page.write_text(".. code-block:: console\n   :class: product\n\n   $ pvverify -k a \\\n"
                    "       --offline\n   a: OK\n   guest# pvsecret lock\n\ntext\n")
    found = commands(page)
    assert [(c.text, c.guest, c.product, c.expected) for c in found] == [
        ("pvverify -k a --offline", False, True, ["a: OK"]), ("pvsecret lock", True, True, [])]
    with pytest.raises(AssertionError, match="expected 'b: OK'"):
        _check_output(Command(1, "x", False, False, ["b: OK"]), "a: OK\n")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_howto_commands_run(page: Path, workdir: tuple[Path, dict[str, str], dict[str, str]],
                            server: Server) -> None:
    folder, demo_env, product_env = workdir
    for command in commands(page):
        server.hits.clear()
        done = subprocess.run(_argv(command), cwd=folder, capture_output=True, text=True,
                              env=product_env if command.product else demo_env,
                              timeout=TIMEOUT, stdin=subprocess.DEVNULL, check=False)
        output = done.stdout + done.stderr
        where = f"{page.name}:{command.line}: {command.text}\n{output}"
        if command.guest:
            assert done.returncode != 2, where  # the command line itself is right
            if platform.machine() != "s390x":
                assert done.returncode == 1 and "s390x" in done.stderr, where
            continue
        assert done.returncode == 0, where
        _check_output(command, output)
        if command.product and "--offline" not in command.text:
            assert server.hits, f"{where}: nothing was downloaded"
