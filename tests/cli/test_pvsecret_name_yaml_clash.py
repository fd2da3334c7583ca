"""NAME.yaml: two dotted names share one file (``db.primary``, ``db.replica`` -> ``db.yaml``);
replacing one secret's description by another's is said, naming both."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from secexkit.addsecret.name_yaml import described_secret_name, secret_yaml_path
from tests.support.pvsecret import cli

pytestmark = pytest.mark.usefixtures("not_a_guest")


def _association(capsys: pytest.CaptureFixture[bytes], host: Path, hdr: Path, out: Path,
                 name: str) -> tuple[int, str]:
    code, _, err = cli(capsys, "create", "association", name, "-k", host, "--hdr", hdr,
                       "-o", out, "--no-verify")
    return code, err


def test_the_naming_rule() -> None:
    assert secret_yaml_path("db.primary", "out/req").as_posix() == "out/db.yaml"
    assert secret_yaml_path("db.replica", "req").as_posix() == "db.yaml"
    assert secret_yaml_path("my secret", "-").as_posix() == "my_secret.yaml"
    assert secret_yaml_path("a.tar.gz", "req").as_posix() == "a.tar.yaml"
    assert secret_yaml_path(".hidden", "req").as_posix() == ".hidden.yaml"


def test_second_dotted_name_warns_naming_both(
    tmp_path: Path, host: tuple[Path, ec.EllipticCurvePrivateKey], hdr: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    code, err = _association(capsysbinary, host[0], hdr, tmp_path / "req1", "db.primary")
    assert code == 0 and "replaced" not in err
    assert described_secret_name(tmp_path / "db.yaml") == "db.primary"
    code, err = _association(capsysbinary, host[0], hdr, tmp_path / "req2", "db.replica")
    assert code == 0, err
    warning = [line for line in err.splitlines() if "db.yaml" in line and "replaced" in line]
    assert len(warning) == 1, err
    assert "'db.primary'" in warning[0] and "'db.replica'" in warning[0]
    assert described_secret_name(tmp_path / "db.yaml") == "db.replica"


def test_same_name_again_does_not_warn(
    tmp_path: Path, host: tuple[Path, ec.EllipticCurvePrivateKey], hdr: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    assert _association(capsysbinary, host[0], hdr, tmp_path / "req1", "db.primary")[0] == 0
    code, err = _association(capsysbinary, host[0], hdr, tmp_path / "req2", "db.primary")
    assert code == 0 and "replaced" not in err


def test_unrelated_file_is_no_secret_description(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("just: text\n")
    assert described_secret_name(tmp_path / "x.yaml") is None
    assert described_secret_name(tmp_path / "missing.yaml") is None
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00")
    assert described_secret_name(tmp_path / "bin.yaml") is None
