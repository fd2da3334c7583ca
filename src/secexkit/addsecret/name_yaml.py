"""NAME.yaml: the description of a named secret, written as the reference writes it.

The reference serializes with serde_yaml 0.9 (libyaml emitter): the enum variant
becomes a local tag (``!Association``/``!Retrievable``), scalars are plain unless
they would read back as something other than a string (YAML 1.2 core schema:
null, booleans, integers, floats) or libyaml's analysis forbids plain style.
PyYAML's emitter decides differently (YAML 1.1), so the few rules are ported
here to keep the files byte-identical.
"""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import Final

from ..errors import InputError
from ..formats.names import secret_type_name
from .secrets import GuestSecret

_WIDTH: Final = 80  # libyaml's default best_width
_INDENT: Final = 2
_NULLS: Final = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS: Final = frozenset({"true", "True", "TRUE", "false", "False", "FALSE"})
_FLOAT_RE: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SPECIAL_FLOATS: Final = frozenset({".inf", ".Inf", ".INF", "-.inf", "-.Inf", "-.INF",
                                    "+.inf", "+.Inf", "+.INF", ".nan", ".NaN", ".NAN"})
_RADIX_DIGITS: Final = {16: "0123456789abcdefABCDEF", 8: "01234567", 2: "01", 10: "0123456789"}
_BREAKS: Final = frozenset("\r\n\x85\u2028\u2029")
#: Unicode White_Space (Rust char::is_whitespace), mapped to "_" in file names
_WHITE_SPACE: Final = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _rust_int(text: str, radix: int, *, signed: bool) -> int | None:
    """Rust ``from_str_radix``: optional sign, at least one digit, nothing else."""
    sign = 1
    if text[:1] == "+" or (signed and text[:1] == "-"):
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if not text or any(c not in _RADIX_DIGITS[radix] for c in text):
        return None
    return sign * int(text, radix)


def _digits_but_not_number(text: str) -> bool:
    text = text[1:] if text[:1] in ("+", "-") else text
    return len(text) > 1 and text[0] == "0" and text[1:].isascii() and text[1:].isdigit()


def _is_unsigned(text: str, bits: int) -> bool:
    body = text[1:] if text.startswith("+") else text
    for prefix, radix in (("0x", 16), ("0o", 8), ("0b", 2)):
        if body.startswith(prefix):
            rest = body[2:]
            if rest[:1] in ("+", "-"):
                return False
            value = _rust_int(rest, radix, signed=False)
            if value is not None:
                return value < 1 << bits
    if body[:1] in ("+", "-") or _digits_but_not_number(text):
        return False
    value = _rust_int(body, 10, signed=False)
    return value is not None and value < 1 << bits


def _is_negative(text: str, bits: int) -> bool:
    for prefix, radix in (("-0x", 16), ("-0o", 8), ("-0b", 2)):
        if text.startswith(prefix):
            value = _rust_int("-" + text[3:], radix, signed=True)
            if value is not None:
                return value >= -(1 << (bits - 1))
    if _digits_but_not_number(text):
        return False
    value = _rust_int(text, 10, signed=True)
    return value is not None and -(1 << (bits - 1)) <= value < 1 << (bits - 1)


def _is_float(text: str) -> bool:
    if text in _SPECIAL_FLOATS:
        return True
    if text.startswith("+") and text[1:2] in ("+", "-"):
        return False
    if not _FLOAT_RE.fullmatch(text):
        return False
    return float(text) not in (float("inf"), float("-inf"))


def scalar_kind(text: str) -> str:
    """How serde_yaml resolves an untagged plain scalar: null, bool, int, int128, float, str."""
    if text in _NULLS:
        return "null"
    if text in _BOOLS:
        return "bool"
    if _is_unsigned(text, 64) or _is_negative(text, 64):
        return "int"
    if _is_unsigned(text, 128) or _is_negative(text, 128):
        return "int128"
    if _is_float(text):
        return "float"
    return "str"


def _printable(c: str) -> bool:
    o = ord(c)
    return (
        c == "\n" or 0x20 <= o <= 0x7E or 0xA0 <= o <= 0xD7FF
        or (0xE000 <= o <= 0xFFFD and o != 0xFEFF)
    )


def _analyze(text: str) -> tuple[bool, bool, bool, bool]:
    """libyaml's scalar analysis -> (block plain, single quoted, block literal, multiline)."""
    if not text:
        return True, True, False, False
    block_ind = False
    line_breaks = special = False
    leading_space = leading_break = trailing_space = trailing_break = False
    break_space = space_break = previous_space = previous_break = False
    if text.startswith(("---", "...")):
        block_ind = True
    preceded_ws = True
    n = len(text)
    for i, c in enumerate(text):
        followed_ws = i + 1 >= n or text[i + 1] in " \t" or text[i + 1] in _BREAKS
        if i == 0:
            if c in "#,[]{}&*!|>'\"%@`":
                block_ind = True
            if c in "?:":
                block_ind = block_ind or followed_ws
            if c == "-" and followed_ws:
                block_ind = True
        else:
            if c == ":":
                block_ind = block_ind or followed_ws
            if c == "#" and preceded_ws:
                block_ind = True
        if not _printable(c):
            special = True
        if c in _BREAKS:
            line_breaks = True
        if c == " ":
            leading_space = leading_space or i == 0
            trailing_space = trailing_space or i == n - 1
            break_space = break_space or previous_break
            previous_space, previous_break = True, False
        elif c in _BREAKS:
            leading_break = leading_break or i == 0
            trailing_break = trailing_break or i == n - 1
            space_break = space_break or previous_space
            previous_space, previous_break = False, True
        else:
            previous_space = previous_break = False
        preceded_ws = c in " \t" or c in _BREAKS
    block_plain = single = block = True
    if leading_space or leading_break or trailing_space or trailing_break:
        block_plain = False
    if trailing_space:
        block = False
    if break_space:
        block_plain = single = False
    if space_break or special:
        block_plain = single = block = False
    if line_breaks or block_ind:
        block_plain = False
    return block_plain, single, block, line_breaks


_ESCAPES: Final = {"\0": "0", "\a": "a", "\b": "b", "\t": "t", "\n": "n", "\v": "v", "\f": "f",
                   "\r": "r", "\x1b": "e", '"': '"', "\\": "\\", "\x85": "N", "\xa0": "_",
                   "\u2028": "L", "\u2029": "P"}


def _fold_spaces(parts: list[str], column: int, text: str, *, quoted: bool) -> int:
    """Write ``text`` folding at spaces past the width, as libyaml does."""
    spaces = False
    n = len(text)
    for i, c in enumerate(text):
        if c == " ":
            inner = not quoted or (i != 0 and i != n - 1)
            if not spaces and column > _WIDTH and inner and text[i + 1 : i + 2] != " ":
                parts.append("\n" + " " * _INDENT)
                column = _INDENT
            else:
                parts.append(c)
                column += 1
            spaces = True
        else:
            parts.append("''" if quoted and c == "'" else c)
            column += 1
            spaces = False
    return column


def _double_quoted(text: str, column: int) -> str:
    parts = ['"']
    column += 1
    spaces = False
    n = len(text)
    for i, c in enumerate(text):
        if not _printable(c) or c == "\ufeff" or c in _BREAKS or c in '"\\':
            o = ord(c)
            esc = _ESCAPES.get(c)
            if esc is None:
                esc = f"x{o:02X}" if o <= 0xFF else f"u{o:04X}" if o <= 0xFFFF else f"U{o:08X}"
            parts.append("\\" + esc)
            column += 1 + len(esc)
            spaces = False
        elif c == " ":
            if not spaces and column > _WIDTH and i != 0 and i != n - 1:
                parts.append("\n" + " " * _INDENT)
                column = _INDENT
                if text[i + 1 : i + 2] == " ":
                    parts.append("\\")
                    column += 1
            else:
                parts.append(c)
                column += 1
            spaces = True
        else:
            parts.append(c)
            column += 1
            spaces = False
    parts.append('"')
    return "".join(parts)


def _literal(text: str) -> str:
    hints = "|"
    if text[0] == " " or text[0] in _BREAKS:
        hints += str(_INDENT)
    if text[-1] not in _BREAKS:
        hints += "-"
    elif len(text) == 1 or text[-2] in _BREAKS:
        hints += "+"
    lines = re.split("(\r\n|[\r\n\x85\u2028\u2029])", text)
    out = [hints, "\n"]
    for piece in lines:
        if not piece:
            continue
        if piece in _BREAKS or piece == "\r\n":
            out.append(piece)
        else:
            if out[-1] in _BREAKS or out[-1] in ("\n", "\r\n"):
                out.append(" " * _INDENT)
            out.append(piece)
    return "".join(out)


def yaml_scalar(text: str, column: int) -> str:
    """A mapping value as serde_yaml writes it, starting at ``column`` (after ``key: ``)."""
    quoted = scalar_kind(text) != "str" or _digits_but_not_number(text)
    block_plain, single_ok, block_ok, _ = _analyze(text)
    if "\n" in text and not quoted:
        if block_ok:
            return _literal(text)
        return _double_quoted(text, column)
    if not quoted and block_plain:
        parts: list[str] = []
        _fold_spaces(parts, column, text, quoted=False)
        return "".join(parts)
    if single_ok:
        parts = ["'"]
        _fold_spaces(parts, column + 1, text, quoted=True)
        parts.append("'")
        return "".join(parts)
    return _double_quoted(text, column)


def _mapping(tag: str, entries: list[tuple[str, str]]) -> str:
    out = tag + "\n"
    for key, value in entries:
        scalar = yaml_scalar(value, len(key) + 2)
        # a literal block that ends in a line break has already ended its line
        out += f"{key}: {scalar}" + ("" if scalar.startswith("|") and scalar[-1] in _BREAKS else "\n")
    return out


def secret_yaml(secret: GuestSecret) -> str:
    """The NAME.yaml text of an association or retrievable secret."""
    if secret.name is None or secret.secret_id is None:
        raise ValueError("only named secrets have a YAML description")
    secret_id = "0x" + secret.secret_id.hex()
    if secret.type_name == "Association":
        return _mapping("!Association", [("name", secret.name), ("id", secret_id)])
    kind = f"{secret.secret_type} ({secret_type_name(secret.secret_type)})"
    return _mapping("!Retrievable", [("kind", kind), ("name", secret.name), ("id", secret_id)])


def secret_yaml_path(name: str, output: str) -> PurePath:
    """Where NAME.yaml goes: next to ``output`` (cwd for ``-``), whitespace -> ``_``.

    The extension is replaced like Rust's ``set_extension`` (``x.tar.gz`` ->
    ``x.tar.yaml``): whatever follows the last dot of the name is dropped, so
    ``db.primary`` and ``db.replica`` both describe themselves in ``db.yaml`` (see
    :func:`described_secret_name` to notice that before replacing one by the other).
    Unlike the reference, a ``/`` in the name cannot move the
    file into another directory (it becomes ``_``), and names that give no file
    name are refused before anything is written.
    """
    file_name = "".join("_" if c in _WHITE_SPACE or c == "/" else c for c in name)
    if file_name in ("", ".", "..") or "\0" in file_name:
        raise InputError(
            f"Cannot derive a file name for the secret info from the name {name!r}: "
            "use --stdout or another name"
        )
    stem, dot, _ = file_name.rpartition(".")
    base = stem if dot and stem else file_name
    directory = PurePath(".") if output == "-" else PurePath(output).parent
    return directory / f"{base}.yaml"


def described_secret_name(path: str | PurePath) -> str | None:
    """The secret name an existing NAME.yaml at ``path`` describes, or None.

    None also when there is no such file or it is no secret description (unreadable,
    not YAML, too large): this only serves to warn before one named secret's file
    replaces another's.
    """
    import os

    from ..errors import SecexError
    from ..fileio import MAX_SMALL_FILE, read_input
    from .name_yaml_reader import parse_secret_info

    if not os.path.isfile(path):
        return None
    try:
        info = parse_secret_info(read_input(os.fspath(path), "secret info file", MAX_SMALL_FILE),
                                 os.fspath(path))
    except (SecexError, ValueError, UnicodeError):
        return None
    return info.name
