"""``pvimg create`` and the boot loaders: a documented ``--bootloader-dir``, an error that
says where to look and where the loaders come from, and component checks first."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from secexkit.cli.pvimg import build_parser, genprotimg_main, main
from secexkit.image.bootloader import ENVIRONMENT_VARIABLE
from tests.support.images import make_kernel, make_loaders
from tests.support.keys import write_host_key_document


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    hkd, _ = write_host_key_document(tmp_path, "host")
    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
    monkeypatch.setattr("secexkit.image.bootloader.DEFAULT_DIRECTORIES",
                        (str(tmp_path / "usr-share"), str(tmp_path / "usr-lib")))
    return {"hkd": hkd, "kernel": make_kernel(tmp_path / "kernel", cmdline_max=32),
            "boot": make_loaders(tmp_path / "boot"), "out": tmp_path / "image.se",
            "dir": tmp_path}


def _args(env: dict[str, Path], *extra: str) -> list[str]:
    return ["-i", str(env["kernel"]), "-o", str(env["out"]), "-k", str(env["hkd"]),
            "--no-verify", *extra]


def _error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    return lines[0]


def test_bootloader_dir_is_documented() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    text = commands.choices["create"].format_help()
    assert "--bootloader-dir DIR" in text and ENVIRONMENT_VARIABLE in text
    assert "--x-bootloader-directory" not in text  # the reference's name stays hidden


@pytest.mark.parametrize("option", ["--bootloader-dir", "--x-bootloader-directory"])
def test_both_names_build_an_image(env: dict[str, Path], option: str,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["create", *_args(env, option, str(env["boot"]))]) == 0, capsys.readouterr().err
    assert env["out"].stat().st_size > 0


def test_both_names_at_once_is_a_usage_error(env: dict[str, Path],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    args = _args(env, "--bootloader-dir", str(env["boot"]),
                 "--x-bootloader-directory", str(env["boot"]))
    assert main(["create", *args]) == 2
    assert "multiple times" in capsys.readouterr().err


def test_missing_loaders_say_where_to_look_and_where_they_come_from(
        env: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    for entry in (lambda a: main(["create", *a]), genprotimg_main):
        assert entry(_args(env)) == 1
        line = _error_line(capsys.readouterr().err)
        assert "stage3a.bin" in line and "stage3b_reloc.bin" in line
        assert "--bootloader-dir" in line and ENVIRONMENT_VARIABLE in line
        assert str(env["dir"] / "usr-share") in line and str(env["dir"] / "usr-lib") in line
        assert "s390-tools installation of the same release" in line
        assert "x86" in line
        assert not env["out"].exists()


def test_missing_loaders_in_the_given_folder(env: dict[str, Path],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    empty = env["dir"] / "empty"
    empty.mkdir()
    assert main(["create", *_args(env, "--bootloader-dir", str(empty))]) == 1
    line = _error_line(capsys.readouterr().err)
    assert str(empty) in line and "--bootloader-dir" in line and "s390-tools" in line


def test_wrong_kernel_is_reported_before_missing_loaders(
        env: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    make_kernel(env["kernel"], marker=False)
    assert main(["create", *_args(env)]) == 1
    line = _error_line(capsys.readouterr().err)
    assert "S390EP" in line and "stage3a" not in line
    make_kernel(env["kernel"], elf=True)
    assert main(["create", *_args(env)]) == 1
    assert "ELF" in _error_line(capsys.readouterr().err)
