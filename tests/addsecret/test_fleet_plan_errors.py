"""Bad fleet plans fail before anything is written, with the plan line named: the cases
of issue 13's list not covered elsewhere (unknown trust keys, each kind of missing file,
invalid CUID files, more name and NAME.yaml collisions) and the policy options (ADR 0140)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from secexkit.addsecret.fleet import PlanError, plan_schema, run_plan
from tests.support import pki
from tests.support.fleet import World, build_world, guest

META: dict[str, Any] = {"meta": {"flags": ["disable-dump"]}}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, pki_set: pki.PkiSet, vectors: Path) -> World:
    world = build_world(tmp_path_factory.mktemp("fleet-errors"), pki_set,
                        vectors / "exp" / "secure_guest.hdr", hosts=2)
    world.files["policy"] = world.root / "initdata.rego"
    world.files["policy"].write_bytes(b"package policy\n")
    world.files["bad-cuid"] = world.root / "bad-cuid.yaml"
    world.files["bad-cuid"].write_text("cuid: '00112233445566778899aabbccddeeff'\n")
    world.files["no-cuid"] = world.root / "no-cuid.yaml"
    world.files["no-cuid"].write_text("add: '00'\n")
    world.files["short-cuid"] = world.root / "short.cuid"
    world.files["short-cuid"].write_bytes(b"\x01" * 15)
    return world


def _line(plan: Path, needle: str, occurrence: int) -> int:
    """The line holding the ``occurrence``-th line that is ``needle`` (stripped; a needle
    ending in ``*`` matches lines starting with the rest)."""
    def hit(text: str) -> bool:
        text = text.strip()
        return text.startswith(needle[:-1]) if needle.endswith("*") else text == needle
    lines = [n for n, text in enumerate(plan.read_text().splitlines(), start=1) if hit(text)]
    return lines[occurrence - 1]


# (id, the bad guest's requests and options, trust changes, the line's text and which
# occurrence of it, what the message says); paths are relative to the plan (world.root)
Case = tuple[str, list[dict[str, Any]], dict[str, Any], dict[str, Any], str, int, str]
MISSING = "missing.bin"


def _cases() -> Iterator[Case]:
    yield ("unknown trust key", [META], {}, {"offlin": True}, "offlin: true", 1,
           "unknown key 'offlin'")
    # missing files, each kind
    yield ("missing trust cert", [META], {}, {"cert": ["inter.crt", MISSING]},
           f"- {MISSING}", 1, "no such file")
    yield ("missing hdr", [META], {"hdr": MISSING}, {}, f"hdr: {MISSING}", 1, "no such file")
    yield ("missing host-key document", [META],
           {"host-key-document": ["host-0.crt", MISSING]}, {}, f"- {MISSING}", 1,
           "no such file")
    yield ("missing cuid file", [META], {"cuid": MISSING}, {}, f"cuid: {MISSING}", 1,
           "no such file")
    yield ("missing input secret", [{"association": {"name": "a", "input-secret": MISSING}}],
           {}, {}, f"input-secret: {MISSING}", 1, "no such file")
    yield ("missing user data", [{"meta": {"user-data": MISSING}}], {}, {},
           f"user-data: {MISSING}", 1, "no such file")
    yield ("missing signing key", [{"meta": {"user-sign-key": MISSING}}], {}, {},
           f"user-sign-key: {MISSING}", 1, "no such file")
    yield ("missing retrievable secret",
           [{"retrievable": {"name": "r", "secret": MISSING, "type": "aes"}}], {}, {},
           f"secret: {MISSING}", 1, "no such file")
    # invalid CUIDs: in a file (YAML or 16 bytes) and as hex
    yield ("CUID YAML without 0x", [META], {"cuid": "bad-cuid.yaml"}, {}, "- name: g", 1,
           "CUID value starts not with 0x")
    yield ("CUID YAML without cuid", [META], {"cuid": "no-cuid.yaml"}, {}, "- name: g", 1,
           "No 'cuid' entry found")
    yield ("CUID file of 15 bytes", [META], {"cuid": "short.cuid"}, {}, "- name: g", 1,
           "does not contain a 128bit value")
    yield ("CUID hex not hex", [META], {"cuid-hex": "0x" + "zz" * 16}, {}, "- name: g", 1,
           "Cannot decode hex string")
    yield ("both CUIDs", [META], {"cuid": "attest.yaml", "cuid-hex": "0x" + "00" * 16}, {},
           "cuid: attest.yaml", 1, "'cuid' cannot be used with 'cuid-hex'")
    # duplicate secret names, NAME.yaml and output collisions
    yield ("duplicate association names",
           [{"association": {"name": "db"}}, META, {"association": {"name": "db"}}], {}, {},
           "- association:", 2, "the secret name 'db' is also used on line")
    yield ("NAME.yaml of dotted names",
           [{"association": {"name": "db.a"}}, {"association": {"name": "db.b"}}], {}, {},
           "- association:", 2, "the secret info file `db.yaml` collides")
    yield ("NAME.yaml over an output secret",
           [{"association": {"name": "a", "output-secret": "b.yaml"}},
            {"association": {"name": "b"}}], {}, {},
           "- association:", 2, "the secret info file `b.yaml` collides")
    yield ("output secret over a request",
           [{"meta": {"output": "s"}}, {"association": {"name": "a", "output-secret": "s"}}],
           {}, {}, "- association:", 1, "the output secret `s` collides")
    yield ("two requests, one output", [{"meta": {"output": "x"}}, {"meta": {"output": "x"}}],
           {}, {}, "- meta:", 2, "the request `x` collides")
    # policy and toc-policy
    yield ("missing policy file", [{"meta": {"policy": "missing.rego"}}], {}, {},
           "policy: missing.rego", 1, "no such file: `missing.rego`")
    yield ("policy with user data",
           [{"meta": {"user-data": "user-data.bin", "policy": "initdata.rego"}}], {}, {},
           "policy: initdata.rego", 1, "'policy' cannot be used with 'user-data'")
    yield ("policy with a signing key",
           [{"meta": {"user-sign-key": "sign.pem", "policy": "initdata.rego"}}], {}, {},
           "policy: initdata.rego", 1, "'policy' cannot be used with 'user-sign-key'")
    yield ("toc-policy outside the folder", [{"meta": {"toc-policy": "../toc"}}], {}, {},
           "toc-policy: ../toc", 1, "not a plain file name")
    yield ("toc-policy over a request",
           [{"meta": {"output": "toc"}}, {"meta": {"toc-policy": "toc"}}], {}, {},
           "- meta:", 2, "the table-of-contents policy `toc` collides with the output of line")
    yield ("request over a toc-policy",
           [{"meta": {"toc-policy": "x.bin"}}, {"meta": {"output": "x.bin"}}], {}, {},
           "- meta:", 2, "the request `x.bin` collides with the output of line")
    yield ("toc-policy is its own request", [{"meta": {"output": "t", "toc-policy": "t"}}],
           {}, {}, "- meta:", 1, "the table-of-contents policy `t` collides")
    yield ("toc-policy over NAME.yaml",
           [{"association": {"name": "db"}}, {"meta": {"toc-policy": "db.yaml"}}], {}, {},
           "- meta:", 1, "the table-of-contents policy `db.yaml` collides")
    yield ("NAME.yaml over a toc-policy",
           [{"meta": {"toc-policy": "db.yaml"}}, {"association": {"name": "db"}}], {}, {},
           "- association:", 1, "the secret info file `db.yaml` collides")
    yield ("toc-policy over an output secret",
           [{"association": {"name": "a", "output-secret": "toc"}},
            {"meta": {"toc-policy": "toc"}}], {}, {},
           "- meta:", 1, "the table-of-contents policy `toc` collides")


@pytest.mark.parametrize("case", list(_cases()), ids=lambda case: case[0])
def test_bad_plan_names_the_line_and_writes_nothing(world: World, tmp_path: Path,
                                                    case: Case) -> None:
    case_id, requests, options, trust_change, needle, occurrence, message = case
    good = guest(world, "good", [{"meta": None}], hosts=2)
    bad = guest(world, "g", requests, hosts=2, options=options)
    plan = world.write_plan([good, bad], name=f"bad {case_id}.yaml",
                            trust={**world.trust(), **trust_change})
    out = tmp_path / "out"
    with pytest.raises(PlanError) as info:
        list(run_plan(plan, out, sync=False))
    text = str(info.value)
    assert text.startswith(f"{plan}:{_line(plan, needle, occurrence)}: "), (text, needle)
    assert message in text, text
    assert "\n" not in text
    if not trust_change:
        assert f"{plan}:{_line(plan, needle, occurrence)}: guest 'g': " in text, text
    assert not out.exists()


def test_a_shared_toc_policy_is_no_collision(world: World, tmp_path: Path) -> None:
    requests = [{"meta": {"toc-policy": "toc"}}, {"association": {"name": "a",
                                                                   "toc-policy": "toc"}}]
    plan = world.write_plan([guest(world, "g", requests, hosts=2)], name="shared-toc.yaml")
    [result] = run_plan(plan, tmp_path / "out", dry_run=True, sync=False)
    assert result.status == "checked", result.error
    assert result.files == ("01-meta.bin", "02-association.bin", "a.yaml", "toc")


def _schema_errors(data: Any) -> list[str]:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft7Validator(plan_schema())
    return [error.message for error in validator.iter_errors(data)]


@pytest.mark.parametrize("options, valid", [
    ({"policy": "p.rego", "toc-policy": "toc"}, True),
    ({"policy": "p.rego", "user-data": "u.bin"}, False),
    ({"policy": "p.rego", "user-sign-key": "k.pem"}, False),
    ({"toc-policy": "../toc"}, False),
    ({"toc-policy": ".toc"}, False),
])
def test_the_schema_knows_the_policy_options(world: World, options: dict[str, Any],
                                             valid: bool) -> None:
    for kind, required in (("meta", {}), ("association", {"name": "a"}),
                           ("retr", {"name": "r", "secret": "s", "type": "aes"}),
                           ("update-cck", {"secret": "c"})):
        entry = guest(world, "g", [{kind: {**required, **options}}], hosts=1)
        plan = yaml.safe_load(yaml.safe_dump({"version": 1, "trust": world.trust(),
                                              "guests": [entry]}))
        assert (_schema_errors(plan) == []) is valid, (kind, options)
