"""The names re-exported by ``secexkit`` resolve, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import secexkit


def test_every_public_name_resolves() -> None:
    for name in secexkit.__all__:
        assert getattr(secexkit, name) is not None, name


def test_import_is_lazy() -> None:
    code = ("import sys, secexkit; "
            "print(sorted(m for m in sys.modules if m.startswith('secexkit')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out.strip() == "['secexkit', 'secexkit.errors']"
