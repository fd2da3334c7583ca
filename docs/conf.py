"""Sphinx configuration of the secexkit documentation (build: see CONTRIBUTING.md).

Generated at configuration time, from the code, into ``_generated/`` (not committed):
the CLI reference (one page per tool, rendered by sphinx-argparse from the same parser
factories the commands use) and the ADR index (from ``adr/*.md``). Nothing is fetched:
no intersphinx, no remote images, so the build works offline.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent / "src"))

from secexkit import __version__  # noqa: E402
from secexkit.cli._docs import TOOLS, rst_safe  # noqa: E402

project = "secexkit"
author = "the secexkit authors"
copyright = "the secexkit authors"
version = release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinxarg.ext",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "README.md"]
html_theme = "alabaster"
html_title = f"secexkit {__version__}"
html_static_path: list[str] = []
# the ADRs are plain Markdown written for the repository browser: links to source files
# and headings that start below level 1 are fine there
suppress_warnings = ["myst.xref_missing", "myst.header"]
myst_heading_anchors = 3
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": True}

GENERATED = DOCS / "_generated"


def _write(path: Path, text: str) -> None:
    """Write only when changed, so incremental builds stay incremental."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


#: the parsers sphinx-argparse renders, as attributes of a module it can import: each is
#: built by the tool's own factory, its prose made safe to parse as reStructuredText
PARSERS = types.ModuleType("_secexkit_cli_reference")
sys.modules[PARSERS.__name__] = PARSERS


def _cli_pages() -> None:
    """One reference page per installed tool, rendered from its parser factory."""
    names = []
    for tool in TOOLS:
        parser = tool.parser()
        if parser is None:  # an optional tool that is not part of this tree
            continue
        names.append(tool.name)
        attribute = tool.name.replace("-", "_")
        setattr(PARSERS, attribute, rst_safe(parser))
        title = f"``{tool.name}``"
        _write(GENERATED / "cli" / f"{tool.name}.rst",
               f".. _cli-{tool.name}:\n\n{title}\n{'=' * len(title)}\n\n"
               f"Man pages: ``man {tool.name}``, ``man {tool.name}-SUBCOMMAND`` "
               f"(see :doc:`/install`).\n\n"
               f".. argparse::\n   :module: {PARSERS.__name__}\n   :func: {attribute}\n"
               f"   :prog: {tool.name}\n")
    for stale in (GENERATED / "cli").glob("*.rst"):
        if stale.stem not in names:
            stale.unlink()


_ADR_TITLE = re.compile(r"^#\s+(\d{4})\s*[—:-]?\s*(.*)$")


def _adr_index() -> None:
    """The ADR index page, one row per ``adr/NNNN-*.md``."""
    rows = []
    for path in sorted((DOCS / "adr").glob("[0-9][0-9][0-9][0-9]-*.md")):
        lines = path.read_text(encoding="utf-8").splitlines()
        match = _ADR_TITLE.match(lines[0]) if lines else None
        title = match.group(2).strip() if match else path.stem
        status = next((line.split(":", 1)[1].strip() for line in lines[:6]
                       if line.lower().startswith("status:")), "")
        title = title.replace("`", "``").replace("````", "``")
        rows.append(f"   * - :doc:`{path.stem[:4]} </adr/{path.stem}>`\n"
                    f"     - {title}\n     - {status or '—'}\n")
    _write(GENERATED / "adr-index.rst",
           "Architecture decision records\n=============================\n\n"
           "Every decision that shaped secexkit, newest numbers last; generated from "
           "``docs/adr/*.md``. The ones that make secexkit behave differently from "
           "s390-tools are summarised in :doc:`/differences`.\n\n"
           ".. list-table::\n   :header-rows: 1\n   :widths: 8 72 20\n\n"
           "   * - ADR\n     - Decision\n     - Status\n" + "".join(rows) +
           "\n.. toctree::\n   :hidden:\n   :glob:\n\n   /adr/*\n")


_cli_pages()
_adr_index()
