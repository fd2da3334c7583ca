"""Every offset table in formats/: one table per structure, shared by reader and writer.

Generic properties over all :class:`Layout` objects (found by walking the
package), and the architecture rules that keep wire facts in one place.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import secexkit
from secexkit import formats
from secexkit.errors import FormatError
from secexkit.formats._layout import Layout

SRC = Path(secexkit.__file__).resolve().parent


def _all_layouts() -> dict[str, Layout]:
    found: dict[str, Layout] = {}
    for info in pkgutil.iter_modules(formats.__path__):
        module = importlib.import_module(f"secexkit.formats.{info.name}")
        for name, value in vars(module).items():
            if isinstance(value, Layout):
                found.setdefault(f"{info.name}.{name}", value)
    return found


LAYOUTS = _all_layouts()
#: each table once (modules re-export some of them)
UNIQUE = {id(layout): (name, layout) for name, layout in LAYOUTS.items()}
IDS = sorted(name for name, _ in UNIQUE.values())
BY_NAME = {name: layout for name, layout in UNIQUE.values()}


def test_the_structures_have_tables() -> None:
    names = {layout.name for layout in BY_NAME.values()}
    for expected in ("key slot", "secret header", "request header", "add-secret request",
                     "SE header", "SE header encrypted area", "SE image metadata",
                     "SE header tags", "ECDSA signed user data", "policy reference",
                     "plaintext secret frame", "uvio_ioctl_cb", "uvio_uvdev_info",
                     "retrieve secret argument", "secret list header", "secret list entry",
                     "IPIB", "IPIB component", "component tweak"):
        assert expected in names, expected


def _values(layout: Layout) -> st.SearchStrategy[dict[str, int | bytes]]:
    fields = {
        f.name: (st.integers(0, (1 << (8 * f.size)) - 1) if f.kind == "int"
                 else st.binary(min_size=f.size, max_size=f.size))
        for f in layout.fields
    }
    return st.fixed_dictionaries(fields)


@pytest.mark.parametrize("name", IDS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_pack_unpack_round_trip(name: str, data: st.DataObject) -> None:
    layout = BY_NAME[name]
    values = data.draw(_values(layout))
    blob = layout.pack(values)
    assert len(blob) == layout.size
    assert layout.unpack(blob) == values
    # at an offset inside a larger buffer, and field by field
    prefix = data.draw(st.binary(max_size=8))
    assert layout.unpack(prefix + blob, len(prefix)) == values
    for f in layout.fields:
        assert blob[layout.slice(f.name)] == (values[f.name] if f.kind == "bytes"
                                              else int(values[f.name]).to_bytes(f.size, "big"))
        if f.kind == "int":
            assert layout.get_int(blob, f.name) == values[f.name]


@pytest.mark.parametrize("name", IDS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_arbitrary_bytes_read_back_with_reserved_bytes_zero(name: str, data: st.DataObject) -> None:
    layout = BY_NAME[name]
    blob = data.draw(st.binary(min_size=layout.size, max_size=layout.size))
    again = layout.pack(layout.unpack(blob))
    covered = bytearray(layout.size)
    for f in layout.fields:
        covered[f.offset:f.end] = b"\x01" * f.size
    assert all(a == b for a, b, c in zip(again, blob, covered, strict=True) if c)
    assert not any(a for a, c in zip(again, covered, strict=True) if not c)


@pytest.mark.parametrize("name", IDS)
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_short_input_is_a_format_error(name: str, data: st.DataObject) -> None:
    layout = BY_NAME[name]
    blob = data.draw(st.binary(max_size=layout.size - 1))
    with pytest.raises(FormatError, match=layout.name):
        layout.unpack(blob)


def _module_level_assignments(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    names = []
    for node in tree.body:
        if isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return names


def test_each_size_constant_is_defined_once() -> None:
    seen: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        for name in _module_level_assignments(path):
            if name.lstrip("_").endswith(("_SIZE", "_SIZES")):
                seen.setdefault(name.lstrip("_"), []).append(str(path.relative_to(SRC)))
    twice = {name: where for name, where in seen.items() if len(where) > 1}
    assert not twice


def test_offset_tables_live_in_formats_only() -> None:
    outside = []
    for path in sorted(SRC.rglob("*.py")):
        if path.parent.name == "formats":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Layout":
                outside.append(f"{path.relative_to(SRC)}:{node.lineno}")
            if isinstance(node, ast.ImportFrom) and node.module and node.module.endswith("_layout"):
                outside.append(f"{path.relative_to(SRC)}:{node.lineno} imports _layout")
    assert not outside


def test_formats_import_nothing_of_ours_but_errors() -> None:
    for path in sorted((SRC / "formats").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level >= 2:
                assert node.module == "errors", f"{path.name} imports ..{node.module}"
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                assert not node.module.startswith("secexkit"), path.name
