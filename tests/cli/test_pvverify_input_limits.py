"""Inputs read whole are bounded: /dev/zero, a FIFO that never ends and a sparse 10 GiB
file given as -k, -C, --crl, --root-ca, SSL_CERT_FILE or a file of SSL_CERT_DIR are
refused in one line, without reading them whole."""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from secexkit.cli import pvverify
from secexkit.trust._names import subject_hash
from tests.support import pki

REFUSALS = ("larger than", "not a regular file", "is a directory")


@pytest.fixture
def files(tmp_path: Path, pki_set: pki.PkiSet) -> Path:
    pki.write(tmp_path / "host.crt", pki_set.host)
    pki.write(tmp_path / "signing.crt", pki_set.signing)
    pki.write(tmp_path / "inter.crt", pki_set.inter)
    pki.write(tmp_path / "root.crt", pki_set.root)
    pki.write(tmp_path / "crls.pem", pki_set.root_crl, pki_set.inter_crl, pki_set.signing_crl)
    return tmp_path


@contextlib.contextmanager
def endless(kind: str, path: Path) -> Iterator[str]:
    """``path`` made into an input that is huge or never ends."""
    if kind == "zero":
        path.symlink_to("/dev/zero")
        yield str(path)
        return
    if kind == "sparse":
        with open(path, "wb") as stream:
            stream.truncate(10 * 1024 ** 3)
        yield str(path)
        return
    os.mkfifo(path)
    stop = threading.Event()
    keep = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # so the writer can open at once
    writer_fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)

    def write() -> None:
        chunk = b"\x00" * 65536
        while not stop.is_set():
            try:
                os.write(writer_fd, chunk)
            except BlockingIOError:
                stop.wait(0.001)
            except OSError as exc:
                if exc.errno == errno.EPIPE:
                    return
                raise

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    try:
        yield str(path)
    finally:
        stop.set()
        thread.join(10)
        os.close(writer_fd)
        os.close(keep)


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    code = pvverify.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _trust(d: Path, **replace: str) -> list[str]:
    values = {"-C": [str(d / "signing.crt"), str(d / "inter.crt")], "--crl": [str(d / "crls.pem")],
              "--root-ca": [str(d / "root.crt")]}
    for option, value in replace.items():
        values[option] = [value]
    argv = ["--offline"]
    for option, paths in values.items():
        for path in paths:
            argv += [option, path]
    return argv


KINDS = ["zero", "fifo", "sparse"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("option", ["-C", "--crl", "--root-ca"])
def test_trust_inputs_are_bounded(files: Path, capsys: pytest.CaptureFixture[str], kind: str,
                                  option: str) -> None:
    with endless(kind, files / "huge") as path:
        code, out, err = _run(capsys, ["-k", str(files / "host.crt"),
                                       *_trust(files, **{option: path})])
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "huge" in lines[0] and any(word in lines[0] for word in REFUSALS), lines[0]


@pytest.mark.parametrize("kind", KINDS)
def test_documents_are_bounded(files: Path, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    with endless(kind, files / "huge") as path:
        code, out, _err = _run(capsys, ["-k", path, "-k", str(files / "host.crt"), *_trust(files)])
    assert code == 1
    first, second = out.splitlines()
    assert first.startswith(f"{path}: FAILED: ") and any(word in first for word in REFUSALS)
    assert second.startswith(f"{files / 'host.crt'}: OK")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("where", ["SSL_CERT_FILE", "SSL_CERT_DIR"])
def test_system_store_files_are_bounded(files: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch, pki_set: pki.PkiSet,
                                        kind: str, where: str) -> None:
    store = files / "store"
    store.mkdir()
    empty = files / "empty.pem"
    empty.write_bytes(b"")
    name = f"{subject_hash(pki_set.root.cert.subject):08x}.0" if where == "SSL_CERT_DIR" else "bundle"
    with endless(kind, store / name) as path:
        monkeypatch.setenv("SSL_CERT_FILE", path if where == "SSL_CERT_FILE" else str(empty))
        monkeypatch.setenv("SSL_CERT_DIR", str(store))
        argv = ["-k", str(files / "host.crt"), "--offline", "-C", str(files / "signing.crt"),
                "-C", str(files / "inter.crt"), "--crl", str(files / "crls.pem")]
        code, out, err = _run(capsys, argv)
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert name in lines[0] and any(word in lines[0] for word in REFUSALS), lines[0]
