"""(No tests here.) Reading the ``.. code-block:: console`` blocks of a documentation page.

``$ `` lines are workstation commands, ``guest# `` lines run in a Secure Execution guest,
``\\`` continues a command on the next line, and every other line is expected output
(``...`` matches anything, a line of ``...`` alone matches nothing in particular).
A code block of another language with a ``:caption: NAME`` option is a file the reader
saves as NAME (:func:`steps` gives both, in page order).
"""

from __future__ import annotations

import re
import shlex
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROMPTS = ("$ ", "guest# ")


@dataclass
class Command:
    """One prompt line of a block and the output lines shown after it."""

    line: int
    text: str
    guest: bool
    product: bool
    expected: list[str] = field(default_factory=list)


def _code_blocks(text: str) -> Iterator[tuple[int, str, dict[str, str], int, list[str]]]:
    """(directive line number, language, options, first body line number, body lines
    without their common indentation) of each ``.. code-block::`` of a page."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = re.match(r"^(\s*)\.\. code-block:: (\S+)\s*$", lines[i])
        if not match:
            i += 1
            continue
        directive = i + 1
        indent = len(match.group(1))
        i += 1
        options: dict[str, str] = {}
        while i < len(lines) and re.match(r"^\s+:\w+:", lines[i]):
            name, _, value = lines[i].strip()[1:].partition(":")
            options[name] = value.strip()
            i += 1
        start = i + 1
        body: list[str] = []
        while i < len(lines) and (not lines[i].strip() or
                                  len(lines[i]) - len(lines[i].lstrip()) > indent):
            body.append(lines[i])
            i += 1
        while body and not body[-1].strip():
            body.pop()
        strip = min((len(b) - len(b.lstrip()) for b in body if b.strip()), default=0)
        yield directive, match.group(2), options, start, [b[strip:] for b in body]


def blocks(text: str) -> list[tuple[int, bool, list[str]]]:
    """(first line number, ``:class: product``?, body lines) of each console block."""
    return [(start, options.get("class", "").split() == ["product"], body)
            for _, language, options, start, body in _code_blocks(text)
            if language == "console"]


def commands(page: Path) -> list[Command]:
    """The commands of a page, in order."""
    found: list[Command] = []
    for start, product, body in blocks(page.read_text(encoding="utf-8")):
        continued = False
        for number, line in enumerate(body, start):
            if continued:
                found[-1].text += " " + line.strip().removesuffix("\\").rstrip()
            elif line.startswith(PROMPTS):
                prompt, rest = line.split(" ", 1)
                found.append(Command(number, rest.strip().removesuffix("\\").rstrip(),
                                     prompt == "guest#", product))
            elif line.strip():
                assert found, f"{page.name}:{number}: output before any command"
                found[-1].expected.append(line.strip())
            continued = line.rstrip().endswith("\\")
    return found


@dataclass
class FileBlock:
    """A code block the page asks the reader to save: ``:caption:`` names the file."""

    line: int
    name: str
    text: str


def file_blocks(text: str) -> list[FileBlock]:
    """Every ``.. code-block:: LANGUAGE`` (not console) with a ``:caption:`` option."""
    found = []
    for directive, language, options, _, body in _code_blocks(text):
        if language == "console" or "caption" not in options:
            continue
        while body and not body[0].strip():
            body.pop(0)
        found.append(FileBlock(directive, options["caption"], "\n".join(body) + "\n"))
    return found


def steps(page: Path) -> list[Command | FileBlock]:
    """The commands and the files to save of a page, in page order."""
    everything: list[Command | FileBlock] = [*commands(page),
                                             *file_blocks(page.read_text(encoding="utf-8"))]
    return sorted(everything, key=lambda step: step.line)


def _pattern(expected: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in expected.split("...")))


def check_output(command: Command, output: str) -> None:
    """Every expected line matches an output line, in order (other output lines may come
    between them); an :class:`AssertionError` naming the command otherwise."""
    lines = [line.strip() for line in output.splitlines()]
    position = 0
    for expected in command.expected:
        if expected == "...":
            continue
        pattern = _pattern(expected)
        for index in range(position, len(lines)):
            if pattern.fullmatch(lines[index]):
                position = index + 1
                break
        else:
            raise AssertionError(f"line {command.line}: {command.text}\n"
                                 f"expected {expected!r} in:\n{output}")


def write_script_wrappers(folder: Path) -> Path:
    """``folder`` (created) with one executable per console script of pyproject.toml,
    running this tree's code with this interpreter (put it first on ``PATH``)."""
    folder.mkdir(parents=True)
    with (ROOT / "pyproject.toml").open("rb") as stream:
        scripts = tomllib.load(stream)["project"]["scripts"]
    for name, target in scripts.items():
        module, function = target.split(":")
        code = (f"import sys; sys.argv[0] = {name!r}; from {module} import {function} as main; "
                "sys.exit(main())")
        path = folder / name
        path.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -c {shlex.quote(code)} "
                        '"$@"\n')
        path.chmod(0o755)
    return folder
