"""Every input option of pvsecret, pvimg and pvverify against growing and endless inputs.

Inputs: sparse files larger than any limit (their size drawn by hypothesis),
``/dev/zero``, ``/dev/urandom``, a FIFO whose writer never stops and a FIFO no
writer ever opens.  Each must end in a clean one-line refusal, within seconds,
with bounded memory (the cases run in a child process limited to 1 GiB of
address space) and without leaving a temporary file or an output behind.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import secexkit
from tests.support.images import make_kernel, make_loaders
from tests.support.keys import write_host_key_document

ROOT = Path(__file__).resolve().parents[2]
SOURCE = Path(secexkit.__file__).resolve().parents[1]
CHILD = Path(__file__).with_name("endless_inputs_child.py")
MEMORY_LIMIT = 1 << 30
KINDS = ("sparse", "zero", "urandom", "fifo-endless", "fifo-silent")

_CREATE = ["create", "-k", "@hkd", "--hdr", "@hdr", "-o", "@out", "--no-verify"]
_IMAGE = ["create", "-i", "@kernel", "-o", "@out", "-k", "@hkd", "--no-verify",
          "--x-bootloader-directory", "@boot"]


def _case(name: str, tool: str, argv: list[str], **flags: bool) -> dict[str, object]:
    return {"name": name, "tool": tool, "argv": argv, **flags}


CASES = [
    _case("pvsecret create -k", "pvsecret",
          ["create", "-k", "@input", "--hdr", "@hdr", "-o", "@out", "--no-verify", "meta"]),
    _case("pvsecret create --hdr", "pvsecret",
          ["create", "-k", "@hkd", "--hdr", "@input", "-o", "@out", "--no-verify", "meta"]),
    *[_case(f"pvsecret create {option}", "pvsecret", [*_CREATE, option, "@input", "meta"])
      for option in ("--cuid", "--extension-secret", "--cck", "--user-data", "--user-sign-key",
                     "--policy")],
    _case("pvsecret create association --input-secret", "pvsecret",
          [*_CREATE, "association", "n", "--stdout", "--input-secret", "@input"]),
    _case("pvsecret create retrievable --secret", "pvsecret",
          [*_CREATE, "retrievable", "n", "--type", "plain", "--stdout", "--secret", "@input"]),
    _case("pvsecret create update-cck --secret", "pvsecret",
          [*_CREATE, "update-cck", "--secret", "@input"]),
    _case("pvsecret verify INPUT", "pvsecret", ["verify", "@input", "@out"]),
    _case("pvsecret verify --user-cert", "pvsecret", ["verify", "@request", "--user-cert", "@input"]),
    _case("pvsecret add INPUT", "pvsecret", ["add", "@input"], uv=True),
    _case("pvsecret retrieve INPUT", "pvsecret", ["retrieve", "@input", "-o", "@out"], uv=True),
    _case("pvimg create -i", "pvimg",
          ["create", "-i", "@input", "-o", "@out", "-k", "@hkd", "--no-verify",
           "--x-bootloader-directory", "@boot"]),
    _case("pvimg create -i --no-component-check", "pvimg",
          ["create", "-i", "@input", "-o", "@out", "-k", "@hkd", "--no-verify",
           "--x-bootloader-directory", "@boot", "--no-component-check"]),
    *[_case(f"pvimg create {option}", "pvimg", [*_IMAGE, option, "@input"])
      for option in ("-r", "-p", "--cck", "--hdr-key", "--image-key")],
    _case("pvimg create -p --no-component-check", "pvimg",
          [*_IMAGE, "--no-component-check", "-p", "@input"]),
    _case("pvimg create -k", "pvimg",
          ["create", "-i", "@kernel", "-o", "@out", "-k", "@input", "--no-verify",
           "--x-bootloader-directory", "@boot"]),
    _case("pvimg create --x-bootloader-directory", "pvimg",
          ["create", "-i", "@kernel", "-o", "@out", "-k", "@hkd", "--no-verify",
           "--x-bootloader-directory", "@input"], directory=True),
    _case("pvimg info INPUT", "pvimg", ["info", "@input"]),
    _case("pvimg info --hdr-key", "pvimg", ["info", "@hdr", "--hdr-key", "@input"]),
    _case("pvimg test INPUT", "pvimg", ["test", "@input", "-k", "@hkd"]),
    _case("pvimg test -k", "pvimg", ["test", "@hdr", "-k", "@input"]),
    _case("pvimg test --key-hashes", "pvimg", ["test", "@hdr", "--key-hashes=@input"]),
    _case("pvverify -k", "pvverify", ["-k", "@input", "--no-verify"], verdict=True),
]
#: read by trust/ (the trust branch routes them through fileio.read_input)
TRUST_CASES = [
    _case(f"{tool} {option}", tool, [*argv, "--offline", *extra, *tail])
    for tool, argv, tail in (
        ("pvsecret", ["create", "-k", "@hkd", "--hdr", "@hdr", "-o", "@out"], ["meta"]),
        ("pvimg", _IMAGE[:7] + _IMAGE[8:], []),
        ("pvverify", ["-k", "@hkd"], []))
    for option, extra in (("-C", ["-C", "@input"]), ("--crl", ["-C", "@cert", "--crl", "@input"]),
                          ("--root-ca", ["-C", "@cert", "--root-ca", "@input"]))
]


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory, vectors: Path) -> dict[str, str]:
    base = tmp_path_factory.mktemp("endless")
    hkd, _ = write_host_key_document(base, "host")
    hdr = base / "se.hdr"
    hdr.write_bytes((vectors / "exp" / "secure_guest.hdr").read_bytes())
    request = base / "req"
    request.write_bytes((vectors / "exp" / "asrcb" / "null_none_default_cuid_one").read_bytes())
    uvdev = base / "uv"
    uvdev.write_bytes(b"")
    cases = base / "cases.json"
    cases.write_text(json.dumps(CASES + TRUST_CASES))
    return {"hkd": str(hkd), "cert": str(hkd), "hdr": str(hdr), "request": str(request),
            "kernel": str(make_kernel(base / "kernel")), "boot": str(make_loaders(base / "boot")),
            "uvdev": str(uvdev), "cases": str(cases), "scratch": str(base)}


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _run_child(fixtures: dict[str, str], tmp_path: Path, sparse_size: int,
               specs: list[str]) -> list[str]:
    scratch = tmp_path / f"run-{os.urandom(4).hex()}"
    scratch.mkdir()
    config = scratch / "fixtures.json"
    config.write_text(json.dumps({**fixtures, "scratch": str(scratch)}))
    env = {**os.environ, "PYTHONPATH": str(SOURCE) + os.pathsep + str(ROOT)}
    done = subprocess.run([sys.executable, str(CHILD), str(config), str(sparse_size), *specs],
                          env=env, capture_output=True, text=True, timeout=300,
                          preexec_fn=_limit_memory, cwd=scratch, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    failures: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return failures


#: larger than every limit (the largest, the ramdisk's, is 8 GiB); sparse files cost nothing
SPARSE = st.integers(min_value=16 << 30, max_value=1 << 40)


@pytest.mark.parametrize("tool", ["pvsecret", "pvimg", "pvverify"])
@settings(max_examples=int(os.environ.get("ENDLESS_EXAMPLES", "1")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # a new scratch per run
@given(sparse_size=SPARSE)
def test_every_input_option_refuses_endless_inputs(fixtures: dict[str, str], tmp_path: Path,
                                                   tool: str, sparse_size: int) -> None:
    specs = [f"{index}:{kind}" for index, case in enumerate(CASES) if case["tool"] == tool
             for kind in KINDS]
    assert _run_child(fixtures, tmp_path, sparse_size, specs) == []


#: read by trust/ without a bound on this branch (the trust branch routes them through
#: fileio.read_input): /dev/zero and endless FIFOs run into the memory limit, which takes
#: seconds, so they are not run here.  Remove both marks once the branches are merged.
_PENDING = pytest.mark.xfail(reason="-C/--crl/--root-ca are bounded on the trust branch",
                             strict=False)


@pytest.mark.parametrize("kind", [
    pytest.param("sparse", marks=_PENDING),
    pytest.param("zero", marks=pytest.mark.xfail(reason="trust branch", run=False)),
    pytest.param("fifo-endless", marks=pytest.mark.xfail(reason="trust branch", run=False)),
    pytest.param("fifo-silent", marks=pytest.mark.xfail(reason="trust branch", run=False)),
])
def test_trust_inputs_refuse_endless_inputs(fixtures: dict[str, str], tmp_path: Path,
                                            kind: str) -> None:
    specs = [f"{len(CASES) + index}:{kind}" for index in range(len(TRUST_CASES))]
    assert _run_child(fixtures, tmp_path, 16 << 30, specs) == []
