"""The shape of the code, checked by parsing it (no imports run):

* the layers of ``pyproject.toml`` (``[tool.importlinter]``, also run by ``lint-imports`` in CI)
  hold for every import, lazy ones included: ``formats`` imports nothing of ours but
  ``errors``, and no package imports a higher layer;
* no test module imports another test module (shared code lives in ``tests/support`` and
  in ``conftest.py`` fixtures);
* no test module does expensive work at import time (keys, PKIs, files): that belongs in
  fixtures, so collecting a single test stays cheap.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "secexkit"
TESTS = ROOT / "tests"


def _module_name(path: Path, base: Path, package: str) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def imported_modules(source: str, module: str, is_package: bool = False) -> Iterator[tuple[int, str]]:
    """Every module ``source`` (the text of ``module``) imports, anywhere in the file, as
    (line, absolute dotted name); ``from X import name`` also yields ``X.name``."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield node.lineno, target
            for alias in node.names:
                yield node.lineno, f"{target}.{alias.name}"


def _layers() -> list[list[str]]:
    """The layers contract of pyproject.toml, lowest layer first, as lists of packages."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["type"] == "layers"]
    return [[name.strip() for name in layer.split("|")] for layer in reversed(contract["layers"])]


def layer_violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """Imports of ``module`` (in package ``secexkit``) that reach a higher layer, or a sibling
    of its own layer (``addsecret | image`` are independent)."""
    layers = _layers()
    rank = {name: index for index, layer in enumerate(layers) for name in layer}
    own = module.split(".")[1] if module.count(".") else ""
    if own not in rank:
        return []
    problems = []
    for line, target in imported_modules(source, module, is_package):
        parts = target.split(".")
        if parts[0] != "secexkit" or len(parts) < 2 or parts[1] not in rank or parts[1] == own:
            continue
        if rank[parts[1]] >= rank[own]:
            problems.append(f"{module}:{line} imports {target}")
    return problems


def _source_modules() -> list[tuple[Path, str]]:
    return [(path, _module_name(path, SRC, "secexkit")) for path in sorted(SRC.rglob("*.py"))]


def test_layers_are_read_from_pyproject() -> None:
    layers = _layers()
    flat = [name for layer in layers for name in layer]
    assert flat[0] == "errors" and flat[-1] == "cli"
    assert flat.index("formats") < flat.index("crypto") < flat.index("trust") < flat.index("uv")
    assert any({"addsecret", "image"} <= set(layer) for layer in layers)  # independent siblings


def test_no_module_imports_a_higher_layer() -> None:
    problems = [problem for path, module in _source_modules()
                for problem in layer_violations(path.read_text(), module, path.name == "__init__.py")]
    assert problems == []


def test_formats_imports_nothing_of_ours_but_errors() -> None:
    problems = []
    for path, module in _source_modules():
        if not module.startswith("secexkit.formats"):
            continue
        for line, target in imported_modules(path.read_text(), module, path.name == "__init__.py"):
            if target.startswith("secexkit.") and not target.startswith(
                    ("secexkit.formats", "secexkit.errors")):
                problems.append(f"{module}:{line} imports {target}")
    assert problems == []


@pytest.mark.parametrize(("source", "module"), [
    ("from secexkit.trust import TrustError\n", "secexkit.formats.request"),
    ("def f():\n    from ..cli import pvsecret\n", "secexkit.formats.image"),
    ("import secexkit.uv.device\n", "secexkit.trust.verifier"),
    ("from secexkit import image\n", "secexkit.addsecret.request"),  # siblings are independent
], ids=["formats-to-trust", "lazy-relative-formats-to-cli", "trust-to-uv", "addsecret-to-image"])
def test_the_layer_check_can_fail(source: str, module: str) -> None:
    assert layer_violations(source, module)


def test_the_layer_check_allows_lower_layers() -> None:
    source = "from secexkit.errors import InputError\nfrom ..crypto import der\nfrom . import _x509\n"
    assert layer_violations(source, "secexkit.trust.verifier") == []


# --- tests ---------------------------------------------------------------------------------------

def _test_files() -> list[Path]:
    return sorted(TESTS.rglob("*.py"))


def imports_of_test_modules(source: str, module: str, is_package: bool = False) -> list[str]:
    """Imports in ``source`` (the text of ``module`` under tests/) of a test module
    (``test_*``) or of a ``conftest``."""
    problems = []
    for line, target in imported_modules(source, module, is_package):
        parts = target.split(".")
        if parts[0] == "tests" and any(p.startswith("test_") or p == "conftest" for p in parts[1:]):
            problems.append(f"{module}:{line} imports {target}")
    return problems



def test_no_test_module_imports_another() -> None:
    problems = [problem for path in _test_files()
                for problem in imports_of_test_modules(path.read_text(), _module_name(path, TESTS, "tests"),
                                                   path.name == "__init__.py")]
    assert problems == []


@pytest.mark.parametrize("source", [
    "from tests.cli.test_pvsecret_verify import cli\n",
    "from .test_crls import setup\n",
    "from tests.trust import test_crls\n",
    "import tests.conftest\n",
], ids=["absolute", "relative", "module-from-package", "conftest"])
def test_the_test_import_check_can_fail(source: str) -> None:
    assert imports_of_test_modules(source, "tests.trust.test_x")


def test_the_test_import_check_allows_support() -> None:
    source = "from tests.support import pki\nfrom tests.support.pki import NOW\n"
    assert imports_of_test_modules(source, "tests.trust.test_x") == []


# Calls that do real work (keys, certificates, PKIs, files, processes): never at import time.
EXPENSIVE = {"generate_private_key", "derive_private_key", "generate", "ec_key", "build_pki",
             "root_ca", "issue", "make_cert", "make_crl", "write_host_key_document", "self_signed",
             "read_bytes", "read_text", "open", "run", "check_output", "urandom", "verifier",
             "make_kernel", "make_loaders", "mktemp"}


def _eager_calls(node: ast.AST) -> Iterator[ast.Call]:
    """Calls evaluated when ``node`` is evaluated (lambda bodies run later)."""
    if isinstance(node, ast.Lambda):
        return
    if isinstance(node, ast.Call):
        yield node
    for child in ast.iter_child_nodes(node):
        yield from _eager_calls(child)


def import_time_work(source: str) -> list[tuple[int, str]]:
    """Expensive calls that run when ``source`` is imported: module-level statements,
    decorators (parametrize lists), default values and class bodies."""
    found = []
    for stmt in ast.parse(source).body:
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            continue
        nodes: list[ast.AST]
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            nodes = [*stmt.decorator_list, *stmt.args.defaults,
                     *(d for d in stmt.args.kw_defaults if d is not None)]
        elif isinstance(stmt, ast.ClassDef):
            nodes = [*stmt.decorator_list, *(s for s in stmt.body
                                            if not isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef))]
        else:
            nodes = [stmt]
        for node in nodes:
            for call in _eager_calls(node):
                func = call.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in EXPENSIVE:
                    found.append((call.lineno, ast.unparse(call)))
    return found


def test_no_work_at_import_time() -> None:
    problems = [f"{path.relative_to(ROOT)}:{line}: {call}"
                for path in _test_files() for line, call in import_time_work(path.read_text())]
    assert problems == []


@pytest.mark.parametrize("source", [
    "KEY = ec.generate_private_key(ec.SECP521R1())\n",
    "@pytest.mark.parametrize('spec', [CertSpec(sign_with=ec_key())])\ndef test_x(spec): ...\n",
    "PKI = pki.build_pki()\n",
    "DATA = Path('x').read_bytes()\n",
    "def test_y(key=ec.generate_private_key(ec.SECP256R1())): ...\n",
], ids=["module-level-key", "parametrize-list", "module-level-pki", "module-level-read", "default-value"])
def test_the_import_time_check_can_fail(source: str) -> None:
    assert import_time_work(source)


def test_the_import_time_check_allows_lazy_work() -> None:
    assert import_time_work("CASES = [lambda: ec.generate_private_key(ec.SECP256R1())]\n") == []
    assert import_time_work("def test_z():\n    key = ec.generate_private_key(ec.SECP256R1())\n") == []
