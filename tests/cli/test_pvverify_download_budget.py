"""The CLI takes the download budget of a run from SECEXKIT_DOWNLOAD_BUDGET."""

from __future__ import annotations

import pytest

from secexkit.cli import _hostkeys, pvverify
from secexkit.errors import UsageError


def test_budget_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_hostkeys.BUDGET_ENV, raising=False)
    assert _hostkeys.download_limits() is None
    monkeypatch.setenv(_hostkeys.BUDGET_ENV, "1.5")
    limits = _hostkeys.download_limits()
    assert limits is not None and limits.budget == 1.5 and limits.timeout <= 1.5


@pytest.mark.parametrize("value", ["soon", "-1", "0", "nan"])
def test_bad_budget_is_a_usage_error(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str], value: str) -> None:
    monkeypatch.setenv(_hostkeys.BUDGET_ENV, value)
    with pytest.raises(UsageError):
        _hostkeys.download_limits()
    code = pvverify.main(["-k", "host.crt", "-C", "ibm.crt"])
    assert code == 2 and _hostkeys.BUDGET_ENV in capsys.readouterr().err
