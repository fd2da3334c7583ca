"""pvsecret --policy and --toc-policy: the policy digest in the user data, the request
tags appended to the TOC policy file, and a TOC file that cannot be appended to.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.pvsecret import Capture, Host, create, failed, open_as_ultravisor

pytestmark = pytest.mark.usefixtures("not_a_guest")


def test_policy_and_toc_policy(
    tmp_path: Path, host: tuple[Path, ec.EllipticCurvePrivateKey], hdr: Path,
    capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("ud").write_bytes(b"hello")
    toc = tmp_path / "toc"
    toc.write_text("existing\n")
    code, stdout, err = create(capsysbinary, host[0], hdr, "req", "--policy", "ud",
                               "--toc-policy", toc, "meta")
    assert code == 0, err
    digest = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert stdout == (digest + "\n").encode()
    raw = Path("req").read_bytes()
    opened = open_as_ultravisor(raw, host[1])
    assert opened.user_data_type == 1
    assert opened.user_data == (bytes.fromhex(digest) + b"ud").ljust(512, b"\0")
    assert toc.read_text() == f"existing\n{raw[-16:].hex()}\n"
    code, _, err = create(capsysbinary, host[0], hdr, "req2", "--policy", "ud", "--user-data", "ud",
                          "meta")
    assert code == 2 and "cannot be used with" in err and not Path("req2").exists()


@pytest.mark.parametrize("where", ["missing-dir/toc", "."])
def test_toc_policy_not_appendable_leaves_no_output(
    tmp_path: Path, host: Host, hdr: Path, capsysbinary: Capture,
    monkeypatch: pytest.MonkeyPatch, where: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("secret").write_bytes(b"s" * 16)
    code, stdout, err = create(capsysbinary, host[0], hdr, "req", "--toc-policy", where,
                               "retr", "name", "--secret", "secret", "--type", "aes")
    failed(code, stdout, err, f"Cannot append the request tag to `{where}`")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret"]


def test_toc_policy_created_and_appended(tmp_path: Path, host: Host, hdr: Path,
                                         capsysbinary: Capture) -> None:
    toc = tmp_path / "toc"
    tags = []
    for n in range(2):
        req = tmp_path / f"req{n}"
        assert create(capsysbinary, host[0], hdr, req, "--toc-policy", toc, "meta")[0] == 0
        tags.append(req.read_bytes()[-16:].hex())
    assert toc.read_text() == "".join(t + "\n" for t in tags)


def test_policy_is_hashed_in_chunks(tmp_path: Path, host: Host, hdr: Path,
                                    capsysbinary: Capture) -> None:
    policy = tmp_path / "policy"
    content = bytes(range(256)) * (3 * 4096 + 1)  # > 3 MiB: several chunks, not a multiple
    policy.write_bytes(content)
    req = tmp_path / "req"
    code, stdout, err = create(capsysbinary, host[0], hdr, req, "--policy", policy, "meta")
    assert code == 0, err
    digest = hashlib.sha256(content).digest()
    assert stdout == (digest.hex() + "\n").encode()
    user_data = open_as_ultravisor(req.read_bytes(), host[1]).user_data
    assert user_data == (digest + str(policy).encode()).ljust(512, b"\0")
