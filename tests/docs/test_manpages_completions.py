"""Man pages and shell completions are generated from the parsers and cover them whole.

The expected pages and options are found here by walking the parsers independently
of ``secexkit.cli._docs``; a new option or subcommand in any CLI module must show up
in its man page and in every shell's completion script without anyone editing them.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from secexkit.cli import _docs
from secexkit.cli._docs import SHELLS, TOOLS, completion, main, man_pages

ROOT = Path(__file__).resolve().parents[2]


def _parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    found = []
    for tool in TOOLS:
        parser = tool.parser()
        if parser is not None:
            found.append((tool.name, parser))
    return found


def _walk(name: str, parser: argparse.ArgumentParser
          ) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            public = {c.dest for c in action._choices_actions if c.help != argparse.SUPPRESS}
            seen: set[int] = set()
            for sub_name, sub in action.choices.items():
                if sub_name in public and id(sub) not in seen:
                    seen.add(id(sub))
                    yield from _walk(f"{name}-{sub_name}", sub)


def _expected() -> dict[str, argparse.ArgumentParser]:
    return {page: parser for name, tool in _parsers() for page, parser in _walk(name, tool)}


def _options(parser: argparse.ArgumentParser, *, with_help: bool = True) -> list[str]:
    return [flag for action in parser._actions if action.help != argparse.SUPPRESS
            and (with_help or not isinstance(action, argparse._HelpAction))
            for flag in action.option_strings]


def _subcommand_names(parser: argparse.ArgumentParser) -> list[str]:
    return [c.dest for a in parser._actions if isinstance(a, argparse._SubParsersAction)
            for c in a._choices_actions if c.help != argparse.SUPPRESS]


def test_every_console_script_is_documented() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    documented = {tool.name for tool in TOOLS}
    assert set(scripts) - {"secexkit-docs"} <= documented
    for tool in TOOLS:
        if not tool.optional:
            assert tool.name in scripts


def test_one_page_per_command_and_subcommand() -> None:
    expected = _expected()
    assert {"pvsecret-create", "pvsecret-create-meta", "pvsecret-create-retrievable",
            "pvsecret-verify", "pvimg-create", "pvimg-info", "pvimg-test", "pvverify",
            "genprotimg"} <= set(expected)
    assert set(man_pages()) == {f"{page}.1" for page in expected}


def test_every_option_appears_in_its_page() -> None:
    pages = man_pages()
    for page, parser in _expected().items():
        text = pages[f"{page}.1"]
        assert text.startswith(f'.TH {page.upper().replace("-", chr(92) + "-")} "1"'), page
        for flag in _options(parser, with_help=False):  # argparse-manpage leaves -h out
            assert flag.replace("-", "\\-") in text, (page, flag)
        for action in parser._actions:
            if not action.option_strings and isinstance(action.metavar, str) \
                    and action.help != argparse.SUPPRESS:
                assert action.metavar in text, (page, action.metavar)
        for sub in _subcommand_names(parser):
            assert f".BR {page}-{sub}".replace("-", "\\-") in text, (page, sub)


@pytest.mark.parametrize("shell", SHELLS)
def test_completion_offers_every_subcommand_and_option(shell: str) -> None:
    script = completion(shell)
    for page, parser in _expected().items():
        for flag in _options(parser):
            wanted = flag
            if shell == "fish":  # complete -l help / -s h
                wanted = ("-l " if flag.startswith("--") else "-s ") + flag.lstrip("-")
            assert wanted in script, (shell, page, flag)
        for sub in _subcommand_names(parser):
            assert sub in script, (shell, page, sub)


def _bash_complete(script: Path, words: list[str]) -> list[str]:
    line = " ".join(words)
    program = (f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; "
               f"COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; "
               f"_shtab_{words[0]} {words[0]} {words[-1]} {words[-2]}; "
               "printf '%s\\n' \"${COMPREPLY[@]}\"")
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True)
    return done.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not installed")
def test_bash_completes_subcommands_and_options(tmp_path: Path) -> None:
    script = tmp_path / "pvsecret.bash"
    script.write_text(completion("bash", ["pvsecret"]))
    assert _bash_complete(script, ["pvsecret", "cr"]) == ["create"]
    assert "retrievable" in _bash_complete(script, ["pvsecret", "create", "re"])
    assert _bash_complete(script, ["pvsecret", "create", "meta", "--fla"]) == ["--flags"]


def test_install_puts_a_page_for_every_subcommand_where_man_finds_it(tmp_path: Path) -> None:
    assert main(["install", "--prefix", str(tmp_path)]) == 0
    man1 = tmp_path / "share" / "man" / "man1"
    assert {p.name for p in man1.iterdir()} == {f"{page}.1" for page in _expected()}
    for shell_dir, name in (("bash-completion/completions", "pvsecret"),
                            ("zsh/site-functions", "_pvsecret"),
                            ("fish/vendor_completions.d", "pvsecret.fish")):
        assert (tmp_path / "share" / shell_dir / name).is_file()
    if shutil.which("man") is None:
        pytest.skip("man not installed")
    for page in ("pvsecret-create", "pvsecret-create-meta", "pvimg-info", "pvverify"):
        found = subprocess.run(["man", "-M", str(tmp_path / "share" / "man"), "-w", page],
                               capture_output=True, text=True, check=True)
        assert Path(found.stdout.strip()) == man1 / f"{page}.1"


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff not installed")
def test_pages_render_without_roff_errors() -> None:
    for name, text in man_pages(["pvsecret"]).items():
        done = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z"], input=text,
                              capture_output=True, text=True, check=True)
        problems = [line for line in done.stderr.splitlines() if "cannot adjust" not in line]
        assert problems == [], name


def test_generation_is_reproducible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert man_pages() == man_pages()
    assert completion("zsh") == completion("zsh")


def test_page_command_prints_one_page(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["page", "pvsecret-create-meta"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(".TH PVSECRET\\-CREATE\\-META")
    assert ".BR pvsecret\\-create (1)" in out


def test_unknown_page_is_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["page", "pvsecret-frobnicate"]) == 1
    err = capsys.readouterr().err
    assert "pvsecret-frobnicate" in err and len(err.strip().splitlines()) == 1


def test_unknown_shell_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "csh"]) == 2
    assert "invalid choice: 'csh'" in capsys.readouterr().err


def test_missing_optional_tool_is_skipped_but_a_missing_factory_is_not() -> None:
    assert _docs.Tool("x", "secexkit.cli.no_such_module", "build_parser", optional=True).parser() is None
    with pytest.raises(_docs.DocsError, match="no parser factory"):
        _docs.Tool("x", "secexkit.cli.pvverify", "no_such_factory").parser()


def test_console_script_runs() -> None:
    done = subprocess.run([sys.executable, "-m", "secexkit.cli._docs", "list"],
                          capture_output=True, text=True, check=True, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})
    assert "pvsecret-create-update-cck" in done.stdout.split()
