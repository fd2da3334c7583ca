"""pvsecret plan from the outside: exit codes, the JSON summary, one-line plan errors,
and a run killed midway (SIGKILL, SIGTERM) leaves only complete guest folders."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import pki
from tests.support.fleet import World, build_world, every_request, guest
from tests.support.pvsecret import cli

ROOT = Path(__file__).resolve().parents[2]
META = {"meta": {"flags": ["disable-dump"]}}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, pki_set: pki.PkiSet, vectors: Path) -> World:
    return build_world(tmp_path_factory.mktemp("fleet-cli"), pki_set,
                       vectors / "exp" / "secure_guest.hdr")


@pytest.mark.usefixtures("not_a_guest")
def test_summary_and_exit_code_name_the_failed_guest(
        world: World, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    bad = guest(world, "bad", [META], options={"host-key-document": [str(world.revoked)]})
    plan = world.write_plan([guest(world, "a", [META]), bad], name="summary.yaml")
    summary = tmp_path / "summary.json"
    code, out, err = cli(capsysbinary, "plan", plan, "-o", tmp_path / "out", "-j", "1",
                         "--summary", summary, "--no-sync")
    assert code == 1
    assert out == b""
    assert "guest 'bad'" in err and "revoked" in err
    report = json.loads(summary.read_text())
    assert report["counts"] == {"failed": 1, "written": 1}
    entries = {e["name"]: e for e in report["guests"]}
    assert entries["a"]["status"] == "written" and entries["a"]["files"] == ["01-meta.bin"]
    assert entries["bad"]["status"] == "failed" and "revoked" in entries["bad"]["error"]
    assert list(report["documents"]["refused"]) == [str(world.revoked)]
    # a re-run: the written guest exists, the failed one fails again; stdout summary
    code, out, _ = cli(capsysbinary, "plan", plan, "-o", tmp_path / "out", "-j", "1")
    assert code == 1
    assert json.loads(out)["counts"] == {"exists": 1, "failed": 1}


@pytest.mark.usefixtures("not_a_guest")
def test_plan_error_is_one_line_and_nothing_is_written(
        world: World, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    plan = world.write_plan([guest(world, "a", [META]),
                             guest(world, "b", [{"meta": {"flags": ["nope"]}}])], name="bad.yaml")
    summary = tmp_path / "summary.json"
    code, out, err = cli(capsysbinary, "plan", plan, "-o", tmp_path / "out", "--summary", summary)
    assert code == 1, err
    assert out == b""
    assert err.startswith(f"error: {plan}:") and err.count("\n") == 1, err
    assert "invalid flag 'nope'" in err
    assert not (tmp_path / "out").exists() and not summary.exists()


@pytest.mark.usefixtures("not_a_guest")
@pytest.mark.parametrize("argv", [["--shard", "3/2"], ["--shard", "x"], ["-j", "0"]])
def test_usage_errors(world: World, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes],
                      argv: list[str]) -> None:
    plan = world.write_plan([guest(world, "a", [META])], name="usage.yaml")
    code, _, err = cli(capsysbinary, "plan", plan, "-o", tmp_path / "out", *argv)
    assert code == 2, err
    assert not (tmp_path / "out").exists()


def _processes_running(plan: Path) -> list[int]:
    """Processes whose command line names ``plan`` (the run and its workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if str(plan).encode() in cmdline:
                found.append(int(entry.name))
    return found


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_killed_run_leaves_only_complete_guest_folders(world: World, tmp_path: Path,
                                                       signum: int) -> None:
    requests = every_request(world)
    plan = world.write_plan([guest(world, f"g{i:03d}", requests) for i in range(300)],
                            name=f"kill-{signum}.yaml")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    child = subprocess.Popen([sys.executable, "-m", "secexkit.cli.pvsecret", "plan", str(plan),
                              "-o", str(out), "-j", "2", "-f", "--summary",
                              str(tmp_path / "summary.json")],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        if out.is_dir() and len([p for p in out.iterdir() if not p.name.startswith(".")]) >= 3:
            break
        time.sleep(0.01)
    assert child.poll() is None, "the run ended before it could be killed"
    child.send_signal(signum)
    child.wait(timeout=30)
    # the workers follow their parent (they finish or drop the guests they hold); batches
    # complete in any order, so any guest folder shows what a complete one holds
    reference = next(p for p in sorted(out.iterdir()) if not p.name.startswith("."))
    expected = sorted(p.name for p in reference.iterdir())
    assert len(expected) == 17
    for _ in range(300):
        staging = [p.name for p in out.iterdir() if p.name.startswith(".")]
        if not staging:
            break
        time.sleep(0.02)
    assert staging == []
    for _ in range(300):  # and no worker outlives its parent
        if not _processes_running(plan):
            break
        time.sleep(0.02)
    assert _processes_running(plan) == []
    folders = [p for p in out.iterdir()]
    assert 3 <= len(folders) < 300
    for folder in folders:
        assert sorted(p.name for p in folder.iterdir()) == expected, folder
        for request in folder.glob("*.bin"):
            assert request.stat().st_size in (1512, 1576), request
    assert not (tmp_path / "summary.json").exists()  # the summary is all or nothing too


@pytest.mark.usefixtures("not_a_guest")
def test_a_dead_worker_still_gives_the_summary_of_what_was_written(
        world: World, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from secexkit.addsecret import fleet

    real_run_batch = fleet._run_batch

    def run_batch(context: object, guests: list[fleet.GuestPlan]) -> object:  # in the workers
        if any(g.name == "g11" for g in guests):
            os.kill(os.getpid(), signal.SIGKILL)
        return real_run_batch(context, guests)  # type: ignore[arg-type]

    monkeypatch.setattr(fleet, "_run_batch", run_batch)
    plan = world.write_plan([guest(world, f"g{i:02d}", [META]) for i in range(12)],
                            name="dead-worker.yaml")
    summary = tmp_path / "summary.json"
    code, _, err = cli(capsysbinary, "plan", plan, "-o", tmp_path / "out", "-j", "2",
                       "--summary", summary, "--no-sync")
    assert code == 1
    lines = err.strip().splitlines()
    assert lines[-1].startswith("error: A worker process ended unexpectedly")
    report = json.loads(summary.read_text())
    assert report["stopped"].startswith("A worker process ended unexpectedly")
    written = {g["name"] for g in report["guests"] if g["status"] == "written"}
    on_disk = {p.name for p in (tmp_path / "out").iterdir()}
    # every guest reported is on disk; the other worker may have finished a batch whose
    # report was lost with the pool (a re-run finds those as "exists")
    assert written and written <= on_disk and "g11" not in on_disk
    assert not [p for p in on_disk if p.startswith(".")]
