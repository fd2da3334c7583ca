"""Fleet provisioning: the add-secret requests of many guests from one plan file (ADR 0120).

A *plan* (YAML, schema version 1, JSON Schema ``secexkit/data/fleet-plan-v1.schema.json``)
names the shared trust inputs and, per guest, the SE header, the host-key documents,
the optional CUID and extension secret, and the requests to create.  Every key means
what the ``pvsecret create`` option of the same name means::

    version: 1
    trust: {cert: [ibm-z-signing.crt, digicert-ca.crt], crl: [ibm.crl], offline: true}
    guests:
      - name: web-1
        hdr: web.img
        host-key-document: [z16-a.crt, z16-b.crt]
        cuid: web-1-attestation.yaml
        requests:
          - meta: {flags: [disable-dump]}
          - association: {name: db-key, output-secret: db-key.secret}
          - retrievable: {name: tls, secret: tls.pem, type: ec}
          - meta: {policy: policies/web.rego, toc-policy: toc-policy}

:func:`run_plan` reads the plan twice, streaming it (memory does not grow with the
number of guests): the first pass checks every guest (structure, files, sizes, names,
CUIDs, output names) and raises :class:`PlanError` naming the plan line before
anything is written; then every distinct host-key document is verified once, with
one shared set of trust inputs (each CRL read or downloaded once); the second pass
creates each guest's requests, in worker processes when ``jobs > 1``, and writes them
into one folder per guest, atomically (a temporary folder renamed into place).  A guest
whose documents fail is reported and skipped.  Results are yielded per guest.

``policy`` embeds the policy reference of ``--policy`` (the path as written in the
plan); ``toc-policy`` names a file of the guest folder listing the tag of every request
naming it, in request order, written with the folder (ADR 0140).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import logging
import os
import shutil
import signal
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeVar

from .. import fileio
from ..errors import InputError, SecexError
from ..secret import SecretBytes

log = logging.getLogger("secexkit.fleet")

__all__ = [
    "PLAN_VERSION",
    "GuestPlan",
    "GuestResult",
    "PlanError",
    "PlanSummary",
    "RequestPlan",
    "TrustPlan",
    "WorkerError",
    "check_plan",
    "plan_schema",
    "run_plan",
]

#: the plan schema version this module reads
PLAN_VERSION: Final = 1

#: the JSON Schema of the plan, in ``secexkit/data``
SCHEMA_RESOURCE: Final = "fleet-plan-v1.schema.json"

#: the secret types of ``pvsecret create`` and their aliases
_KINDS: Final = {"meta": "meta", "association": "association", "retrievable": "retrievable",
                 "retr": "retrievable", "update-cck": "update-cck", "cck": "update-cck"}
_RETRIEVABLE_TYPES: Final = ("plain", "aes", "aes-xts", "hmac-sha", "ec")
_TOP_KEYS: Final = frozenset({"version", "trust", "guests"})
_TRUST_KEYS: Final = frozenset({"no-verify", "cert", "crl", "root-ca", "offline"})
_GUEST_KEYS: Final = frozenset({"name", "hdr", "host-key-document", "cuid", "cuid-hex",
                                "extension-secret", "cck", "requests"})
#: options every request type takes, and those of each type
_COMMON_REQUEST_KEYS: Final = frozenset({"output", "flags", "user-data", "user-sign-key",
                                         "use-name", "policy", "toc-policy"})
_REQUEST_KEYS: Final = {
    "meta": frozenset(),
    "association": frozenset({"name", "input-secret", "output-secret"}),
    "retrievable": frozenset({"name", "secret", "type"}),
    "update-cck": frozenset({"secret"}),
}
#: hidden staging folders: ``.NAME.fleet-part`` and ``.NAME.fleet-old`` (never guest folders)
_PART_SUFFIX: Final = ".fleet-part"
#: guests per batch: staged, then made durable with one flush (ADR 0150)
_BATCH: Final = 8
_OLD_SUFFIX: Final = ".fleet-old"

Status = Literal["written", "exists", "failed", "checked"]


class PlanError(InputError):
    """The plan is wrong: the message names the plan file and line (nothing was written)."""


class WorkerError(SecexError):
    """A worker process ended without finishing its guests (killed by a signal or the
    system); the guests already reported written are complete, the others were not made."""


# ---------------------------------------------------------------------------- the plan

@dataclass(frozen=True, slots=True)
class TrustPlan:
    """The shared verification inputs (``pvsecret create``'s host-key options)."""

    no_verify: bool = False
    cert: tuple[str, ...] = ()
    crl: tuple[str, ...] = ()
    root_ca: str | None = None
    offline: bool = False


@dataclass(frozen=True, slots=True)
class RequestPlan:
    """One request of a guest: its secret type (canonical name) and options."""

    kind: str
    line: int
    output: str
    name: str | None = None
    flags: tuple[str, ...] = ()
    user_data: str | None = None
    user_sign_key: str | None = None
    use_name: bool = False
    input_secret: str | None = None
    output_secret: str | None = None
    secret: str | None = None
    type: str | None = None
    #: the policy file to read (resolved) and its path as written in the plan (embedded)
    policy: str | None = None
    policy_as_written: str | None = None
    #: the guest-folder file the request's tag line is appended to
    toc_policy: str | None = None


@dataclass(frozen=True, slots=True)
class GuestPlan:
    """One guest of the plan (paths already resolved against the plan's folder)."""

    index: int
    line: int
    name: str
    hdr: str
    host_key_document: tuple[str, ...]
    requests: tuple[RequestPlan, ...]
    cuid: str | None = None
    cuid_hex: str | None = None
    extension_secret: str | None = None
    cck: str | None = None


@dataclass(slots=True)
class GuestResult:
    """What became of one guest.

    ``status``: ``written`` (the folder was created), ``exists`` (left alone: no
    ``overwrite``), ``checked`` (dry run: it would be written) or ``failed`` (``error``
    says why; nothing of the guest was written).  ``files``: the file names in the folder.
    ``policy_hashes``: request file name -> SHA-256 (hex) of its ``policy`` file (what
    ``pvsecret create --policy`` prints; not in the summary entry of a failed guest).
    """

    index: int
    name: str
    line: int
    status: Status
    folder: str
    files: tuple[str, ...] = ()
    error: str | None = None
    policy_hashes: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The summary entry of the guest."""
        entry: dict[str, Any] = {"name": self.name, "index": self.index, "line": self.line,
                                 "status": self.status, "folder": self.folder,
                                 "files": list(self.files)}
        if self.policy_hashes and self.status != "failed":
            entry["policy_hash"] = dict(self.policy_hashes)
        if self.error is not None:
            entry["error"] = self.error
        return entry


@dataclass(slots=True)
class PlanSummary:
    """Counts over a run (filled while :func:`run_plan` yields)."""

    guests: int = 0
    documents: int = 0
    failed_documents: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, result: GuestResult) -> None:
        """Count one result."""
        self.counts[result.status] = self.counts.get(result.status, 0) + 1


# ---------------------------------------------------------------------------- reading

class _Node:
    """Accessors on a composed YAML node that raise :class:`PlanError` with the line."""

    def __init__(self, plan: str, node: Any, what: str) -> None:
        self.plan = plan
        self.node = node
        self.what = what

    @property
    def line(self) -> int:
        return int(self.node.start_mark.line) + 1

    def error(self, message: str) -> PlanError:
        return PlanError(f"{self.plan}:{self.line}: {self.what}: {message}")

    def mapping(self, allowed: frozenset[str]) -> dict[str, _Node]:
        import yaml

        if not isinstance(self.node, yaml.MappingNode):
            raise self.error("expected a mapping")
        found: dict[str, _Node] = {}
        for key, value in self.node.value:
            child = _Node(self.plan, key, self.what)
            if not isinstance(key, yaml.ScalarNode):
                raise child.error("keys must be strings")
            name = str(key.value)
            if name not in allowed:
                raise child.error(f"unknown key '{name}' (expected one of: "
                                  f"{', '.join(sorted(allowed))})")
            if name in found:
                raise child.error(f"'{name}' given twice")
            found[name] = _Node(self.plan, value, f"{self.what}: {name}")
        return found

    def text(self) -> str:
        import yaml

        if not isinstance(self.node, yaml.ScalarNode) or (
                not self.node.style and self.node.value in ("", "~", "null", "Null", "NULL")):
            raise self.error("expected a string")
        return str(self.node.value)

    def boolean(self) -> bool:
        import yaml

        if isinstance(self.node, yaml.ScalarNode) and not self.node.style:
            if self.node.value in ("true", "True", "TRUE"):
                return True
            if self.node.value in ("false", "False", "FALSE"):
                return False
        raise self.error("expected true or false")

    def texts(self) -> tuple[str, ...]:
        """A string or a list of strings (as a repeatable option)."""
        import yaml

        if isinstance(self.node, yaml.SequenceNode):
            values = tuple(_Node(self.plan, item, self.what).text() for item in self.node.value)
            if not values:
                raise self.error("must not be empty")
            return values
        return (self.text(),)

    def items(self) -> list[_Node]:
        import yaml

        if not isinstance(self.node, yaml.SequenceNode):
            raise self.error("expected a list")
        return [_Node(self.plan, item, f"{self.what}[{i}]") for i, item in enumerate(self.node.value)]


def _plain_file_name(node: _Node, value: str) -> str:
    if value in (".", "..") or "/" in value or "\0" in value or value.startswith(".") \
            or value.endswith((_PART_SUFFIX, _OLD_SUFFIX)):
        raise node.error(f"'{value}' is not a plain file name (no '/', not starting with '.')")
    return value


def _loader(stream: Any) -> Any:
    """A YAML event source with PyYAML's composer: libyaml's parser when there is one
    (the pure-Python scanner costs more than the requests of a guest)."""
    import yaml

    try:
        from yaml._yaml import CParser
    except ImportError:
        return yaml.SafeLoader(stream)
    from yaml.composer import Composer, ComposerError
    from yaml.resolver import Resolver

    class Loader(Composer, Resolver, CParser):
        def __init__(self, source: Any) -> None:
            CParser.__init__(self, source)
            Composer.__init__(self)
            Resolver.__init__(self)

        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            # the plan reader looks at values and styles, never at tags: skip the
            # implicit-tag regular expressions (a tenth of reading a plan)
            return ""

        def compose_node(self, parent: Any, index: Any) -> Any:
            # PyYAML's composition without tag resolution: nodes straight from events,
            # anchors and aliases as in yaml.composer (about a third faster)
            event: Any = self.get_event()
            kind = type(event)
            if kind is yaml.AliasEvent:
                if event.anchor not in self.anchors:
                    raise ComposerError(None, None, f"found undefined alias {event.anchor!r}",
                                        event.start_mark)
                return self.anchors[event.anchor]
            anchor = event.anchor
            if anchor is not None and anchor in self.anchors:
                raise ComposerError(f"found duplicate anchor {anchor!r}; first occurrence",
                                    self.anchors[anchor].start_mark, "second occurrence",
                                    event.start_mark)
            node: Any
            if kind is yaml.ScalarEvent:
                node = yaml.ScalarNode("", event.value, event.start_mark, event.end_mark,
                                       style=event.style)
                if anchor is not None:
                    self.anchors[anchor] = node
                return node
            if kind is yaml.SequenceStartEvent:
                node = yaml.SequenceNode("", [], event.start_mark, None,
                                         flow_style=event.flow_style)
                if anchor is not None:
                    self.anchors[anchor] = node
                items = node.value
                while not self.check_event(yaml.SequenceEndEvent):
                    items.append(self.compose_node(node, None))
            else:
                node = yaml.MappingNode("", [], event.start_mark, None,
                                        flow_style=event.flow_style)
                if anchor is not None:
                    self.anchors[anchor] = node
                pairs = node.value
                while not self.check_event(yaml.MappingEndEvent):
                    key = self.compose_node(node, None)
                    pairs.append((key, self.compose_node(node, key)))
            end: Any = self.get_event()
            node.end_mark = end.end_mark
            return node

    return Loader(stream)


class _PlanReader:
    """Streams a plan: the guests one by one (composed one at a time), header keys kept."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.base = os.path.dirname(os.path.abspath(path))
        self.trust = TrustPlan()
        self.version: int | None = None

    def _path(self, value: str) -> str:
        return value if os.path.isabs(value) else os.path.join(self.base, value)

    def guests(self) -> Iterator[GuestPlan]:
        """Every guest, in plan order (raises :class:`PlanError`)."""
        import yaml

        try:
            stream = open(self.path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise PlanError(f"Cannot read the plan at `{self.path}`: {exc.strerror or exc}") from None
        try:
            with stream:
                yield from self._guests(_loader(stream))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f":{mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc)
            context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
            if context:  # e.g. "found duplicate anchor 'a'; first occurrence (line 4), second ..."
                where = f" (line {context_mark.line + 1})" if context_mark is not None else ""
                problem = f"{context}{where}, {problem}"
            raise PlanError(f"{self.path}{line}: not valid YAML: {problem}") from None

    def _guests(self, loader: Any) -> Iterator[GuestPlan]:
        import yaml

        loader.get_event()  # stream start
        if loader.check_event(yaml.StreamEndEvent):
            raise PlanError(f"{self.path}:1: the plan is empty")
        loader.get_event()  # document start
        start = loader.get_event()
        top = _Node(self.path, start, "plan")
        if not isinstance(start, yaml.MappingStartEvent):
            raise top.error("expected a mapping with version, trust and guests")
        seen: set[str] = set()
        index = 0
        while not loader.check_event(yaml.MappingEndEvent):
            key = loader.compose_node(None, None)
            key_node = _Node(self.path, key, "plan")
            name = str(key.value) if isinstance(key, yaml.ScalarNode) else ""
            if name not in _TOP_KEYS:
                raise key_node.error(f"unknown key '{name}' (expected one of: "
                                     f"{', '.join(sorted(_TOP_KEYS))})")
            if name in seen:
                raise key_node.error(f"'{name}' given twice")
            seen.add(name)
            if name != "guests":
                value = _Node(self.path, loader.compose_node(None, None), f"plan: {name}")
                if name == "version":
                    self._version(value)
                else:
                    self._trust(value)
                continue
            opening = loader.get_event()
            if not isinstance(opening, yaml.SequenceStartEvent):
                raise _Node(self.path, opening, "plan: guests").error("expected a list of guests")
            while not loader.check_event(yaml.SequenceEndEvent):
                node = loader.compose_node(None, None)
                yield self._guest(_Node(self.path, node, f"guest {index + 1}"), index)
                index += 1
            loader.get_event()
        for required in ("version", "trust", "guests"):
            if required not in seen:
                raise top.error(f"'{required}' is missing")
        loader.get_event()  # the end of the plan's mapping
        loader.get_event()  # the end of its document
        if not loader.check_event(yaml.StreamEndEvent):
            raise _Node(self.path, loader.peek_event(), "plan").error(
                "a second YAML document: a plan is one document")

    def _version(self, node: _Node) -> None:
        value = node.node.value if not isinstance(node.node.value, list) else None
        if value != str(PLAN_VERSION):
            raise node.error(f"unsupported plan version {value!r} (this is version {PLAN_VERSION})")
        self.version = PLAN_VERSION

    def _trust(self, node: _Node) -> None:
        keys = node.mapping(_TRUST_KEYS)
        trust = TrustPlan(
            no_verify=keys["no-verify"].boolean() if "no-verify" in keys else False,
            cert=tuple(self._existing(n, v) for n, v in _each(keys.get("cert"))),
            crl=tuple(self._existing(n, v) for n, v in _each(keys.get("crl"))),
            root_ca=self._existing(keys["root-ca"], keys["root-ca"].text())
            if "root-ca" in keys else None,
            offline=keys["offline"].boolean() if "offline" in keys else False)
        if trust.no_verify and trust.cert:
            raise node.error("'no-verify' cannot be used with 'cert'")
        if not trust.no_verify and not trust.cert:
            raise node.error("name the IBM Z signing-key certificates ('cert') or set 'no-verify'")
        self.trust = trust

    def _existing(self, node: _Node, value: str) -> str:
        path = self._path(value)
        if not os.path.isfile(path):
            raise node.error(f"no such file: `{value}`")
        return path

    def _guest(self, node: _Node, index: int) -> GuestPlan:
        keys = node.mapping(_GUEST_KEYS)
        for required in ("name", "hdr", "host-key-document", "requests"):
            if required not in keys:
                raise node.error(f"'{required}' is missing")
        name = _plain_file_name(keys["name"], keys["name"].text())
        node.what = f"guest '{name}'"
        for key, child in keys.items():  # named from here on, not numbered
            child.what = f"guest '{name}': {key}"
        for a, b in (("cck", "extension-secret"), ("cuid", "cuid-hex")):
            if a in keys and b in keys:
                raise keys[a].error(f"'{a}' cannot be used with '{b}'")

        def optional(key: str) -> str | None:
            return self._existing(keys[key], keys[key].text()) if key in keys else None

        requests = []
        for number, item in enumerate(keys["requests"].items(), start=1):
            item.what = f"guest '{name}': request {number}"
            requests.append(self._request(item, number))
        if not requests:
            raise keys["requests"].error("no requests")
        return GuestPlan(
            index=index, line=node.line, name=name,
            hdr=self._existing(keys["hdr"], keys["hdr"].text()),
            host_key_document=tuple(self._existing(n, v)
                                    for n, v in _each(keys["host-key-document"])),
            requests=tuple(requests), cuid=optional("cuid"),
            cuid_hex=keys["cuid-hex"].text() if "cuid-hex" in keys else None,
            extension_secret=optional("extension-secret"), cck=optional("cck"))

    def _request(self, node: _Node, number: int) -> RequestPlan:
        import yaml

        if not (isinstance(node.node, yaml.MappingNode) and len(node.node.value) == 1):
            raise node.error("expected one secret type with its options, e.g. "
                             "'- meta: {flags: [disable-dump]}'")
        key, value = node.node.value[0]
        kind = _KINDS.get(str(key.value)) if isinstance(key, yaml.ScalarNode) else None
        if kind is None:
            raise _Node(self.path, key, node.what).error(
                f"unknown secret type '{key.value}' (expected one of: {', '.join(_KINDS)})")
        node.what += f" ({key.value})"
        options = _Node(self.path, value, node.what)
        if isinstance(value, yaml.ScalarNode) and value.value in ("", "~", "null") \
                and not value.style:
            keys: dict[str, _Node] = {}
        else:
            keys = options.mapping(_COMMON_REQUEST_KEYS | _REQUEST_KEYS[kind])
        for required in {"association": ("name",), "retrievable": ("name", "secret", "type"),
                         "update-cck": ("secret",)}.get(kind, ()):
            if required not in keys:
                raise options.error(f"'{required}' is missing")
        if "input-secret" in keys and "output-secret" in keys:
            raise keys["input-secret"].error("'input-secret' cannot be used with 'output-secret'")
        if "policy" in keys and "user-data" in keys:
            raise keys["policy"].error("'policy' cannot be used with 'user-data'")
        if "policy" in keys and "user-sign-key" in keys:  # ADR 0140
            raise keys["policy"].error("'policy' cannot be used with 'user-sign-key': signed "
                                       "user data has no room for the policy reference")
        flag_items = _each(keys.get("flags"))
        flags = tuple(v for _, v in flag_items)
        from ..formats.request import ADD_SECRET_FLAGS

        for flag_node, flag in flag_items:
            if flag not in ADD_SECRET_FLAGS:
                raise flag_node.error(f"invalid flag '{flag}' "
                                      f"[possible values: {', '.join(ADD_SECRET_FLAGS)}]")
        retr_type = keys["type"].text() if "type" in keys else None
        if retr_type is not None and retr_type not in _RETRIEVABLE_TYPES:
            raise keys["type"].error(f"invalid type '{retr_type}' "
                                     f"[possible values: {', '.join(_RETRIEVABLE_TYPES)}]")

        def path(key: str) -> str | None:
            return self._existing(keys[key], keys[key].text()) if key in keys else None

        output_secret = keys.get("output-secret")
        toc_policy = keys.get("toc-policy")
        return RequestPlan(
            kind=kind, line=node.line,
            output=(_plain_file_name(keys["output"], keys["output"].text()) if "output" in keys
                    else f"{number:02d}-{kind}.bin"),
            name=keys["name"].text() if "name" in keys else None, flags=flags,
            user_data=path("user-data"), user_sign_key=path("user-sign-key"),
            use_name=keys["use-name"].boolean() if "use-name" in keys else False,
            input_secret=path("input-secret"),
            output_secret=(_plain_file_name(output_secret, output_secret.text())
                           if output_secret is not None else None),
            secret=path("secret"), type=retr_type, policy=path("policy"),
            policy_as_written=keys["policy"].text() if "policy" in keys else None,
            toc_policy=(_plain_file_name(toc_policy, toc_policy.text())
                        if toc_policy is not None else None))


def _each(node: _Node | None) -> list[tuple[_Node, str]]:
    """(node, value) of each string of a repeatable option: a list item's own node, so an
    error names its line."""
    import yaml

    if node is None:
        return []
    if isinstance(node.node, yaml.SequenceNode):
        node.texts()  # not empty, strings only
        return [(_Node(node.plan, item, node.what), str(item.value)) for item in node.node.value]
    return [(node, node.text())]


# ---------------------------------------------------------------------------- one guest

class _File:
    """One output file of a guest folder."""

    __slots__ = ("data", "name", "secret")

    def __init__(self, name: str, data: bytes, secret: bool = False) -> None:
        self.name = name
        self.data = data
        self.secret = secret


class _Prepared:
    """A guest's requests, ready to be encrypted for its host keys."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, Any, Any]] = []  # (output, AddSecretRequest, secret)
        self.extra: list[_File] = []  # NAME.yaml files and --output-secret files
        #: toc-policy files: file name -> the outputs of the requests naming it, in order
        self.toc: dict[str, list[str]] = {}
        #: request output -> SHA-256 (hex) of its policy file
        self.policy_hashes: dict[str, str] = {}

    def toc_files(self, built: Sequence[_File]) -> list[_File]:
        """The toc-policy files, given the built requests: per request naming the file,
        its tag (last 16 bytes, hex) and a newline, in request order (``--toc-policy``)."""
        if not self.toc:
            return []
        requests = {item.name: item.data for item in built}
        return [_File(name, b"".join(requests[output][-16:].hex().encode("ascii") + b"\n"
                                     for output in outputs))
                for name, outputs in self.toc.items()]


def _fail(plan: str, line: int, what: str, exc: SecexError) -> PlanError:
    return PlanError(f"{plan}:{line}: {what}: {exc}", *exc.details)


@functools.lru_cache(maxsize=64)
def _boot_tags(path: str) -> Any:
    """The boot tags of the SE image or header at ``path`` (once per path and process)."""
    from ..errors import FormatError
    from ..formats.se_header import read_se_header

    stream, _ = fileio.open_regular(path, "")
    try:
        with stream:
            return read_se_header(stream).boot_tags
    except OSError as exc:
        raise InputError(f"Cannot open `{path}`: {exc.strerror or exc}") from None
    except FormatError as exc:
        raise InputError(f"Provided SE-header in '{path}' is malformed: {exc}",
                         *exc.details) from None


def _prepare(plan: str, guest: GuestPlan, *, render: bool = True) -> _Prepared:
    """Read and check everything of ``guest`` but the host keys (as ``pvsecret create``);
    ``render``: also the NAME.yaml texts (not needed to check a plan)."""
    from ..formats.request import UserDataType
    from .request import NO_USER_DATA, AddSecretRequest, UserData, extension_secret_from_cck

    what = f"guest '{guest.name}'"
    try:
        tags = _boot_tags(guest.hdr)
        cuid = None
        if guest.cuid_hex is not None:
            from .cuid import parse_cuid_hex

            cuid = parse_cuid_hex(guest.cuid_hex)
        elif guest.cuid is not None:
            from .cuid import parse_cuid_file

            cuid = parse_cuid_file(fileio.read_input(guest.cuid, "CUID file",
                                                     fileio.MAX_SMALL_FILE), guest.cuid)
        extension = None
        if guest.extension_secret is not None:
            extension = SecretBytes(fileio.read_exact(guest.extension_secret, 32, "extension secret"))
        elif guest.cck is not None:
            extension = extension_secret_from_cck(SecretBytes(fileio.read_exact(guest.cck, 32, "CCK")), tags)
    except SecexError as exc:
        raise _fail(plan, guest.line, what, exc) from None
    prepared = _Prepared()
    names: dict[str, int] = {}
    files: dict[str, tuple[int, bool]] = {}  # file name -> (plan line, a toc-policy file?)

    def claim(file_name: str, line: int, label: str, toc: bool = False) -> None:
        if file_name in files:
            first, first_toc = files[file_name]
            if toc and first_toc:  # requests share a toc-policy file: their tags are listed
                return
            raise PlanError(f"{plan}:{line}: {what}: {label} `{file_name}` collides with the "
                            f"output of line {first}")
        files[file_name] = (line, toc)

    from ..formats.request import ADD_SECRET_FLAGS

    for request in guest.requests:
        where = f"{what}: {request.kind}"
        try:
            secret = _secret(request)
            flags = 0
            for flag in request.flags:
                flags |= ADD_SECRET_FLAGS[flag]
            if request.policy is not None:
                assert request.policy_as_written is not None
                digest, reference = _policy(request.policy, request.policy_as_written)
                user_data = UserData(UserDataType.UNSIGNED, reference)
                prepared.policy_hashes[request.output] = digest.hex()
            else:
                user_data = (_user_data(request) if request.user_data or request.user_sign_key
                             else NO_USER_DATA)
            built = AddSecretRequest(secret, tags, flags=flags, cuid=cuid,
                                     extension_secret=extension, user_data=user_data)
        except SecexError as exc:
            raise _fail(plan, request.line, where, exc) from None
        claim(request.output, request.line, "the request")
        if secret.is_named:
            assert request.name is not None
            if request.name in names:
                raise PlanError(f"{plan}:{request.line}: {where}: the secret name "
                                f"'{request.name}' is also used on line {names[request.name]}")
            names[request.name] = request.line
            try:
                yaml_name = _yaml_file_name(request.name, request.output)
            except SecexError as exc:
                raise _fail(plan, request.line, where, exc) from None
            claim(yaml_name, request.line, "the secret info file")
            text = _secret_yaml(secret.secret_type, request.name, secret.secret_id) if render else b""
            prepared.extra.append(_File(yaml_name, text))
        if request.output_secret is not None:
            claim(request.output_secret, request.line, "the output secret")
            prepared.extra.append(_File(request.output_secret, secret.payload.reveal(), True))
        if request.toc_policy is not None:
            claim(request.toc_policy, request.line, "the table-of-contents policy", toc=True)
            prepared.toc.setdefault(request.toc_policy, []).append(request.output)
        prepared.requests.append((request.output, built, secret))
    return prepared


def _policy(path: str, as_written: str) -> tuple[bytes, bytes]:
    """(SHA-256, policy-reference user data) as ``--policy`` makes them: the file at
    ``path`` hashed, the path as written embedded (hashed once per file version)."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise InputError(f"Cannot read policy file at `{as_written}`: "
                         f"{exc.strerror or exc}") from None
    return _policy_reference(path, as_written,
                             (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns))


@functools.lru_cache(maxsize=64)
def _policy_reference(path: str, as_written: str, version: tuple[int, ...]) -> tuple[bytes, bytes]:
    from .user_data import policy_reference_from_stream

    # a regular file of at most MAX_POLICY_FILE bytes, hashed in chunks
    stream, _ = fileio.open_regular(path, "policy file", fileio.MAX_POLICY_FILE, capped=True)
    try:
        with stream:
            return policy_reference_from_stream(stream, as_written)
    except OSError as exc:
        raise InputError(f"Cannot read policy file at `{as_written}`: "
                         f"{exc.strerror or exc}") from None


@functools.lru_cache(maxsize=1024)
def _yaml_file_name(name: str, output: str) -> str:
    """The file name of NAME.yaml beside ``output`` (guests repeat the same names)."""
    from .name_yaml import secret_yaml_path

    return secret_yaml_path(name, output).name


@functools.lru_cache(maxsize=1024)
def _secret_yaml(secret_type: int, name: str, secret_id: bytes) -> bytes:
    """NAME.yaml (the same for every guest with this secret name and type)."""
    from .name_yaml import secret_yaml
    from .secrets import GuestSecret

    return secret_yaml(GuestSecret(secret_type, SecretBytes(b""), secret_id, name)).encode("utf-8")


@functools.lru_cache(maxsize=256)
def _retrievable(path: str, kind: str) -> Any:
    """The retrievable secret in ``path`` (parsed once per path and process), unnamed."""
    from .retrievable import RetrievableKind, retrievable_secret

    retr_kind = RetrievableKind(kind)
    data = fileio.read_input(path, f"retrievable {retr_kind.display}", fileio.MAX_DOCUMENT_FILE)
    return retrievable_secret("", retr_kind, data, source=path)


def _secret(request: RequestPlan) -> Any:
    from . import secrets as guest_secret

    if request.kind == "meta":
        return guest_secret.meta_secret()
    if request.kind == "association":
        assert request.name is not None
        given = (fileio.read_exact(request.input_secret, 32, "Association secret")
                 if request.input_secret else None)
        return guest_secret.association_secret(request.name, given, use_name=request.use_name)
    if request.kind == "update-cck":
        assert request.secret is not None
        return guest_secret.update_cck_secret(fileio.read_exact(request.secret, 32, "CCK file"))
    assert request.name is not None and request.secret is not None and request.type is not None
    unnamed = _retrievable(request.secret, request.type)
    return unnamed._replace(
        name=request.name,
        secret_id=guest_secret.secret_id_from_name(request.name, use_name=request.use_name))


def _user_data(request: RequestPlan) -> Any:
    from .user_data import load_signing_key, make_user_data

    data = None
    if request.user_data is not None:
        data = fileio.read_input(request.user_data, "user-data", fileio.MAX_DOCUMENT_FILE)
    key = None
    if request.user_sign_key is not None:
        key = load_signing_key(fileio.read_input(request.user_sign_key, "User-signing key",
                                                 fileio.MAX_KEY_FILE), request.user_sign_key)
    try:
        return make_user_data(data, key)
    except InputError as exc:
        raise InputError(f"{exc} (`{request.user_data}` has {len(data or b'')} bytes)",
                         *exc.details) from None


# ---------------------------------------------------------------------------- writing

def _stage_folder(out_dir: str, name: str, files: Sequence[_File]) -> str:
    """Write ``files`` into the staging folder ``out_dir/.NAME.fleet-part``; its path.

    A leftover of a killed run is removed first.  Nothing is flushed here: a batch of
    staged folders is made durable at once by :func:`_publish_batch`.
    """
    tmp = os.path.join(out_dir, f".{name}{_PART_SUFFIX}")
    try:
        try:
            os.mkdir(tmp, 0o700)
        except FileExistsError:
            shutil.rmtree(tmp)
            os.mkdir(tmp, 0o700)
        umask = os.umask(0)
        os.umask(umask)
        for item in files:
            mode = 0o600 if item.secret else 0o666 & ~umask
            fd = os.open(os.path.join(tmp, item.name),
                         os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, mode)
            try:
                if item.secret:
                    os.fchmod(fd, 0o600)
                view = memoryview(item.data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
        os.chmod(tmp, 0o777 & ~umask)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise InputError(f"Cannot write `{os.path.join(out_dir, name)}`: "
                         f"{exc.strerror or exc}") from None
    except BaseException:  # interrupted while staging: the half-written folder goes too
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


def _remove(path: str) -> None:
    """Remove a leftover folder (or whatever replaced it); errors ignored."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _publish(out_dir: str, name: str, tmp: str, *, overwrite: bool) -> str | None:
    """Rename the staged ``tmp`` to ``out_dir/NAME``.

    With ``overwrite`` an existing ``NAME`` is first moved to ``.NAME.fleet-old``; its path
    is returned, to be removed once the new folder is durable.  Whatever interrupts this
    (an error, a signal) before the new folder is in place puts the old one back.
    """
    final = os.path.join(out_dir, name)
    old = None
    try:
        if os.path.lexists(final):
            if not overwrite:
                raise InputError(f"Output `{final}` already exists")
            old = os.path.join(out_dir, f".{name}{_OLD_SUFFIX}")
            if os.path.lexists(old):
                _remove(old)
            os.rename(final, old)
        os.rename(tmp, final)
    except BaseException as exc:
        if old is not None and os.path.lexists(old) and not os.path.lexists(final):
            with contextlib.suppress(OSError):  # the guest keeps its old folder
                os.rename(old, final)
        if isinstance(exc, OSError):
            raise InputError(f"Cannot write `{final}`: {exc.strerror or exc}") from None
        raise
    return old


def _publish_batch(out_dir: str, staged: list[tuple[GuestResult, str]], flush: Any, *,
                   overwrite: bool) -> None:
    """Make the staged folders durable with one flush, then rename each into place.

    Group commit (ADR 0150): one flush for the whole batch (``flush``: a
    :class:`~secexkit.fileio.FolderFlush` opened before the batch was written, or None
    for no durability), then the renames, then one fsync of ``out_dir``; a guest is
    reported written only after all of it, and replaced folders are removed only then.
    A guest whose rename fails is reported failed; the others of the batch still land.
    """
    if not staged:
        return
    if flush is not None:
        try:
            flush.flush([tmp for _, tmp in staged])
        except OSError as exc:
            for result, _ in staged:
                result.error = f"Cannot write `{result.folder}`: {exc.strerror or exc}"
                result.files = ()
            return
    replaced: list[str] = []
    published: list[GuestResult] = []
    try:
        for result, tmp in staged:
            try:
                old = _publish(out_dir, result.name, tmp, overwrite=overwrite)
            except InputError as exc:
                result.error = str(exc)
                result.files = ()
                continue
            published.append(result)
            if old is not None:
                replaced.append(old)
        if flush is not None and published:
            try:
                fileio._fsync_directory(out_dir, strict=True)
            except OSError as exc:  # in place, but not known to be on disk
                for result in published:
                    result.error = f"Cannot write `{result.folder}`: {exc.strerror or exc}"
                    result.files = ()
                return
        for result in published:
            result.status = "written"
    finally:
        for old in replaced:
            _remove(old)


# ---------------------------------------------------------------------------- workers

KeysFactory = Callable[[], Any]


class _Context:
    """What every worker needs: the verdict on every document, the output and switches."""

    def __init__(self, plan: str, out_dir: str, documents: dict[str, bytes | str], *,
                 overwrite: bool, dry_run: bool, sync: bool,
                 keys: KeysFactory | None = None) -> None:
        self.plan = plan
        self.out_dir = out_dir
        self.documents = documents  # path -> verified DER, or why it was refused
        self.overwrite = overwrite
        self.dry_run = dry_run
        self.sync = sync
        self.keys = keys
        self.parsed: dict[str, Any] = {}

    def host_keys(self, guest: GuestPlan) -> list[Any]:
        from ..hostkeys import HostKeyDocument

        keys = []
        for path in guest.host_key_document:
            verdict = self.documents[path]
            if isinstance(verdict, str):
                raise InputError(verdict)
            key = self.parsed.get(path)
            if key is None:
                key = self.parsed[path] = HostKeyDocument(verdict, path).host_key
            keys.append(key)
        return keys


def _build_guest(context: _Context, guest: GuestPlan) -> tuple[GuestResult, list[_File] | None]:
    """The guest's result so far and its files (None: nothing to write)."""
    folder = os.path.join(context.out_dir, guest.name)
    result = GuestResult(guest.index, guest.name, guest.line, "failed", folder)
    try:
        if os.path.lexists(folder) and not context.overwrite:
            result.status = "exists"
            return result, None
        prepared = _prepare(context.plan, guest)
        host_keys = context.host_keys(guest)
        from .request import check_host_key_count

        check_host_key_count(len(host_keys))
        names = [output for output, _, _ in prepared.requests] + [f.name for f in prepared.extra]
        result.files = tuple(names + list(prepared.toc))
        result.policy_hashes = prepared.policy_hashes
        if context.dry_run:
            result.status = "checked"
            return result, None
        files = [_File(output, request.build(host_keys, context.keys() if context.keys else None))
                 for output, request, _ in prepared.requests]
        files += prepared.extra
        files += prepared.toc_files(files)
    except SecexError as exc:
        result.error = str(exc)
        result.files = ()
        return result, None
    return result, files


class _Unflushable:
    """The flush of a batch whose output folder could not be opened: it fails."""

    def __init__(self, error: OSError) -> None:
        self.error = error

    def flush(self, folders: object) -> None:
        raise self.error

    def close(self) -> None:
        """Nothing to release."""


def _run_batch(context: _Context, guests: Sequence[GuestPlan]) -> list[GuestResult]:
    """Build and stage every guest of ``guests``, then publish them with one flush."""
    results: list[GuestResult] = []
    staged: list[tuple[GuestResult, str]] = []
    flush: fileio.FolderFlush | _Unflushable | None = None
    try:
        if context.sync and not context.dry_run:  # before anything of the batch is written
            try:
                flush = fileio.FolderFlush(context.out_dir)
            except OSError as exc:  # every guest of the batch fails with this
                flush = _Unflushable(exc)
        for guest in guests:
            result, files = _build_guest(context, guest)
            results.append(result)
            if files is None:
                continue
            try:
                staged.append((result, _stage_folder(context.out_dir, guest.name, files)))
            except InputError as exc:
                result.error = str(exc)
                result.files = ()
        _publish_batch(context.out_dir, staged, flush, overwrite=context.overwrite)
    finally:  # interrupted: no staged folder stays behind
        for _, tmp in staged:
            if os.path.lexists(tmp):
                shutil.rmtree(tmp, ignore_errors=True)
        if flush is not None:
            flush.close()
    return results


_T = TypeVar("_T")


def _batches(guests: Iterator[_T], size: int) -> Iterator[list[_T]]:
    batch: list[_T] = []
    for guest in guests:
        batch.append(guest)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


_WORKER: _Context | None = None
_BUSY = False


def _worker_init(context: _Context) -> None:
    global _WORKER  # noqa: PLW0603 - one context per worker process
    _WORKER = context
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; running guests finish

    def terminate(signum: int, frame: object) -> None:
        if not _BUSY:  # waiting for work: nothing to clean up (and no queue to drain)
            os._exit(128 + signum)
        raise fileio.Interrupted(signum)  # the staging folder is removed on the way out

    signal.signal(signal.SIGTERM, terminate)
    if hasattr(signal, "SIGHUP"):  # not the parent's handler, inherited through fork
        signal.signal(signal.SIGHUP, terminate)
    with contextlib.suppress(Exception):  # Linux: end with the parent, even on SIGKILL
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    if os.getppid() == 1:
        os._exit(1)


def _worker_run(records: list[bytes]) -> list[GuestResult]:
    global _BUSY  # noqa: PLW0603 - read by the signal handler
    assert _WORKER is not None
    try:
        _BUSY = True
        return _run_batch(_WORKER, [_Spool.load(record) for record in records])
    except fileio.Interrupted as exc:
        os._exit(128 + exc.signum)
    finally:
        _BUSY = False


# ---------------------------------------------------------------------------- verification

def _verify_documents(paths: Sequence[str], trust: TrustPlan, *, fetcher: Any,
                      now: dt.datetime | None, limits: Any,
                      summary: PlanSummary) -> dict[str, bytes | str]:
    """Verify every distinct document once: path -> DER of the verified document, or the error."""
    from ..hostkeys import HostKeyDocument, parse_host_key_document

    verdicts: dict[str, bytes | str] = {}
    by_content: dict[bytes, list[str]] = {}
    documents: list[HostKeyDocument] = []
    for path in paths:
        try:
            document = parse_host_key_document(
                fileio.read_input(path, "host-key document", fileio.MAX_CERTIFICATE_FILE), path)
        except SecexError as exc:
            verdicts[path] = str(exc)
            continue
        digest = hashlib.sha256(document.der).digest()
        if digest not in by_content:
            by_content[digest] = []
            documents.append(document)
        by_content[digest].append(path)
    if trust.no_verify:
        log.warning("Host-key document verification is disabled. The secrets may not be protected.")
        for document in documents:
            try:
                _ = document.host_key
                outcome: bytes | str = document.der
            except SecexError as exc:
                outcome = str(exc)
            for path in by_content[hashlib.sha256(document.der).digest()]:
                verdicts[path] = outcome
    elif documents:
        from ..trust import check_host_key_documents

        results = check_host_key_documents(documents, list(trust.cert), list(trust.crl),
                                           trust.root_ca, offline=trust.offline, fetcher=fetcher,
                                           now=now, limits=limits)
        for document, result in zip(documents, results, strict=True):
            outcome = document.der if result.error is None else str(result.error)
            for path in by_content[hashlib.sha256(document.der).digest()]:
                verdicts[path] = outcome
    summary.documents = len(verdicts)
    summary.failed_documents = {p: v for p, v in verdicts.items() if isinstance(v, str)}
    return verdicts


def plan_schema() -> dict[str, Any]:
    """The JSON Schema of plan version 1 (``secexkit/data/fleet-plan-v1.schema.json``)."""
    import json
    from importlib.resources import files

    data = files("secexkit").joinpath("data", SCHEMA_RESOURCE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(data)
    return schema


class _Spool:
    """The checked guests of a run, pickled into an unnamed temporary file.

    The first pass writes every guest it checked; the second pass (and the workers) read
    these records instead of parsing the plan again, so the guests written are exactly the
    guests checked even if the plan file changes during the run, and the parent process
    does not parse YAML while the workers need the cores (ADR 0152).  The file lives
    beside the output (disk, not a memory file system) when it can, is readable only by
    this user, and vanishes with the process.
    """

    def __init__(self, near: str) -> None:
        import tempfile

        directory = os.path.abspath(near)
        while not os.path.isdir(directory) and os.path.dirname(directory) != directory:
            directory = os.path.dirname(directory)
        try:
            self.file = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 - closed by close()
        except OSError:
            self.file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()

    def add(self, guest: GuestPlan) -> None:
        """Append one guest."""
        import pickle

        data = pickle.dumps(guest, protocol=pickle.HIGHEST_PROTOCOL)
        self.file.write(len(data).to_bytes(4, "big") + data)

    def records(self) -> Iterator[bytes]:
        """Every guest's record, in the order added."""
        self.file.seek(0)
        while True:
            size = self.file.read(4)
            if not size:
                return
            yield self.file.read(int.from_bytes(size, "big"))

    @staticmethod
    def load(record: bytes) -> GuestPlan:
        """The guest of one record."""
        import pickle

        guest: GuestPlan = pickle.loads(record)  # noqa: S301 - our own records, see above
        return guest

    def close(self) -> None:
        """Remove the file."""
        self.file.close()


# ---------------------------------------------------------------------------- the run

def _own(index: int, shard: tuple[int, int]) -> bool:
    number, count = shard
    return index % count == number - 1


def check_plan(plan: str | os.PathLike[str], *, shard: tuple[int, int] = (1, 1),
               out_dir: str | os.PathLike[str] | None = None) -> tuple[TrustPlan, int, list[str]]:
    """First pass: check every guest of the shard; (trust inputs, guests, distinct documents).

    Raises :class:`PlanError` (naming the plan line) for the first problem found.
    """
    try:
        return _check_plan(os.fspath(plan), shard=shard, out_dir=out_dir)
    finally:
        _forget_inputs()


def _check_plan(path: str, *, shard: tuple[int, int], out_dir: str | os.PathLike[str] | None,
                spool: _Spool | None = None) -> tuple[TrustPlan, int, list[str]]:
    reader = _PlanReader(path)
    names: set[bytes] = set()  # 16-byte digests: a few MB for a million guests
    documents: dict[str, None] = {}
    count = 0
    for guest in reader.guests():
        digest = hashlib.blake2b(guest.name.encode("utf-8", "surrogateescape"),
                                 digest_size=16).digest()
        if digest in names:
            raise PlanError(f"{path}:{guest.line}: guest '{guest.name}': the name is used by "
                            "another guest (one output folder per guest)")
        names.add(digest)
        if not _own(guest.index, shard):
            continue
        count += 1
        _prepare(path, guest, render=False)
        documents.update(dict.fromkeys(guest.host_key_document))
        if spool is not None:
            spool.add(guest)
    if out_dir is not None:
        target = os.fspath(out_dir)
        if os.path.exists(target) and not os.path.isdir(target):
            raise InputError(f"Cannot write into `{target}`: not a directory")
    return reader.trust, count, list(documents)


def run_plan(plan: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, jobs: int = 1,
             overwrite: bool = False, dry_run: bool = False, shard: tuple[int, int] = (1, 1),
             sync: bool = True, fetcher: Any = None, now: dt.datetime | None = None,
             limits: Any = None, keys: KeysFactory | None = None,
             summary: PlanSummary | None = None,
             on_checked: Callable[[PlanSummary], None] | None = None) -> Iterator[GuestResult]:
    """Create the requests of every guest of ``plan`` in ``out_dir/<guest name>/``.

    Checks the whole plan first (:class:`PlanError`, nothing written), verifies each
    distinct host-key document once (a failure of the trust set-up raises; a refused
    document fails only the guests that use it), then yields one :class:`GuestResult`
    per guest of the shard, in completion order.  ``jobs``: worker processes (1: in this
    process); ``shard``: ``(I, N)`` takes the guests whose 0-based plan index ``i``
    has ``i % N == I - 1``; ``dry_run``: check and verify, write nothing; ``sync``: make the
    output durable before a guest folder appears (one flush per batch, ADR 0150);
    ``fetcher``, ``now``, ``limits``: as for
    :func:`secexkit.trust.check_host_key_documents`; ``keys``: a factory of
    :class:`~secexkit.addsecret.request.RequestKeys` (tests; only with ``jobs=1``);
    ``summary``: filled with counts; ``on_checked``: called once the plan is checked
    and the documents verified (before the first guest).

    With ``jobs > 1`` iterate from one thread: the worker processes end with the thread
    that started them (Linux parent-death signal).  A worker that dies raises
    :class:`WorkerError`.
    """
    number, count = shard
    if not 1 <= number <= count:
        raise InputError(f"invalid shard {number}/{count}: I must be between 1 and N")
    if jobs < 1:
        raise InputError("jobs must be at least 1")
    if keys is not None and jobs != 1:
        raise InputError("injected request keys need jobs=1")
    path = os.fspath(plan)
    target = os.fspath(out_dir)
    summary = summary if summary is not None else PlanSummary()
    _forget_inputs()  # files may have changed since an earlier run in this process
    try:
        yield from _run(path, target, summary, jobs=jobs, overwrite=overwrite, dry_run=dry_run,
                        shard=shard, sync=sync, fetcher=fetcher, now=now, limits=limits,
                        keys=keys, on_checked=on_checked)
    finally:  # no secret read from a plan stays cached in this process after the run
        _forget_inputs()


def _forget_inputs() -> None:
    """Empty the per-process caches of input files (SE headers, retrievable secrets, ...)."""
    for cached in (_boot_tags, _policy_reference, _retrievable):
        cached.cache_clear()


def _run(path: str, target: str, summary: PlanSummary, *, jobs: int, overwrite: bool,
         dry_run: bool, shard: tuple[int, int], sync: bool, fetcher: Any,
         now: dt.datetime | None, limits: Any, keys: KeysFactory | None,
         on_checked: Callable[[PlanSummary], None] | None) -> Iterator[GuestResult]:
    spool = _Spool(target)
    try:
        trust, guests, documents = _check_plan(path, shard=shard, out_dir=target, spool=spool)
        summary.guests = guests
        verdicts = _verify_documents(documents, trust, fetcher=fetcher, now=now, limits=limits,
                                     summary=summary)
        if on_checked is not None:
            on_checked(summary)
        if not dry_run:
            try:
                os.makedirs(target, exist_ok=True)
            except OSError as exc:
                raise InputError(f"Cannot create the output folder `{target}`: "
                                 f"{exc.strerror or exc}") from None
        context = _Context(path, target, verdicts, overwrite=overwrite, dry_run=dry_run,
                           sync=sync, keys=keys)
        # a batch shares one flush; small enough that every worker gets several
        size = max(1, min(_BATCH, guests // (4 * jobs)))
        batches = _batches(spool.records(), size)
        if jobs == 1 or guests <= 1:
            results: Iterator[GuestResult] = (
                r for b in batches for r in _run_batch(context, [_Spool.load(x) for x in b]))
        else:
            results = _parallel(context, batches, jobs)
        for result in results:
            summary.add(result)
            yield result
    finally:
        spool.close()


def _parallel(context: _Context, batches: Iterator[list[bytes]], jobs: int
              ) -> Iterator[GuestResult]:
    """Results of ``batches`` from ``jobs`` worker processes; at most 4 batches per worker queued."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context(method),
                               initializer=_worker_init, initargs=(context,))
    pending: set[Future[list[GuestResult]]] = set()
    try:
        exhausted = False
        while True:
            while not exhausted and len(pending) < 4 * jobs:
                batch = next(batches, None)
                if batch is None:
                    exhausted = True
                    break
                pending.add(pool.submit(_worker_run, batch))
            if not pending:
                break
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    results = future.result()
                except BrokenProcessPool:
                    raise WorkerError("A worker process ended unexpectedly (killed?): the guests "
                                      "reported written are complete; run the plan again for "
                                      "the others (complete folders are kept)") from None
                yield from results
    finally:  # interrupted: queued guests are dropped, running ones finish (complete folders)
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
