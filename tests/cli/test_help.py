"""Help that replaces the manual: every option says what it does; every sub-command's
``--help`` ends with examples; ``-h`` is the summary; usage errors point to the
sub-command's help."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence

import pytest

from secexkit.cli import pvimg, pvsecret, pvverify
from secexkit.cli._common import ArgumentParser

Main = Callable[[Sequence[str] | None], int]


def _walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
          ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen = set()
            for name, sub in action.choices.items():
                if id(sub) not in seen:
                    seen.add(id(sub))
                    yield from _walk(sub, (*path, name))


PARSERS = [("pvsecret", pvsecret.build_parser()), ("pvimg", pvimg.build_parser()),
           ("pvverify", pvverify.build_parser()), ("genprotimg", pvimg.build_genprotimg_parser())]
ALL = [(f"{tool} {' '.join(path)}".strip(), parser)
       for tool, top in PARSERS for path, parser in _walk(top)]


@pytest.mark.parametrize(("name", "parser"), ALL, ids=[n for n, _ in ALL])
def test_every_option_has_help(name: str, parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        assert action.help, f"{name}: {action.option_strings or action.dest} has no help"


COMMANDS = [n for n, p in ALL if n not in ("pvsecret version", "pvimg version")]


@pytest.mark.parametrize("name", COMMANDS)
def test_long_help_ends_with_examples_short_help_does_not(
        name: str, capsys: pytest.CaptureFixture[str]) -> None:
    tool, *rest = name.split()
    main: Main = {"pvsecret": pvsecret.main, "pvimg": pvimg.main, "pvverify": pvverify.main,
                  "genprotimg": pvimg.genprotimg_main}[tool]
    with pytest.raises(SystemExit) as done:
        main([*rest, "--help"])
    assert done.value.code == 0
    long = capsys.readouterr().out
    assert "\nexamples:\n" in long, long
    examples = long.split("\nexamples:\n", 1)[1]
    assert f"  {tool} " in examples or f"  {tool}" in examples
    with pytest.raises(SystemExit):
        main([*rest, "-h"])
    short = capsys.readouterr().out
    assert "examples:" not in short and f"'{name} --help'" in short
    assert len(short) < len(long)


def test_option_help_states_limits_and_defaults() -> None:
    retrievable = dict(ALL)["pvsecret create retrievable"].format_help()
    flat = " ".join(retrievable.split())
    for fact in ("8190 bytes", "16, 24 or 32 bytes", "32 or 64 bytes", "64 bytes",
                 "128 bytes", "pre-processed", "secp256r1", "secp384r1", "secp521r1",
                 "ed25519", "ed448"):
        assert fact in flat, fact
    meta = " ".join(dict(ALL)["pvsecret create meta"].format_help().split())
    assert "disable-dump: once the request is added" in meta and "dump" in meta
    assert "--disable-dump" in meta
    cck = " ".join(dict(ALL)["pvsecret create update-cck"].format_help().split())
    assert "--enable-cck-update" in cck
    create = " ".join(dict(ALL)["pvimg create"].format_help().split())
    assert "(default)" in create and "Default: random" in create


def test_documented_examples_in_help() -> None:
    meta = dict(ALL)["pvsecret create meta"].format_help()
    assert ("pvsecret create meta -k z16.crt --hdr se.hdr -o addNoDumpReq \\\n"
            "      --crt DigiCertCA.crt --crt ibm-sign.crt --flags disable-dump") in meta


def test_pvimg_help_has_no_suppress_marker(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["-h"]):
        with pytest.raises(SystemExit):
            pvimg.main(argv)
        out = capsys.readouterr().out
        assert "SUPPRESS" not in out and "version" in out


@pytest.mark.parametrize(("argv", "hint"), [
    (["create", "meta", "--no-such-option"], "pvsecret create meta --help"),
    (["create", "association", "name", "--bogus"], "pvsecret create association --help"),
    (["verify", "req", "out", "extra"], "pvsecret verify --help"),
    (["list", "--frmat", "yaml"], "pvsecret list --help"),
])
def test_usage_error_points_to_the_subcommand_help(
        argv: list[str], hint: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert pvsecret.main(argv) == 2
    err = capsys.readouterr().err
    assert f"try '{hint}'" in err, err


def test_pvimg_usage_error_points_to_create_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert pvimg.main(["create", "--kernal", "x"]) == 2
    err = capsys.readouterr().err
    assert "try 'pvimg create --help'" in err and "did you mean '--kernel'" in err


def test_parsers_stay_plain_argparse() -> None:
    """The docs helper generates man pages and completions from these factories."""
    for _, parser in PARSERS:
        assert isinstance(parser, ArgumentParser)
        assert isinstance(parser, argparse.ArgumentParser)
