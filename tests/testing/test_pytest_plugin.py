"""secexkit.testing.pytest_plugin: a user's test gets a verifiable PKI from a fixture."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

USER_TEST = '''
import secexkit
from secexkit.cli import pvverify


def test_pki(secexkit_pki):
    assert len(secexkit_pki.hosts) == 2
    assert pvverify.main(secexkit_pki.pvverify_args(1)) == 0
    keys = secexkit.verify_host_key_documents(
        [str(p) for p in secexkit_pki.hosts],
        [str(secexkit_pki.intermediate), str(secexkit_pki.signing)],
        crls=[str(p) for p in secexkit_pki.crls], root_ca=str(secexkit_pki.root_ca),
        offline=True)
    assert len(keys) == 2


def test_same_pki_for_the_session(secexkit_pki):
    assert secexkit_pki.root_ca.is_file()
'''


def test_fixture_gives_a_verifiable_pki(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(USER_TEST)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [src, os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-p", "secexkit.testing.pytest_plugin", str(tmp_path / "test_user.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
