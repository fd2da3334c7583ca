"""The ADR index (docs/adr/README.md) lists every ADR, each with a status and a date."""

from __future__ import annotations

import re
from pathlib import Path

ADR_DIR = Path(__file__).resolve().parent.parent / "docs" / "adr"


def test_every_adr_has_status_and_date_and_is_indexed() -> None:
    index = (ADR_DIR / "README.md").read_text(encoding="utf-8")
    files = sorted(ADR_DIR.glob("[0-9][0-9][0-9][0-9]-*.md"))
    assert files
    for path in files:
        head = path.read_text(encoding="utf-8").splitlines()[:8]
        status = [line for line in head if line.lower().startswith("status:")]
        assert status, f"{path.name} has no Status: line"
        assert re.search(r"\d{4}-\d{2}-\d{2}", status[0]), f"{path.name}: status has no date"
        assert f"]({path.name})" in index, f"{path.name} is missing from docs/adr/README.md"
