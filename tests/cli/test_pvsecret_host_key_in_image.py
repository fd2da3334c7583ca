"""``pvsecret create --hdr IMAGE`` warns, naming the document, when a host key has no key
slot in the image (the key hashes are plaintext in the SE header); the request is built."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from secexkit.addsecret.request import open_request
from secexkit.formats.request import parse_request
from tests.support.pvsecret import cli

pytestmark = pytest.mark.usefixtures("not_a_guest")

DEMO = Path(__file__).resolve().parents[2] / "demo"


def _create(capsys: pytest.CaptureFixture[bytes], out: Path, *documents: Path) -> tuple[int, str]:
    keys = [arg for document in documents for arg in ("-k", str(document))]
    code, _, err = cli(capsys, "create", "meta", *keys, "--hdr", DEMO / "se.hdr", "-o", out,
                       "--no-verify", "--flags", "disable-dump")
    return code, err


def test_host_key_not_in_image_warns_naming_the_document(
    tmp_path: Path, host: tuple[Path, ec.EllipticCurvePrivateKey],
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    out = tmp_path / "req"
    code, err = _create(capsysbinary, out, DEMO / "host-z16.crt", host[0])
    assert code == 0, err
    warnings = [line for line in err.splitlines() if "key slots" in line]
    assert len(warnings) == 1, err
    assert str(host[0]) in warnings[0] and str(DEMO / "se.hdr") in warnings[0]
    assert "host-z16.crt" not in warnings[0]
    # the request is built all the same: one key slot per document
    raw = out.read_bytes()
    assert len(parse_request(raw).key_slots) == 2
    open_request(raw, host[1])  # the slot of the warned-about key opens


def test_host_key_in_image_does_not_warn(tmp_path: Path,
                                         capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    code, err = _create(capsysbinary, tmp_path / "req", DEMO / "host-z16.crt")
    assert code == 0 and "key slots" not in err, err
