"""Fleet output durability: guests are staged, made durable with one flush per batch
(group commit), and only then renamed into place and reported written."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from secexkit import fileio
from secexkit.addsecret.fleet import run_plan
from tests.support import pki
from tests.support.fleet import World, build_world, guest

META: dict[str, Any] = {"meta": {"flags": ["disable-dump"]}}
ASSOCIATION: dict[str, Any] = {"association": {"name": "disk"}}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, pki_set: pki.PkiSet, vectors: Path) -> World:
    return build_world(tmp_path_factory.mktemp("fleet-sync"), pki_set,
                       vectors / "exp" / "secure_guest.hdr")


def _plan(world: World, guests: int, name: str) -> Path:
    return world.write_plan([guest(world, f"g{i:02d}", [META, ASSOCIATION])
                             for i in range(guests)], name=name)


def test_one_flush_per_batch_and_no_fsync_per_file(world: World, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    flushed: list[list[str]] = []
    fsynced: list[int] = []
    real_flush = fileio.FolderFlush.flush
    real_fsync = os.fsync

    def flush(self: fileio.FolderFlush, folders: Any) -> None:
        folders = list(folders)
        # staged under hidden names; nothing of the batch is visible before the flush
        names = [Path(f).name for f in folders]
        assert all(n.startswith(".") and n.endswith(".fleet-part") for n in names)
        anchor = Path(folders[0]).parent
        assert not [n for n in names if (anchor / n[1:-len(".fleet-part")]).exists()]
        flushed.append(folders)
        real_flush(self, folders)

    def fsync(fd: int) -> None:
        fsynced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(fileio.FolderFlush, "flush", flush)
    monkeypatch.setattr(os, "fsync", fsync)
    results = list(run_plan(_plan(world, 16, "batch.yaml"), tmp_path / "out", sync=True))
    assert sorted(r.status for r in results) == ["written"] * 16
    assert sum(len(batch) for batch in flushed) == 16
    assert 2 <= len(flushed) <= 8  # grouped, not one flush per guest
    # with syncfs, one folder fsync per batch; without it, the fallback fsyncs each file
    if fileio._syncfs() is not None:
        assert len(fsynced) == len(flushed)
    else:
        assert len(fsynced) >= 16 * 3


def test_fallback_without_syncfs_fsyncs_every_file(world: World, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}") if os.path.isdir("/proc/self/fd")
                      else str(fd))
        real_fsync(fd)

    monkeypatch.setattr(fileio, "_SYNCFS", [None])
    monkeypatch.setattr(os, "fsync", fsync)
    results = list(run_plan(_plan(world, 2, "fallback.yaml"), tmp_path / "out", sync=True))
    assert [r.status for r in results] == ["written", "written"]
    files = [p for p in synced if p.endswith((".bin", ".yaml"))]
    assert len(files) == 2 * 3  # two requests and one NAME.yaml per guest


def test_failed_flush_fails_the_batch_and_leaves_nothing(world: World, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def flush(self: fileio.FolderFlush, folders: Any) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(fileio.FolderFlush, "flush", flush)
    out = tmp_path / "out"
    results = list(run_plan(_plan(world, 3, "eio.yaml"), out, sync=True))
    assert [r.status for r in results] == ["failed"] * 3
    assert all("Input/output error" in (r.error or "") for r in results)
    assert list(out.iterdir()) == []  # no guest folder, no staging folder


def test_no_sync_never_flushes(world: World, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    def flush(self: fileio.FolderFlush, folders: Any) -> None:
        raise AssertionError("flushed with sync=False")

    monkeypatch.setattr(fileio.FolderFlush, "flush", flush)
    results = list(run_plan(_plan(world, 2, "nosync.yaml"), tmp_path / "out", sync=False))
    assert [r.status for r in results] == ["written", "written"]


def test_interrupted_while_staging_leaves_no_staging_folder(world: World, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write
    writes: list[int] = []

    def write(fd: int, data: Any) -> int:
        writes.append(fd)
        if len(writes) == 5:  # the second guest's second file
            raise KeyboardInterrupt
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        list(run_plan(_plan(world, 4, "interrupted.yaml"), out, sync=True))
    # batches of one guest here: the first guest was published, the second's staging is gone
    assert sorted(p.name for p in out.iterdir()) == ["g00"]
    assert len(list((out / "g00").iterdir())) == 3


def test_a_changed_secret_file_is_read_again_and_nothing_stays_cached(
        world: World, tmp_path: Path) -> None:
    from secexkit.addsecret import fleet
    from secexkit.addsecret.request import open_request

    secret = tmp_path / "aes.key"
    plan = world.write_plan([guest(world, "g", [
        {"retrievable": {"name": "k", "secret": str(secret), "type": "aes", "output": "k.bin"}}])],
        name="changing.yaml")
    payloads = []
    for number, fill in enumerate((b"\x11", b"\x22")):
        secret.write_bytes(fill * 32)
        out = tmp_path / f"out{number}"
        assert [r.status for r in run_plan(plan, out, sync=False)] == ["written"]
        assert fleet._retrievable.cache_info().currsize == 0  # no secret kept after the run
        opened = open_request((out / "g" / "k.bin").read_bytes(), world.host_keys[0])
        payloads.append(opened.payload.reveal())
    assert payloads[0].startswith(b"\x11" * 32) and payloads[1].startswith(b"\x22" * 32)


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_guests_written_are_the_guests_checked(world: World, tmp_path: Path, jobs: int) -> None:
    plan = _plan(world, 4, f"changing-{jobs}.yaml")
    other = world.write_plan([guest(world, "unchecked", [{"metta": {}}])],
                             name=f"other-{jobs}.yaml")

    def swap(summary: Any) -> None:  # the plan changes once it was checked
        os.replace(other, plan)

    out = tmp_path / "out"
    results = list(run_plan(plan, out, jobs=jobs, sync=False, on_checked=swap))
    assert sorted(r.name for r in results) == ["g00", "g01", "g02", "g03"]
    assert [r.status for r in results] == ["written"] * 4
    assert sorted(p.name for p in out.iterdir()) == ["g00", "g01", "g02", "g03"]


def test_the_flush_is_opened_before_the_batch_is_written(world: World, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # write-back errors are reported to file handles opened before them (Linux errseq):
    # the handle that flushes a batch must exist before the batch's first file
    events: list[str] = []
    real_init = fileio.FolderFlush.__init__
    real_write = os.write

    def init(self: fileio.FolderFlush, anchor: str) -> None:
        events.append("open")
        real_init(self, anchor)

    def write(fd: int, data: Any) -> int:
        events.append("write")
        return real_write(fd, data)

    monkeypatch.setattr(fileio.FolderFlush, "__init__", init)
    monkeypatch.setattr(os, "write", write)
    results = list(run_plan(_plan(world, 2, "order.yaml"), tmp_path / "out", sync=True))
    monkeypatch.undo()
    assert [r.status for r in results] == ["written", "written"]
    assert events[0] == "open" and "write" in events


def test_a_kernel_without_syncfs_error_reports_fsyncs_every_file(
        monkeypatch: pytest.MonkeyPatch) -> None:
    class Uname:
        release = "5.4.0-150-generic"

    monkeypatch.setattr(fileio, "_SYNCFS", [])
    monkeypatch.setattr(os, "uname", Uname)
    assert fileio._syncfs() is None


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, OSError])
def test_an_interrupted_overwrite_keeps_the_old_folder(world: World, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       interrupt: type[BaseException]) -> None:
    plan = _plan(world, 1, f"overwrite-{interrupt.__name__}.yaml")
    out = tmp_path / "out"
    assert [r.status for r in run_plan(plan, out, sync=True)] == ["written"]
    before = {p.name: p.read_bytes() for p in (out / "g00").iterdir()}
    real_rename = os.rename

    def rename(source: Any, target: Any) -> None:
        if str(source).endswith(".fleet-part"):  # the new folder's move into place
            raise interrupt()
        real_rename(source, target)

    monkeypatch.setattr(os, "rename", rename)
    if interrupt is KeyboardInterrupt:
        with pytest.raises(KeyboardInterrupt):
            list(run_plan(plan, out, sync=True, overwrite=True))
    else:
        assert [r.status for r in run_plan(plan, out, sync=True, overwrite=True)] == ["failed"]
    monkeypatch.undo()
    assert sorted(p.name for p in out.iterdir()) == ["g00"]  # no staging, no .fleet-old
    assert {p.name: p.read_bytes() for p in (out / "g00").iterdir()} == before


def test_overwrite_removes_what_replaced_a_folder_and_a_leftover(world: World, tmp_path: Path
                                                                 ) -> None:
    plan = _plan(world, 1, "leftover.yaml")
    out = tmp_path / "out"
    out.mkdir()
    (out / "g00").write_text("a file where the folder goes")
    (out / ".g00.fleet-old").write_text("a leftover that is not a folder")
    assert [r.status for r in run_plan(plan, out, sync=True, overwrite=True)] == ["written"]
    assert sorted(p.name for p in out.iterdir()) == ["g00"]
    assert (out / "g00").is_dir()


def test_a_killed_worker_is_a_worker_error(world: World, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import signal

    from secexkit.addsecret import fleet

    real_run_batch = fleet._run_batch

    def run_batch(context: Any, guests: Any) -> Any:  # runs in the forked workers
        if any(g.name == "g05" for g in guests):
            os.kill(os.getpid(), signal.SIGKILL)
        return real_run_batch(context, guests)

    monkeypatch.setattr(fleet, "_run_batch", run_batch)
    out = tmp_path / "out"
    with pytest.raises(fleet.WorkerError, match="worker process ended unexpectedly"):
        list(run_plan(_plan(world, 12, "killed-worker.yaml"), out, jobs=2, sync=False))
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_an_io_error_syncing_the_output_folder_fails_its_guests(
        world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    out = tmp_path / "out"
    out.mkdir()
    folder = os.stat(out).st_ino
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if os.fstat(fd).st_ino == folder:
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    results = list(run_plan(_plan(world, 2, "dir-eio.yaml"), out, sync=True))
    assert [r.status for r in results] == ["failed", "failed"]
    assert all("Input/output error" in (r.error or "") for r in results)
