"""Policies in fleet plans: a request's ``policy`` embeds the same policy reference as
``pvsecret create --policy`` (the path as written in the plan), and ``toc-policy`` lists
the tags of the requests naming it in a file of the guest folder, byte for byte what
single ``pvsecret create ... --policy P --toc-policy T`` runs write (ADR 0140)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from secexkit.addsecret.fleet import run_plan
from secexkit.addsecret.user_data import verify_request_user_data
from tests.support import pki
from tests.support.fleet import World, build_world, create_argv, fix_randomness, guest
from tests.support.pvsecret import cli

POLICY = b"package policy\ndefault allow := false\n"
OTHER_POLICY = b"# another image\n" * 100


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, pki_set: pki.PkiSet, vectors: Path) -> World:
    world = build_world(tmp_path_factory.mktemp("fleet-policy"), pki_set,
                        vectors / "exp" / "secure_guest.hdr", hosts=2)
    (world.root / "policies").mkdir()
    world.files["policy"] = world.root / "policies" / "initdata.rego"
    world.files["policy"].write_bytes(POLICY)
    world.files["other-policy"] = world.root / "other.rego"
    world.files["other-policy"].write_bytes(OTHER_POLICY)
    return world


def _requests(world: World) -> list[dict[str, Any]]:
    """Requests with policies (relative, absolute, a second spelling of one file) and
    two toc-policy files, one of them shared by four requests."""
    f = world.files
    return [
        {"meta": {"flags": ["disable-dump"], "policy": "policies/initdata.rego",
                  "toc-policy": "toc.txt"}},
        {"association": {"name": "db", "input-secret": str(f["assoc"]),
                         "policy": "policies/initdata.rego", "toc-policy": "toc.txt"}},
        {"retrievable": {"name": "aes", "secret": str(f["aes"]), "type": "aes",
                         "policy": str(f["other-policy"]), "toc-policy": "toc.txt"}},
        {"update-cck": {"secret": str(f["new-cck"]),
                        "policy": "./policies/../policies/initdata.rego"}},
        {"meta": {"output": "plain.bin", "toc-policy": "toc-b"}},
        {"association": {"name": "random", "output-secret": "random.secret",
                         "toc-policy": "toc.txt"}},
    ]


@pytest.mark.usefixtures("not_a_guest")
def test_policies_match_the_single_commands(world: World, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    fix_randomness(monkeypatch)
    extra = {"cuid": str(world.files["cuid"]), "cck": str(world.files["cck"])}
    requests = _requests(world)
    plan = world.write_plan([guest(world, "g", requests, hosts=2, options=extra)],
                            name="policy.yaml")
    summary = tmp_path / "summary.json"
    code, out, err = cli(capsysbinary, "plan", plan, "-o", tmp_path / "fleet", "-j", "1",
                         "--no-sync", "--summary", summary)
    assert code == 0, err
    assert out == b""  # the policy hashes are in the summary, not on stdout
    [entry] = json.loads(summary.read_text())["guests"]

    # the single commands, run from the plan's folder with the paths as written
    monkeypatch.chdir(plan.parent)
    single = tmp_path / "single"
    single.mkdir()
    trust = [a for c in world.certs for a in ("--cert", str(c))]
    trust += [a for c in world.crls for a in ("--crl", str(c))]
    trust += ["--root-ca", str(world.root_ca), "--offline"]
    common = [*(a for h in world.hosts[:2] for a in ("-k", str(h))), *trust,
              "--hdr", str(world.hdr), "--cuid", extra["cuid"], "--cck", extra["cck"]]
    printed = {}
    for number, request in enumerate(requests, start=1):
        argv = create_argv(request, number, single) + common
        code, out, err = cli(capsysbinary, *argv)
        assert code == 0, (argv, err)
        if out:
            printed[Path(argv[argv.index("-o") + 1]).name] = out.decode().strip()

    folder = tmp_path / "fleet" / "g"
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(p.name for p in single.iterdir())
    assert {"toc.txt", "toc-b"} <= set(names)
    assert sorted(entry["files"]) == names
    for name in names:
        assert (folder / name).read_bytes() == (single / name).read_bytes(), name
        assert (folder / name).stat().st_mode & 0o777 == (single / name).stat().st_mode & 0o777
    # what pvsecret create prints for --policy is the guest's policy_hash entry
    assert entry["policy_hash"] == printed
    digest = hashlib.sha256(POLICY).hexdigest()
    assert printed == {"01-meta.bin": digest, "02-association.bin": digest,
                       "03-retrievable.bin": hashlib.sha256(OTHER_POLICY).hexdigest(),
                       "04-update-cck.bin": digest}
    # the reference carries the path as written in the plan, not the resolved one
    user_data = verify_request_user_data((folder / "01-meta.bin").read_bytes()).data
    assert user_data is not None
    assert user_data[:32] == bytes.fromhex(digest)
    assert user_data[32:].rstrip(b"\0") == b"policies/initdata.rego"
    # the toc files: one tag per request naming them, in request order
    tags = [(folder / n).read_bytes()[-16:].hex() for n in
            ("01-meta.bin", "02-association.bin", "03-retrievable.bin", "06-association.bin")]
    assert (folder / "toc.txt").read_text() == "".join(t + "\n" for t in tags)
    assert (folder / "toc-b").read_text() == (folder / "plain.bin").read_bytes()[-16:].hex() + "\n"


def test_dry_run_reports_the_policy_files_and_hashes(world: World, tmp_path: Path) -> None:
    plan = world.write_plan([guest(world, "g", _requests(world), hosts=2)], name="dry.yaml")
    [result] = run_plan(plan, tmp_path / "out", dry_run=True, sync=False)
    assert result.status == "checked", result.error
    assert result.files[-2:] == ("toc.txt", "toc-b")
    assert result.policy_hashes["01-meta.bin"] == hashlib.sha256(POLICY).hexdigest()
    assert result.to_json()["policy_hash"] == result.policy_hashes
    assert not (tmp_path / "out").exists()


def test_a_rerun_with_overwrite_rewrites_the_toc_file(world: World, tmp_path: Path) -> None:
    """The toc file is part of the guest folder: replaced with it, never appended to."""
    requests = [{"meta": {"toc-policy": "toc"}}, {"meta": {"toc-policy": "toc"}}]
    plan = world.write_plan([guest(world, "g", requests, hosts=2)], name="rerun.yaml")
    for _ in range(2):
        [result] = run_plan(plan, tmp_path / "out", overwrite=True, sync=False)
        assert result.status == "written", result.error
        assert result.policy_hashes == {}
        assert "policy_hash" not in result.to_json()
    lines = (tmp_path / "out" / "g" / "toc").read_text().splitlines()
    assert lines == [(tmp_path / "out" / "g" / f"0{n}-meta.bin").read_bytes()[-16:].hex()
                     for n in (1, 2)]


def test_worker_processes_write_the_same_toc_files(world: World, tmp_path: Path) -> None:
    requests = _requests(world)
    plan = world.write_plan([guest(world, f"g{i}", requests, hosts=2) for i in range(3)],
                            name="workers.yaml")
    results = sorted(run_plan(plan, tmp_path / "out", jobs=2, sync=False),
                     key=lambda r: r.index)
    assert [r.status for r in results] == ["written"] * 3, [r.error for r in results]
    digest = hashlib.sha256(POLICY).hexdigest()
    for result in results:
        assert result.policy_hashes["02-association.bin"] == digest
        folder = tmp_path / "out" / result.name
        assert (folder / "toc-b").read_text() == \
            (folder / "plain.bin").read_bytes()[-16:].hex() + "\n"
        assert len((folder / "toc.txt").read_text().splitlines()) == 4
