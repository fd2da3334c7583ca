"""``pvsecret verify`` does not write binary user data to a terminal (as compressors do)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from secexkit.cli.pvsecret import main
from tests.support.pvsecret import create

pytestmark = pytest.mark.usefixtures("not_a_guest")


class _Terminal(io.TextIOWrapper):
    """A text stdout that says it is a terminal; its bytes land in a buffer."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def request_with_user_data(tmp_path: Path, host: tuple[Path, ec.EllipticCurvePrivateKey],
                           hdr: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> Path:
    data = tmp_path / "ud"
    data.write_bytes(b"hello")
    req = tmp_path / "req"
    code, _, err = create(capsysbinary, host[0], hdr, req, "--user-data", data, "meta")
    assert code == 0, err
    return req


def test_user_data_is_not_written_to_a_terminal(
    request_with_user_data: Path, monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", _Terminal(raw, encoding="utf-8"))
    code = main(["verify", str(request_with_user_data)])
    sys.stdout.flush()
    err = capsysbinary.readouterr().err.decode()
    assert code == 1
    assert raw.getvalue() == b""
    assert "terminal" in err and "OUTPUT" in err


def test_user_data_to_a_file_or_pipe_still_works(
    request_with_user_data: Path, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    assert main(["verify", str(request_with_user_data), str(tmp_path / "out")]) == 0
    assert (tmp_path / "out").read_bytes() == b"hello".ljust(512, b"\0")
    assert main(["verify", str(request_with_user_data)]) == 0  # captured: not a terminal
    assert capsysbinary.readouterr().out == b"hello".ljust(512, b"\0")
