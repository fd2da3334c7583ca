"""The library guide's examples (docs/library.rst) run as doctests against the demo PKI."""

from __future__ import annotations

import doctest
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "library.rst"


def test_library_guide_examples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(ROOT / "demo", tmp_path / "demo",
                    ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    monkeypatch.chdir(tmp_path)
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    failed, attempted = doctest.testfile(str(GUIDE), module_relative=False, verbose=False,
                                         optionflags=doctest.ELLIPSIS, report=True)
    assert attempted >= 10
    assert failed == 0
