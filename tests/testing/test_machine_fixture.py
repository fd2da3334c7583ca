"""secexkit_machine: a user's test builds an image for the test PKI's host, boots it on a
simulated machine, adds a fully verified disable-dump request in the guest, and the dump
is refused — in a few lines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from secexkit.testing import SimulatedMachine, generate_pki, write_placeholder_boot_loaders
from secexkit.testing.machine import PLACEHOLDER_LABEL
from tests.support.console import write_script_wrappers

ROOT = Path(__file__).resolve().parents[2]

USER_TEST = '''
import os
import subprocess
import sys

from secexkit.cli import pvimg, pvsecret
from secexkit.testing import write_placeholder_boot_loaders


def verified(pki):
    return ["--crt", str(pki.intermediate), "--crt", str(pki.signing),
            "--root-ca", str(pki.root_ca), *(f"--crl={crl}" for crl in pki.crls), "--offline"]


def build_image(pki, machine, tmp_path, *options):
    (tmp_path / "kernel").write_bytes(bytes(65536))
    image = str(tmp_path / "se.img")
    assert pvimg.main(["create", "-i", str(tmp_path / "kernel"), "--no-component-check",
                       "--bootloader-dir", str(write_placeholder_boot_loaders(tmp_path / "ldr")),
                       "-k", str(machine.host_key_document), *verified(pki), *options,
                       "-o", image]) == 0
    return image


def test_disable_dump_request_stops_dumps(secexkit_pki, secexkit_machine, tmp_path):
    (tmp_path / "cck").write_bytes(bytes(range(32)))
    image = build_image(secexkit_pki, secexkit_machine, tmp_path,
                        "--enable-dump", "--cck", str(tmp_path / "cck"))
    cuid = secexkit_machine.boot(image)
    assert secexkit_machine.dump_allowed() == (True, "dump allowed")

    request = str(tmp_path / "nodump.req")
    assert pvsecret.main(["create", "meta", "-k", str(secexkit_machine.host_key_document),
                          *verified(secexkit_pki), "--hdr", image, "--cuid-hex", "0x" + cuid.hex(),
                          "--flags", "disable-dump", "-o", request]) == 0
    subprocess.run([sys.executable, "-m", "secexkit", "add", request],
                   env=secexkit_machine.env, check=True)

    allowed, reason = secexkit_machine.dump_allowed()
    assert not allowed and reason.startswith("dumping was disabled by add-secret request #1")


def test_activate_for_in_process_guest_commands(secexkit_pki, secexkit_machine, tmp_path,
                                                capsys):
    secexkit_machine.boot(build_image(secexkit_pki, secexkit_machine, tmp_path),
                          name="web", cuid="0x" + "ab" * 16)
    assert "SECEXKIT_UV" not in os.environ
    with secexkit_machine.activate():
        assert os.environ["SECEXKIT_UV"] == str(secexkit_machine.folder)
        assert pvsecret.main(["list"]) == 0
    assert "SECEXKIT_UV" not in os.environ
    assert "Total number of secrets: 0" in capsys.readouterr().out
    guest = secexkit_machine.state()["guests"]["web"]
    assert guest["cuid"] == "0x" + "ab" * 16 and not guest["dump_allowed"]
    assert secexkit_machine.dump_allowed("web").reason.startswith("the SE header does not allow")


def test_a_fresh_machine_per_test(secexkit_machine):
    assert secexkit_machine.state()["guests"] == {}
    secexkit_machine.activate()  # left active on purpose: the fixture restores the variable


def test_the_variable_was_restored():
    assert "SECEXKIT_UV" not in os.environ


def test_two_machines(secexkit_pki, secexkit_machine, tmp_path):
    from secexkit.testing import SimulatedMachine

    other = SimulatedMachine.create(tmp_path / "other", [secexkit_pki.host_keys[1]])
    with other.activate():
        secexkit_machine.activate()  # inside another machine's activation, left active


def test_the_variable_was_restored_after_two_machines():
    assert "SECEXKIT_UV" not in os.environ
'''


def _run_user_tests(folder: Path, source: str, *, name_the_plugin: bool = True) -> str:
    """Run ``source`` as a user's test file with the plugin (named with ``-p``, or found
    through its entry point) and our console scripts on PATH; pytest's summary line."""
    (folder / "test_user.py").write_text(source)
    env = {k: v for k, v in os.environ.items() if k != "SECEXKIT_UV"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"),
                                                      os.environ.get("PYTHONPATH")]))
    env["PATH"] = os.pathsep.join([str(write_script_wrappers(folder / "bin")),
                                   env.get("PATH", "/usr/bin:/bin")])
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         *(["-p", "secexkit.testing.pytest_plugin"] if name_the_plugin else []),
         str(folder / "test_user.py")],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_machine_fixture_in_a_users_tests(tmp_path: Path) -> None:
    assert _run_user_tests(tmp_path, USER_TEST).startswith("6 passed")


def test_the_installed_plugin_needs_no_option(tmp_path: Path) -> None:
    from importlib.metadata import entry_points

    if not [e for e in entry_points(group="pytest11")
            if e.value == "secexkit.testing.pytest_plugin"]:
        pytest.skip("secexkit is not installed here (no pytest11 entry point)")
    source = ("def test_fixtures(secexkit_pki, secexkit_machine):\n"
              "    assert secexkit_machine.host_key_document == secexkit_pki.hosts[0]\n")
    assert _run_user_tests(tmp_path, source, name_the_plugin=False).startswith("1 passed")


def test_boot_errors_name_the_input(tmp_path: Path) -> None:
    from secexkit.errors import InputError

    machine = SimulatedMachine.create(tmp_path / "m", [generate_pki(1, days=2).host_keys[0]])
    with pytest.raises(InputError, match=r"no-such\.img"):
        machine.boot(tmp_path / "no-such.img")
    (tmp_path / "junk.img").write_bytes(bytes(100))
    with pytest.raises(InputError, match=r"junk\.img"):
        machine.boot(tmp_path / "junk.img")
    with pytest.raises(InputError, match="16 bytes"):
        machine.boot(tmp_path / "junk.img", cuid="0x12")
    with pytest.raises(InputError, match="not hex"):
        machine.boot(tmp_path / "junk.img", cuid="zz" * 16)


def test_the_library_guides_example_runs(tmp_path: Path) -> None:
    guide = (ROOT / "docs" / "library.rst").read_text(encoding="utf-8")
    section = guide[guide.index(".. _library-testing:"):]
    block = section[section.index(".. code-block:: python"):].split("\n\n", 1)[1]
    lines = []
    for line in block.splitlines():
        if line.strip() and not line.startswith("   "):
            break
        lines.append(line[3:])
    source = "\n".join(lines)
    assert "secexkit_machine.dump_allowed()" in source
    assert _run_user_tests(tmp_path, source).startswith("1 passed")


def test_machine_from_key_files(tmp_path: Path) -> None:
    files = generate_pki(2, days=2).write(tmp_path / "pki")
    machine = SimulatedMachine.create(tmp_path / "m", files.host_keys)
    assert repr(machine) == f"SimulatedMachine({str(tmp_path / 'm')!r})"
    state = machine.state()
    assert len(state["host_key_hashes"]) == 2 and state["guests"] == {}
    assert machine.env["SECEXKIT_UV"] == str(tmp_path / "m")
    with pytest.raises(Exception, match="already holds a software ultravisor state"):
        SimulatedMachine.create(tmp_path / "m", files.host_keys[:1])


def test_machine_refuses_a_file_that_is_no_private_key(tmp_path: Path) -> None:
    files = generate_pki(1, days=2).write(tmp_path / "pki")
    with pytest.raises(Exception, match="is not a PEM private key"):
        SimulatedMachine.create(tmp_path / "m", files.hosts)


def test_activate_nests_and_restores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECEXKIT_UV", "/elsewhere")
    machine = SimulatedMachine(tmp_path)
    with machine.activate():
        with machine.activate():
            assert os.environ["SECEXKIT_UV"] == str(tmp_path)
        assert os.environ["SECEXKIT_UV"] == str(tmp_path)
    assert os.environ["SECEXKIT_UV"] == "/elsewhere"
    machine.activate()
    machine.activate()
    machine.deactivate()
    assert os.environ["SECEXKIT_UV"] == "/elsewhere"


def test_placeholder_loaders_are_labelled(tmp_path: Path) -> None:
    folder = write_placeholder_boot_loaders(tmp_path / "loaders")
    for name in ("stage3a.bin", "stage3b_reloc.bin"):
        assert (folder / name).read_bytes().startswith(PLACEHOLDER_LABEL)
    assert b"NOT BOOTABLE" in PLACEHOLDER_LABEL
