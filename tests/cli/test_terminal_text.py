"""Names, paths and messages reach the terminal on one line, control characters escaped."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from secexkit.cli import _common, pvimg, pvsecret
from secexkit.errors import InputError


def test_path_with_newline_gives_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    evil = str(tmp_path / "a\nerror: fake\x1b[2J")
    assert pvsecret.main(["verify", evil]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err, err
    assert "a\\nerror: fake\\x1b[2J" in err
    assert pvimg.main(["info", evil]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\\n" in err, err


def test_error_message_with_escape_sequences(capsys: pytest.CaptureFixture[str]) -> None:
    def main(_: object) -> int:
        raise InputError("issuer CN=\x1b[2J\rverified OK\x9b1m", "detail\x1b[31m")

    parser = _common.ArgumentParser(prog="t")
    _common.add_verbosity(parser)
    assert _common.run(main, parser, ["-v"]) == 1
    err = capsys.readouterr().err
    assert err == "error: issuer CN=\\x1b[2J\\rverified OK\\x9b1m\n  detail\\x1b[31m\n", err


def test_warnings_are_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    def main(_: object) -> int:
        logging.getLogger("secexkit.cli").warning("wrote '%s'", "x\ny\x1b]0;title\x07")
        return 0

    parser = _common.ArgumentParser(prog="t")
    _common.add_verbosity(parser)
    assert _common.run(main, parser, []) == 0
    assert capsys.readouterr().err == "wrote 'x\\ny\\x1b]0;title\\x07'\n"
