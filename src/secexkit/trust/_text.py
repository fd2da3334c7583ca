"""Untrusted text (names from certificates and CRLs, URIs, server messages, paths) made
safe for a one-line message: control characters never reach a terminal."""

from __future__ import annotations

import unicodedata

_MAX_LEN = 200


def printable(text: str) -> str:
    """``text`` with every control or format character escaped (``\\n``, ``\\x1b``, ``\\u202e``).

    Printable text is returned unchanged (an RFC 4514 string keeps its own escapes).
    """
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char.isprintable():
            out.append(char)
        elif unicodedata.category(char) == "Zs":  # other spaces: shown as a space
            out.append(" ")
        else:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else
                       f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


def one_line(text: str, limit: int = _MAX_LEN) -> str:
    """Server- or resolver-controlled text: whitespace runs collapsed, controls escaped,
    at most ``limit`` characters."""
    text = printable(" ".join(text.split()))
    return text if len(text) <= limit else text[:limit] + "..."
