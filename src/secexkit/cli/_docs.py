"""secexkit-docs: man pages and shell completions generated from the command-line parsers.

Nothing here is written by hand: every page and every completion script is built,
when asked for, from the same :class:`argparse.ArgumentParser` objects the
commands parse with, so a new option shows up in the manual and in the shell
without anyone remembering to update them.  The renderers are third-party:
``argparse-manpage`` (roff pages) and ``shtab`` (bash, zsh and fish scripts),
both in the ``manpages`` extra (``pip install 'secexkit[manpages]'``).

    secexkit-docs install [--prefix PREFIX]     # man pages + completions under PREFIX/share
    secexkit-docs man DIR                       # one page per command and subcommand
    secexkit-docs page pvsecret-create          # one page on stdout (| man -l -)
    secexkit-docs completion bash [TOOL...]     # eval "$(secexkit-docs completion bash)"
    secexkit-docs list                          # the page names

One page per command and per subcommand, named as s390-tools names them:
``pvsecret.1``, ``pvsecret-create.1``, ``pvsecret-create-meta.1``, ...
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SecexError
from ._common import ArgumentParser, run, write_stdout

#: the shells whose completion scripts can be produced
SHELLS = ("bash", "zsh", "fish")
#: the manual section of every page
SECTION = 1
#: the width usage lines are wrapped at in the pages (the same on every terminal)
PAGE_WIDTH = 80
EXIT_STATUS = (
    ".TP\n.B 0\nsuccess\n"
    ".TP\n.B 1\nan error (a bad input, a failed verification, ...); one line on stderr says which\n"
    ".TP\n.B 2\na usage error (an unknown option, a missing argument)\n"
)
#: metavars whose values are files or directories (for file-name completion)
_FILE_METAVARS = frozenset({"FILE", "CERT", "IMAGE", "INPUT", "OUTPUT", "HKD", "KERNEL"})
_DIR_METAVARS = frozenset({"DIR", "DIRECTORY"})


class DocsError(SecexError):
    """A documentation request that cannot be met (unknown page or tool, missing renderer)."""


@dataclass(frozen=True)
class Tool:
    """A command whose parser the manual and the completions are generated from."""

    name: str
    module: str
    factory: str
    optional: bool = False

    def parser(self) -> argparse.ArgumentParser | None:
        """A freshly built parser (``None`` for an optional tool that is not there)."""
        try:
            module = importlib.import_module(self.module)
        except ModuleNotFoundError as exc:
            if self.optional and exc.name == self.module:
                return None
            raise
        factory = getattr(module, self.factory, None)
        if factory is None:
            if self.optional:
                return None
            raise DocsError(f"{self.module} has no parser factory {self.factory}()")
        parser = factory()
        if not isinstance(parser, argparse.ArgumentParser):
            raise DocsError(f"{self.module}.{self.factory}() did not return an ArgumentParser")
        return parser


#: every console script of the package but this one; optional ones are documented once present
TOOLS: tuple[Tool, ...] = (
    Tool("pvsecret", "secexkit.cli.pvsecret", "build_parser"),
    Tool("pvverify", "secexkit.cli.pvverify", "build_parser"),
    Tool("pvimg", "secexkit.cli.pvimg", "build_parser"),
    Tool("genprotimg", "secexkit.cli.pvimg", "build_genprotimg_parser"),
    Tool("pvattest", "secexkit.cli.pvattest", "build_parser", optional=True),
    Tool("secexkit-uv", "secexkit.cli.uvmodel", "build_parser", optional=True),
    Tool("secexkit-testpki", "secexkit.cli.testpki", "build_parser"),
)


def tool_parsers(names: Sequence[str] = ()) -> list[tuple[str, argparse.ArgumentParser]]:
    """(tool name, parser) for the named tools, or for every tool that is installed."""
    known = {tool.name: tool for tool in TOOLS}
    for name in names:
        if name not in known:
            raise DocsError(f"unknown tool '{name}' (known: {', '.join(known)})")
    chosen = [known[n] for n in names] if names else list(TOOLS)
    result = []
    for tool in chosen:
        parser = tool.parser()
        if parser is not None:
            result.append((tool.name, parser))
        elif names:
            raise DocsError(f"tool '{tool.name}' is not part of this installation")
    return result


def subcommands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, str, argparse.ArgumentParser]]:
    """(name, help, parser) of each public subcommand (aliases and hidden ones left out)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._get_subactions():
                if choice.help == argparse.SUPPRESS:
                    continue
                yield choice.dest, choice.help or "", action.choices[choice.dest]


@dataclass(frozen=True)
class Page:
    """One man page: its name, the parser it documents, a one-line summary, its parent page."""

    name: str
    parser: argparse.ArgumentParser
    summary: str
    parent: str | None = None


def pages(name: str, parser: argparse.ArgumentParser, summary: str | None = None,
          parent: str | None = None) -> Iterator[Page]:
    """The page of a command and, recursively, those of its subcommands."""
    yield Page(name, parser, _summary(summary or parser.description or ""), parent)
    for sub_name, help_text, sub in subcommands(parser):
        yield from pages(f"{name}-{sub_name}", sub, help_text or sub.description, name)


def _summary(text: str) -> str:
    first = " ".join(text.split()).split(". ")[0]
    return first.rstrip(".")


def all_pages(names: Sequence[str] = ()) -> list[Page]:
    """Every page of the named tools (default: all installed tools), in manual order."""
    return [page for name, parser in tool_parsers(names) for page in pages(name, parser)]


_RST_SPECIAL = re.compile(r"([\\*`|_])")
_RST_LINE_START = re.compile(r"^(?:[-+*\u2022]|\d+[.)]|#\.|\.\.)(?:\s|$)|^([=~^\"'#:.-])\1+\s*$")


def rst_text(text: str) -> str:
    """Help prose as reStructuredText that renders literally and never warns.

    Inline markup characters are escaped, lines that would start a list, a directive or a
    section underline are escaped, and indented runs (examples) become literal blocks.
    """
    out: list[str] = []
    in_block = False
    for line in text.splitlines():
        if line.strip() and line[:1].isspace():
            if not in_block:
                out += ["", "::", ""]
                in_block = True
            out.append("   " + line)
            continue
        if in_block and line.strip():
            out.append("")
        escaped = line
        if line.strip():
            in_block = False
            escaped = _RST_SPECIAL.sub(r"\\\1", line)
            if _RST_LINE_START.match(escaped):
                escaped = "\\" + escaped
        out.append(escaped)
    return "\n".join(out)


def rst_safe(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The parser with its descriptions and epilogs (and its subcommands') made :func:`rst_text`,
    and its hidden subcommands removed: the parser as the CLI reference shows it.

    sphinx-argparse parses those two texts as reStructuredText (help strings it shows
    literally), so prose written for a terminal would otherwise break ``sphinx-build -W``.
    """
    seen: set[int] = set()
    todo = [parser]
    while todo:
        item = todo.pop()
        if id(item) in seen:  # an alias names the same parser object
            continue
        seen.add(id(item))
        if item.description:
            item.description = rst_text(item.description)
        if item.epilog:
            item.epilog = rst_text(item.epilog)
        for action in item._actions:
            if isinstance(action, argparse._SubParsersAction):
                _drop_hidden_subcommands(action)
                todo.extend(action.choices.values())
    return parser


def _drop_hidden_subcommands(action: argparse._SubParsersAction[Any]) -> None:
    """Remove subcommands whose help is SUPPRESS (sphinx-argparse would show ``==SUPPRESS==``)."""
    hidden = [c for c in action._choices_actions if c.help == argparse.SUPPRESS]
    for choice in hidden:
        parser = action.choices[choice.dest]
        for name in [n for n, p in action.choices.items() if p is parser]:
            del action.choices[name]
        action._choices_actions.remove(choice)


def _import_manpage() -> Any:
    try:
        from argparse_manpage.manpage import Manpage
    except ModuleNotFoundError as exc:
        raise DocsError("man pages need argparse-manpage: pip install 'secexkit[manpages]'") from exc
    return Manpage


def _import_shtab() -> Any:
    try:
        import shtab
    except ModuleNotFoundError as exc:
        raise DocsError("completions need shtab: pip install 'secexkit[manpages]'") from exc
    return shtab


def _roff(text: str) -> str:
    return text.replace("\\", "\\\\").replace("-", "\\-")


def _fixed_width(parser: argparse.ArgumentParser) -> None:
    """Wrap usage lines at :data:`PAGE_WIDTH` columns, whatever the terminal is."""
    formatter = parser.formatter_class
    if not isinstance(formatter, functools.partial):
        parser.formatter_class = functools.partial(formatter, width=PAGE_WIDTH)  # type: ignore[call-arg]
    for _, _, sub in subcommands(parser):
        _fixed_width(sub)


def render_page(page: str, parser: argparse.ArgumentParser, summary: str,
                related: Sequence[str] = ()) -> str:
    """The roff source of one man page."""
    from .. import __version__

    _fixed_width(parser)
    manpage = _import_manpage()(parser)
    manpage.prog = page
    manpage.description = summary or None
    manpage.source = f"secexkit {__version__}"
    manpage.manual = "secexkit manual"
    manpage.section = SECTION
    manpage.add_section("exit status", "=", EXIT_STATUS.rstrip("\n"))
    if related:
        see_also = ",\n".join(f".BR {_roff(name)} ({SECTION})" for name in related)
        manpage.add_section("see also", "=", see_also)
    return str(manpage)


def _related(page: Page, found: Sequence[Page]) -> list[str]:
    """The parent page and the direct children of ``page``."""
    parent = [page.parent] if page.parent else []
    return parent + [other.name for other in found if other.parent == page.name]


def man_pages(names: Sequence[str] = ()) -> dict[str, str]:
    """File name (``pvsecret-create.1``) -> roff source, for every page of the tools."""
    found = all_pages(names)
    return {f"{page.name}.{SECTION}": render_page(page.name, page.parser, page.summary,
                                                  _related(page, found))
            for page in found}


def _mark_file_options(parser: argparse.ArgumentParser, shtab: Any) -> None:
    for action in parser._actions:
        metavar = action.metavar if isinstance(action.metavar, str) else None
        if metavar in _FILE_METAVARS:
            action.complete = shtab.FILE  # type: ignore[attr-defined]
        elif metavar in _DIR_METAVARS:
            action.complete = shtab.DIRECTORY  # type: ignore[attr-defined]
    for _, _, sub in subcommands(parser):
        _mark_file_options(sub, shtab)


def completion(shell: str, names: Sequence[str] = ()) -> str:
    """The completion script(s) of the tools for ``shell`` (bash, zsh or fish)."""
    if shell not in SHELLS:
        raise DocsError(f"unsupported shell '{shell}' (supported: {', '.join(SHELLS)})")
    shtab = _import_shtab()
    scripts = []
    for _, parser in tool_parsers(names):
        _mark_file_options(parser, shtab)
        scripts.append(shtab.complete(parser, shell=shell))
    return "\n".join(scripts)


#: where ``install`` puts each shell's completion scripts, under PREFIX/share
_COMPLETION_DIRS = {
    "bash": ("bash-completion/completions", "{}"),
    "zsh": ("zsh/site-functions", "_{}"),
    "fish": ("fish/vendor_completions.d", "{}.fish"),
}


def install(prefix: Path) -> list[Path]:
    """Write the man pages and the completion scripts under ``prefix/share``; the files."""
    written = []
    man_dir = prefix / "share" / "man" / f"man{SECTION}"
    written += _write_all(man_dir, man_pages())
    for shell, (folder, pattern) in _COMPLETION_DIRS.items():
        scripts = {pattern.format(name): completion(shell, [name]) for name, _ in tool_parsers()}
        written += _write_all(prefix / "share" / folder, scripts)
    return written


def _write_all(directory: Path, files: dict[str, str]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        path = directory / name
        temporary = path.with_name(f".{name}.tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
        written.append(path)
    return written


def build_parser() -> ArgumentParser:
    """The secexkit-docs command line."""
    parser = ArgumentParser(
        prog="secexkit-docs",
        description="Man pages and shell completions for the secexkit commands, generated "
                    "from their parsers.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                     parser_class=ArgumentParser)
    inst = commands.add_parser(
        "install", help="install the man pages and the bash, zsh and fish completions",
        description="Write the man pages to PREFIX/share/man/man1 and the completions to "
                    "PREFIX/share/bash-completion/completions, PREFIX/share/zsh/site-functions "
                    "and PREFIX/share/fish/vendor_completions.d.")
    inst.add_argument("--prefix", metavar="DIR", default=sys.prefix,
                      help=f"installation prefix (default: {sys.prefix}, this Python's prefix)")
    man = commands.add_parser("man", help="write the man pages into a directory",
                              description="Write one man page per command and subcommand "
                                          "into DIR.")
    man.add_argument("directory", metavar="DIR", help="the directory (created if missing)")
    man.add_argument("--tool", action="append", default=[], metavar="TOOL",
                     help="only this tool (repeatable; default: all)")
    page = commands.add_parser("page", help="print one man page (roff)",
                               description="Print one man page, e.g. pvsecret-create; "
                                           "read it with: secexkit-docs page NAME | man -l -")
    page.add_argument("name", metavar="NAME", help="the page name, e.g. pvsecret-create")
    comp = commands.add_parser("completion", help="print a shell completion script",
                               description="Print the completion script of the tools for SHELL; "
                                           "e.g. eval \"$(secexkit-docs completion bash)\".")
    comp.add_argument("shell", metavar="SHELL", choices=SHELLS, help="bash, zsh or fish")
    comp.add_argument("tools", metavar="TOOL", nargs="*", help="only these tools (default: all)")
    commands.add_parser("list", help="list the man page names",
                        description="List the name of every man page, one per line.")
    return parser


def _main(args: argparse.Namespace) -> int:
    if args.command == "install":
        for path in install(Path(args.prefix)):
            write_stdout(f"{path}\n")
    elif args.command == "man":
        for path in _write_all(Path(args.directory), man_pages(args.tool)):
            write_stdout(f"{path}\n")
    elif args.command == "page":
        found = all_pages()
        page = next((p for p in found if p.name == args.name), None)
        if page is None:
            raise DocsError(f"no man page named '{args.name}' (see: secexkit-docs list)")
        write_stdout(render_page(page.name, page.parser, page.summary, _related(page, found)))
    elif args.command == "completion":
        write_stdout(completion(args.shell, args.tools))
    else:
        for page in all_pages():
            write_stdout(f"{page.name}\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run secexkit-docs; the exit code."""
    return run(_main, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
