"""secexkit-testpki --crl-url-base: the output verifies with CRLs from a local server."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from secexkit.cli import pvverify, testpki


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def crl_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    folder = tmp_path / "pki"
    folder.mkdir()
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", folder
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_verifies_with_downloaded_crls(crl_server: tuple[str, Path],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    base, folder = crl_server
    assert testpki.main([str(folder), "--hosts", "2", "--crl-url-base", base]) == 0
    capsys.readouterr()
    args = ["-k", str(folder / "host-1.crt"), "-k", str(folder / "host-2.crt"),
            "--crt", str(folder / "inter-ca.crt"),
            "--crt", str(folder / "ibm-z-host-key-signing.crt"),
            "--root-ca", str(folder / "root-ca.crt")]
    assert pvverify.main(args) == 0, capsys.readouterr().err
    # without the server's CRLs (moved away), the same command fails
    for crl in folder.glob("*.crl"):
        crl.rename(crl.with_suffix(".gone"))
    assert pvverify.main(args) != 0
