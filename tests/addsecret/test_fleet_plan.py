"""Fleet plans through the library: bad plans fail before anything is written (naming the
plan line), each host-key document is verified once and each CRL fetched once, failed
guests are skipped, re-runs, dry runs, shards and worker processes."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from secexkit.addsecret.fleet import GuestResult, PlanError, PlanSummary, run_plan
from secexkit.errors import InputError
from secexkit.trust import api as trust_api
from secexkit.trust.fetch import CrlFetcher, Transfer
from tests.support import pki
from tests.support.fleet import World, build_world, every_request, guest


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, pki_set: pki.PkiSet, vectors: Path) -> World:
    return build_world(tmp_path_factory.mktemp("fleet"), pki_set,
                       vectors / "exp" / "secure_guest.hdr",
                       host_dist_points=("http://127.0.0.1:9/ibm.crl",))


def run(plan: Path, out: Path, **kwargs: Any) -> list[GuestResult]:
    kwargs.setdefault("sync", False)
    return sorted(run_plan(plan, out, **kwargs), key=lambda r: r.index)


def line_of(plan: Path, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the ``occurrence``-th line that is ``needle`` (stripped) or
    holds it (a needle ending in ``*``: starts with it)."""
    def hit(text: str) -> bool:
        text = text.strip()
        return text.startswith(needle[:-1]) if needle.endswith("*") else text == needle
    lines = [n for n, text in enumerate(plan.read_text().splitlines(), start=1) if hit(text)]
    return lines[occurrence - 1]


META: dict[str, Any] = {"meta": {"flags": ["disable-dump"]}}


# ---------------------------------------------------------------------------- bad plans

def _bad_plans(world: World) -> Iterable[tuple[str, list[dict[str, Any]], str, str]]:
    """(id, guests, the line's text, what the message says); the bad guest comes last."""
    good = guest(world, "good", [META])
    missing = str(world.root / "no-such-secret.bin")
    yield ("unknown guest key", [good, {**guest(world, "g", [META]), "hdrr": "x"}],
           "hdrr: x", "unknown key 'hdrr'")
    yield ("unknown request option", [good, guest(world, "g", [{"meta": {"flag": ["x"]}}])],
           "flag:", "unknown key 'flag'")
    yield ("unknown secret type", [good, guest(world, "g", [{"metta": {}}])],
           "- metta: {}", "unknown secret type 'metta'")
    yield ("missing file", [good, guest(world, "g", [{"update-cck": {"secret": missing}}])],
           "secret: *", "no such file")
    yield ("duplicate secret name", [good, guest(world, "g", [
        {"association": {"name": "db"}}, {"retrievable": {"name": "db", "type": "plain",
                                                           "secret": str(world.files["plain"])}}])],
           "- retrievable:", "also used on line")
    yield ("NAME.yaml collision", [good, guest(world, "g", [
        {"association": {"name": "a b"}}, {"association": {"name": "a_b"}}])],
           "- association:", "the secret info file `a_b.yaml` collides")
    yield ("NAME.yaml over a request", [good, guest(world, "g", [
        {"meta": {"output": "db.yaml"}}, {"association": {"name": "db"}}])],
           "- association:", "the secret info file `db.yaml` collides")
    yield ("invalid CUID", [good, guest(world, "g", [META], options={"cuid-hex": "0x1234"})],
           "- name: g", "CUID hexstring must be 32chars")
    yield ("duplicate guest name", [good, guest(world, "good", [META])],
           "- name: good", "used by another guest")
    yield ("output outside the folder", [good, guest(world, "g", [{"meta": {"output": "../x"}}])],
           "output: ../x", "not a plain file name")
    yield ("bad flag", [good, guest(world, "g", [{"meta": {"flags": ["dump"]}}])],
           "- dump", "invalid flag 'dump'")
    yield ("wrong-size CCK", [good, guest(world, "g", [META], cck=str(world.files["plain"]))],
           "- name: g", "CCK must be exactly 32 bytes")


@pytest.mark.parametrize("number", range(12))
def test_bad_plan_fails_before_anything_is_written(world: World, tmp_path: Path,
                                                   number: int) -> None:
    case_id, guests, needle, message = list(_bad_plans(world))[number]
    plan = world.write_plan(guests, name=f"bad-{number}.yaml")
    out = tmp_path / "out"
    with pytest.raises(PlanError) as info:
        run(plan, out)
    text = str(info.value)
    occurrence = 2 if case_id in ("duplicate guest name", "NAME.yaml collision") else 1
    assert f"{plan}:{line_of(plan, needle, occurrence)}:" in text, (case_id, text)
    assert message in text, (case_id, text)
    assert not out.exists()


def test_plan_structure_errors(world: World, tmp_path: Path) -> None:
    for text, message in (("", "the plan is empty"), ("guests: []\n", "'version' is missing"),
                          ("version: 2\nguests: []\n", "unsupported plan version"),
                          ("version: 1\nextra: 1\nguests: []\n", "unknown key 'extra'"),
                          ("version: 1\nguests: [\n", "not valid YAML")):
        plan = tmp_path / "p.yaml"
        plan.write_text(text)
        with pytest.raises(PlanError, match=message):
            run(plan, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------- verification

class CountingFetcher(CrlFetcher):
    """Serves the test CRLs by URI and counts the downloads."""

    def __init__(self, pki_set: pki.PkiSet) -> None:
        super().__init__()
        self.crls = {"root.crl": pki.der(pki_set.root_crl), "inter.crl": pki.der(pki_set.inter_crl),
                     "ibm.crl": pki.der(pki_set.signing_crl)}
        self.calls: list[str] = []

    def transfer(self, uri: str, transfer: Transfer) -> Iterable[bytes]:
        self.calls.append(uri)
        return [self.crls[uri.rsplit("/", 1)[1]]]


def test_each_document_verified_once_and_each_crl_fetched_once(
        world: World, pki_set: pki.PkiSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = trust_api.verified_host_key

    def counted(verifier: Any, document: Any, **kwargs: Any) -> Any:
        calls.append(document.source)
        return original(verifier, document, **kwargs)

    monkeypatch.setattr(trust_api, "verified_host_key", counted)
    fetcher = CountingFetcher(pki_set)
    trust = {"cert": [str(p) for p in world.certs], "root-ca": str(world.root_ca)}
    guests = [guest(world, f"g{i}", [META, {"association": {"name": "a"}}]) for i in range(6)]
    guests.append(guest(world, "one", [META], hosts=1))
    plan = world.write_plan(guests, name="once.yaml", trust=trust)
    results = run(plan, tmp_path / "out", fetcher=fetcher)
    assert [r.status for r in results] == ["written"] * 7
    assert sorted(calls) == sorted(str(p) for p in world.hosts)
    assert sorted(fetcher.calls) == ["http://127.0.0.1:9/ibm.crl", "http://127.0.0.1:9/inter.crl",
                                     "http://127.0.0.1:9/root.crl"]


def test_a_refused_document_fails_only_its_guests(world: World, tmp_path: Path) -> None:
    bad = guest(world, "bad", [META], options={"host-key-document": [str(world.hosts[0]),
                                                               str(world.revoked)]})
    plan = world.write_plan([guest(world, "a", [META]), bad, guest(world, "b", [META])],
                            name="refused.yaml")
    summary = PlanSummary()
    results = run(plan, tmp_path / "out", summary=summary)
    assert [(r.name, r.status) for r in results] == [("a", "written"), ("bad", "failed"),
                                                     ("b", "written")]
    assert results[1].error is not None and "revoked" in results[1].error
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a", "b"]
    assert summary.counts == {"written": 2, "failed": 1}
    assert list(summary.failed_documents) == [str(world.revoked)]


# ---------------------------------------------------------------------------- re-runs

def test_rerun_keeps_existing_folders_unless_overwrite(world: World, tmp_path: Path) -> None:
    plan = world.write_plan([guest(world, "a", [META]), guest(world, "b", [META])],
                            name="rerun.yaml")
    out = tmp_path / "out"
    assert [r.status for r in run(plan, out)] == ["written", "written"]
    before = (out / "a" / "01-meta.bin").read_bytes()
    assert [r.status for r in run(plan, out)] == ["exists", "exists"]
    assert (out / "a" / "01-meta.bin").read_bytes() == before
    assert [r.status for r in run(plan, out, overwrite=True)] == ["written", "written"]
    assert (out / "a" / "01-meta.bin").read_bytes() != before  # new randomness
    assert sorted(p.name for p in out.iterdir()) == ["a", "b"]  # no staging folders left


def test_dry_run_writes_nothing(world: World, tmp_path: Path) -> None:
    plan = world.write_plan([guest(world, "a", every_request(world))], name="dry.yaml")
    results = run(plan, tmp_path / "out", dry_run=True)
    assert [r.status for r in results] == ["checked"]
    assert "random.secret" in results[0].files
    assert not (tmp_path / "out").exists()


def test_shards_split_the_plan(world: World, tmp_path: Path) -> None:
    plan = world.write_plan([guest(world, f"g{i}", [META]) for i in range(5)], name="shard.yaml")
    first = run(plan, tmp_path / "out", shard=(1, 2))
    second = run(plan, tmp_path / "out", shard=(2, 2))
    assert [r.name for r in first] == ["g0", "g2", "g4"]
    assert [r.name for r in second] == ["g1", "g3"]
    with pytest.raises(InputError, match="invalid shard"):
        run(plan, tmp_path / "out", shard=(3, 2))


def test_worker_processes_give_the_same_folders(world: World, tmp_path: Path) -> None:
    plan = world.write_plan([guest(world, f"g{i}", every_request(world)) for i in range(6)],
                            name="jobs.yaml")
    results = run(plan, tmp_path / "out", jobs=2)
    assert [r.status for r in results] == ["written"] * 6
    for result in results:
        files = sorted(p.name for p in Path(result.folder).iterdir())
        assert files == sorted(result.files)
        assert (Path(result.folder) / "random.secret").stat().st_mode & 0o777 == 0o600


def test_injected_keys_reproduce_the_requests(world: World, tmp_path: Path,
                                              test_customer_key: Any) -> None:
    from secexkit.addsecret.request import RequestKeys
    from secexkit.secret import SecretBytes

    def keys() -> RequestKeys:
        return RequestKeys(b"\x55" * 12, test_customer_key, SecretBytes(b"\x17" * 32))

    requests = [META, {"association": {"name": "a", "input-secret": str(world.files["assoc"])}}]
    plan = world.write_plan([guest(world, "g", requests)], name="keys.yaml")
    first = run(plan, tmp_path / "one", keys=keys)
    second = run(plan, tmp_path / "two", keys=keys)
    for name in first[0].files:
        assert (tmp_path / "one" / "g" / name).read_bytes() == \
            (tmp_path / "two" / "g" / name).read_bytes(), name
    with pytest.raises(InputError, match="jobs=1"):
        run(plan, tmp_path / "three", keys=keys, jobs=2)
    assert second[0].status == "written"
