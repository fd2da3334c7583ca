"""The CLI reference renders the parsers' prose literally: terminal help text never breaks
``sphinx-build -W`` (sphinx-argparse parses descriptions and epilogs as reStructuredText)."""

from __future__ import annotations

import argparse

from docutils import nodes
from docutils.core import publish_doctree

from secexkit.cli._docs import rst_safe, rst_text

NASTY = """Create a request for *one* host key; see `pvsecret create --help`.
Examples:
  pvsecret create meta -k z16.crt --hdr se.hdr -o req --flags disable-dump
  pvsecret create retrievable NAME --type aes|hmac-sha --secret key.bin

- not a list
1. not a list either
|sub| name_ and C:\\path
=====
.. note:: not a directive
"""


def _messages(text: str) -> tuple[list[nodes.system_message], str]:
    doctree = publish_doctree(text, settings_overrides={"report_level": 5, "halt_level": 5})
    return list(doctree.findall(nodes.system_message)), doctree.astext()


def test_raw_prose_would_warn() -> None:
    messages, _ = _messages(NASTY)
    assert messages  # the reason rst_text exists


def test_prose_renders_literally_without_messages() -> None:
    messages, text = _messages(rst_text(NASTY))
    assert messages == []
    for words in ("*one*", "`pvsecret create --help`", "--type aes|hmac-sha --secret key.bin",
                  "- not a list", "1. not a list either", "|sub| name_ and C:\\path", "=====",
                  ".. note:: not a directive"):
        assert words in text, words


def test_examples_become_literal_blocks() -> None:
    doctree = publish_doctree(rst_text(NASTY), settings_overrides={"report_level": 5})
    blocks = [b.astext() for b in doctree.findall(nodes.literal_block)]
    assert blocks == ["pvsecret create meta -k z16.crt --hdr se.hdr -o req --flags disable-dump\n"
                      "pvsecret create retrievable NAME --type aes|hmac-sha --secret key.bin"]


def test_rst_safe_converts_each_parser_once() -> None:
    parser = argparse.ArgumentParser(description="a *b*", epilog="c|d|")
    sub = parser.add_subparsers().add_parser("x", aliases=["y"], description="e_")
    rst_safe(parser)
    assert (parser.description, parser.epilog, sub.description) == ("a \\*b\\*", "c\\|d\\|", "e\\_")


def test_hidden_subcommands_are_left_out() -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers()
    commands.add_parser("shown", help="a command")
    commands.add_parser("version", aliases=["v"], help=argparse.SUPPRESS)
    rst_safe(parser)
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert list(action.choices) == ["shown"]
    assert [c.dest for c in action._choices_actions] == ["shown"]
