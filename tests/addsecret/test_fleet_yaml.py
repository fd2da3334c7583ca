"""Reading plan YAML: the plan reader's composer builds the same nodes as PyYAML's (tags
aside), anchors and aliases share request lists, and malformed YAML of any kind is a
:class:`PlanError` naming the plan and line, never another exception."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from secexkit.addsecret.fleet import PlanError, _loader, _PlanReader, check_plan
from tests.support import pki
from tests.support.fleet import World, build_world, guest


def _shape(node: Any, seen: dict[int, Any] | None = None) -> Any:
    """A node tree as plain data: kind, value or children, style and positions (no tags)."""
    seen = {} if seen is None else seen
    if id(node) in seen:  # an alias: the same node object again
        return ("alias", seen[id(node)])
    seen[id(node)] = (node.start_mark.line, node.start_mark.column)
    where = (node.start_mark.index, node.end_mark.index)
    if isinstance(node, yaml.ScalarNode):
        return ("scalar", node.value, node.style, where)
    if isinstance(node, yaml.SequenceNode):
        return ("sequence", [_shape(item, seen) for item in node.value], node.flow_style, where)
    return ("mapping", [(_shape(k, seen), _shape(v, seen)) for k, v in node.value],
            node.flow_style, where)


#: PyYAML's own composition on the same (libyaml) parser: plain scalars have style ''
_REFERENCE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _ours(text: str) -> Any:
    loader = _loader(io.BytesIO(text.encode()))
    loader.get_event()  # stream start
    loader.get_event()  # document start
    return loader.compose_node(None, None)


_SCALARS = st.one_of(st.text(max_size=12), st.integers(), st.booleans(), st.none(),
                     st.floats(allow_nan=False))
_DATA = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(_DATA, st.booleans())
def test_the_same_nodes_as_pyyaml(data: Any, flow: bool) -> None:
    text = yaml.safe_dump({"doc": data, "again": data}, default_flow_style=flow)
    assert _shape(_ours(text)) == _shape(yaml.compose(text, Loader=_REFERENCE))


def test_anchors_and_aliases_are_the_same_node() -> None:
    text = "a: &x [1, {b: &y c}]\nb: *x\nc: *y\n"
    ours = _shape(_ours(text))
    assert ours == _shape(yaml.compose(text, Loader=_REFERENCE))
    assert ours[1][1][1][0] == "alias" and ours[1][2][1][0] == "alias"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, pki_set: pki.PkiSet, vectors: Path) -> World:
    return build_world(tmp_path_factory.mktemp("fleet-yaml"), pki_set,
                       vectors / "exp" / "secure_guest.hdr")


def test_a_shared_request_list_means_the_same_requests(world: World) -> None:
    requests: list[dict[str, Any]] = [{"meta": {"flags": ["disable-dump"]}},
                                      {"association": {"name": "db"}}]
    plain = world.write_plan([guest(world, "a", requests), guest(world, "b", requests)],
                             name="plain.yaml")
    trust = yaml.safe_dump(world.trust(), default_flow_style=True).strip()
    hosts = ", ".join(str(p) for p in world.hosts)
    anchored = plain.with_name("anchored.yaml")
    anchored.write_text(
        f"version: 1\ntrust: {trust}\nguests:\n"
        f"  - name: a\n    hdr: {world.hdr}\n    host-key-document: [{hosts}]\n"
        "    requests: &r\n      - meta: {flags: [disable-dump]}\n"
        "      - association: {name: db}\n"
        f"  - name: b\n    hdr: {world.hdr}\n    host-key-document: [{hosts}]\n"
        "    requests: *r\n")
    def requests_of(plan: Path) -> list[Any]:  # lines aside: the files differ in layout
        return [[dataclasses.replace(r, line=0) for r in g.requests]
                for g in _PlanReader(str(plan)).guests()]

    ours, theirs = requests_of(anchored), requests_of(plain)
    assert ours == theirs and len(ours) == 2 and len(ours[0]) == 2


@pytest.mark.parametrize(("text", "line", "message"), [
    ("version: 1\ntrust: {no-verify: true}\nguests:\n  - *nowhere\n", 4, "found undefined alias"),
    ("version: 1\ntrust: {no-verify: true}\nguests:\n  - name: &a x\n    hdr: &a y\n", 5,
     "found duplicate anchor"),
    ("version: 1\ntrust: {no-verify: true}\nguests: [\n", 4, "not valid YAML"),
])
def test_broken_yaml_names_the_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(text)
    with pytest.raises(PlanError, match=rf"plan\.yaml:{line}: .*{message}"):
        check_plan(plan)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_bytes_are_a_plan_or_a_plan_error(tmp_path_factory: pytest.TempPathFactory,
                                              data: bytes) -> None:
    plan = tmp_path_factory.mktemp("fuzz") / "plan.yaml"
    plan.write_bytes(data)
    try:
        check_plan(plan)
    except PlanError as exc:  # anything else (a YAML or Python error) fails the test
        assert str(exc).startswith(str(plan))


@pytest.mark.parametrize("tail", ["---\nguests: [1, 2]\n", "--- [\n", "...\n---\n"])
def test_a_second_document_is_refused(world: World, tail: str) -> None:
    plan = world.write_plan([guest(world, "a", [{"meta": {}}])], name="two-documents.yaml")
    lines = plan.read_text().count("\n")
    plan.write_text(plan.read_text() + tail)
    with pytest.raises(PlanError, match=rf"two-documents\.yaml:{lines + 1 + tail.startswith('...')}: "
                                        "plan: a second YAML document"):
        check_plan(plan)
