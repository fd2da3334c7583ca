"""The software ultravisor's state folder: round trip, modes, bad folders, the lock and
concurrent commands."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from secexkit.addsecret.retrievable import retrievable_secret
from secexkit.uv.softuv import Machine, Profile
from secexkit.uv.softuv.state import StateError, create_state, describe, open_state
from tests.support.softuv import FLAG_DISABLE_DUMP, PCF_ALLOW_DUMPING, Image, host_key, make_image

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def machine_dir(tmp_path: Path) -> tuple[Path, Image]:
    key = host_key()
    folder = tmp_path / "uv"
    create_state(str(folder), [key, host_key()], Profile(max_retr_secrets=7))
    image = make_image(key, pcf=PCF_ALLOW_DUMPING)
    with open_state(str(folder)) as state:
        state.machine.boot(image.header, name="web", cuid=b"\x0c" * 16)
        state.current_guest = "web"
        state.save()
    return folder, image


def test_state_round_trip(machine_dir: tuple[Path, Image]) -> None:
    folder, image = machine_dir
    with open_state(str(folder)) as state:
        guest = state.guest()
        guest.add_secret(image.association("a", ext=b"\x01" * 32))
        guest.add_secret(image.request(retrievable_secret("p", "plain", b"pw"), ext=b"\x01" * 32,
                                       flags=FLAG_DISABLE_DUMP))
        guest.lock()
        state.save()
        before = describe(state)
        stored = [(s.index, s.secret_type, s.length, s.secret_id, s.payload) for s in guest.store]
    with open_state(str(folder)) as state:
        again = state.guest("web")
        assert describe(state) == before
        assert [(s.index, s.secret_type, s.length, s.secret_id, s.payload) for s in again.store] == stored
        assert again.cuid == b"\x0c" * 16 and again.locked and again.ext_secret is not None
        assert not again.dump_status().allowed
        assert state.machine.profile.max_retr_secrets == 7 and len(state.machine.host_keys) == 2
        assert again.retrieve(1).reveal()[:4] == b"\x00\x02pw"
    assert before["guests"]["web"]["dump_allowed"] is False
    assert "add-secret request #2" in before["guests"]["web"]["dump"]
    text = json.dumps(before)
    assert "pw" not in text.replace("phkh", "")  # no secret bytes in the description


def test_modes(machine_dir: tuple[Path, Image]) -> None:
    folder, _ = machine_dir
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    assert not [p for p in folder.iterdir() if p.name.startswith(".tmp")]


def test_create_refuses_an_existing_state(machine_dir: tuple[Path, Image]) -> None:
    with pytest.raises(StateError, match="already holds a software ultravisor state"):
        create_state(str(machine_dir[0]), [host_key()])


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: None, "no such directory"),
        (lambda f: f.mkdir(), "no machine.json"),
        (lambda f: (f.mkdir(), (f / "machine.json").write_text("{not json")),
         "is corrupt: machine.json is not JSON"),
        (lambda f: (f.mkdir(), (f / "machine.json").write_text("[]")), "is not a software ultravisor state"),
        (lambda f: (f.mkdir(), (f / "machine.json").write_text('{"format": "other"}')),
         "is not a software ultravisor state"),
        (lambda f: (f.mkdir(), (f / "machine.json").write_text(
            '{"format": "secexkit-softuv-machine", "version": 9}')), "has version 9"),
        (lambda f: (f.mkdir(), (f / "machine.json").write_text(
            '{"format": "secexkit-softuv-machine", "version": 1}')), "is corrupt: missing field 'host_keys'"),
    ],
)
def test_bad_folders(tmp_path: Path, damage: object, message: str) -> None:
    folder = tmp_path / "state"
    damage(folder)  # type: ignore[operator]
    with pytest.raises(StateError, match=message) as info:
        open_state(str(folder))
    assert str(folder) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["guests"]["web"].update(cuid="00"), "cuid has 1 bytes"),
        (lambda d: d["guests"]["web"].update(locked="yes"), "locked is not true/false"),
        (lambda d: d["guests"]["web"]["tags"].update(tag="zz"), "non-hexadecimal"),
        (lambda d: d.update(host_keys=["../escape.pem"]), "bad host key file name"),
        (lambda d: d.update(host_keys=["missing.pem"]), "cannot read host key `missing.pem`"),
        (lambda d: d.update(current_guest="nobody"), "current guest 'nobody' does not exist"),
        (lambda d: d["profile"].update(extra=1), "profile fields do not match"),
    ],
)
def test_corrupt_fields(machine_dir: tuple[Path, Image], edit: object, message: str) -> None:
    folder, _ = machine_dir
    path = folder / "machine.json"
    data = json.loads(path.read_text())
    edit(data)  # type: ignore[operator]
    path.write_text(json.dumps(data))
    with pytest.raises(StateError, match=f"is corrupt: .*{message}"):
        open_state(str(folder))


def test_a_held_lock_makes_others_wait_then_give_up(machine_dir: tuple[Path, Image]) -> None:
    folder, _ = machine_dir
    with open_state(str(folder)), pytest.raises(StateError, match="is busy"):
        open_state(str(folder), timeout=0.05)
    open_state(str(folder)).close()


def test_no_guest(tmp_path: Path) -> None:
    create_state(str(tmp_path / "m"), [host_key()])
    with open_state(str(tmp_path / "m")) as state, pytest.raises(StateError, match="no running guest"):
        state.guest()


def test_concurrent_adds_from_two_processes(machine_dir: tuple[Path, Image], tmp_path: Path) -> None:
    folder, image = machine_dir
    requests = []
    for number in range(30):
        path = tmp_path / f"r{number}.bin"
        path.write_bytes(image.association(f"s{number}"))
        requests.append(path)
    script = (
        "import sys\n"
        "from secexkit.cli.pvsecret import main\n"
        "for path in sys.argv[1:]:\n"
        "    assert main(['add', path]) == 0, path\n"
    )
    env = {**os.environ, "SECEXKIT_UV": str(folder),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    procs = [subprocess.Popen([sys.executable, "-c", script, *map(str, requests[i::2])], env=env,
                              stderr=subprocess.PIPE) for i in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    with open_state(str(folder)) as state:
        guest = state.guest()
        assert sorted(s.index for s in guest.store) == list(range(30))
        assert len(guest.add_tags) == 30
        assert isinstance(state.machine, Machine)
