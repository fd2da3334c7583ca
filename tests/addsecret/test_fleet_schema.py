"""The shipped JSON Schema of fleet plans agrees with the plan reader: same keys at every
level, the test plans validate, and plans the reader refuses for their shape fail it too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from secexkit.addsecret import fleet
from tests.support import pki
from tests.support.fleet import World, build_world, every_request, guest


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, pki_set: pki.PkiSet, vectors: Path) -> World:
    return build_world(tmp_path_factory.mktemp("schema"), pki_set,
                       vectors / "exp" / "secure_guest.hdr", hosts=1)


def test_schema_keys_are_the_readers_keys() -> None:
    schema = fleet.plan_schema()
    assert set(schema["properties"]) == fleet._TOP_KEYS
    assert set(schema["properties"]["trust"]["properties"]) == fleet._TRUST_KEYS
    guest_schema = schema["properties"]["guests"]["items"]
    assert set(guest_schema["properties"]) == fleet._GUEST_KEYS
    variants = guest_schema["properties"]["requests"]["items"]["oneOf"]
    kinds: dict[str, set[str]] = {}
    for variant in variants:
        [(kind, body)] = variant["properties"].items()
        body = next((b for b in body.get("oneOf", [body]) if b["type"] == "object"), body)
        kinds[kind] = set(body["properties"])
    assert set(kinds) == set(fleet._KINDS)
    for kind, keys in kinds.items():
        assert keys == fleet._COMMON_REQUEST_KEYS | fleet._REQUEST_KEYS[fleet._KINDS[kind]], kind


def _validate(plan: Any) -> list[str]:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft7Validator(fleet.plan_schema())
    return [error.message for error in validator.iter_errors(plan)]


def test_test_plans_validate(world: World) -> None:
    plan = world.write_plan([guest(world, "a", every_request(world), hosts=1,
                                   cuid=str(world.files["cuid"]), cck=str(world.files["cck"])),
                             guest(world, "b", [{"meta": None}], hosts=1)])
    assert _validate(yaml.safe_load(plan.read_text())) == []


@pytest.mark.parametrize("change", ["unknown guest key", "unknown option", "both CUIDs",
                                    "missing name", "bad type", "path as name"])
def test_bad_shapes_fail_the_schema(world: World, change: str) -> None:
    entry: dict[str, Any] = guest(world, "a", [{"association": {"name": "x"}}], hosts=1)
    if change == "unknown guest key":
        entry["hdrr"] = "x"
    elif change == "unknown option":
        entry["requests"] = [{"association": {"name": "x", "secrett": "y"}}]
    elif change == "both CUIDs":
        entry.update({"cuid": "a.yaml", "cuid-hex": "0x00"})
    elif change == "missing name":
        entry["requests"] = [{"retrievable": {"secret": "s", "type": "aes"}}]
    elif change == "bad type":
        entry["requests"] = [{"retrievable": {"name": "n", "secret": "s", "type": "rsa"}}]
    else:
        entry["name"] = "../up"
    assert _validate({"version": 1, "trust": world.trust(), "guests": [entry]}) != []
