"""Random command lines for every tool: never an internal error, a traceback or a stray file."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from secexkit.cli import pvimg, pvsecret, pvverify

TOOLS: dict[str, Callable[[Sequence[str] | None], int]] = {
    "pvsecret": pvsecret.main, "pvimg": pvimg.main, "pvverify": pvverify.main,
}
WORDS = [
    "create", "meta", "association", "retrievable", "retr", "update-cck", "cck", "verify", "add",
    "list", "lock", "retrieve", "info", "test", "version", "name", "-k", "--hdr", "-o", "--no-verify",
    "-C", "--crt", "--crl", "--offline", "--root-ca", "--flags", "disable-dump", "--cuid",
    "--cuid-hex", "--cck", "--extension-secret", "--user-data", "--user-sign-key", "--policy",
    "--secret", "--type", "plain", "aes", "ec", "--stdout", "--use-name", "--input-secret",
    "--output-secret", "--user-cert", "-i", "-r", "-p", "--format", "json", "text", "--hdr-key",
    "--enable-dump", "--overwrite", "--x-psw", "-1", "0x", "-v", "-q", "-V", "--", "-", "=",
]
FILES = ["host", "hdr", "garbage", "empty", "dir", "missing", "request", "out"]
#: valid command lines to start from; the fuzzer mutates them
TEMPLATES = [
    ("pvsecret", "create meta -k host --hdr hdr -o out --no-verify --flags disable-dump"),
    ("pvsecret", "create association name -k host --hdr hdr -o out --no-verify --stdout"),
    ("pvsecret", "create -k host --hdr hdr -o out --no-verify cck --secret hdr"),
    ("pvsecret", "create retrievable name --secret empty --type plain -k host --hdr hdr -o out "
                 "--no-verify"),
    ("pvsecret", "verify request out"),
    ("pvimg", "info hdr --format json"),
    ("pvimg", "test hdr -k host"),
    ("pvverify", "-k host --no-verify"),
]


@st.composite
def command_lines(draw: st.DrawFn) -> tuple[str, list[str]]:
    tool, line = draw(st.sampled_from(TEMPLATES))
    tokens = line.split()
    token = st.one_of(st.sampled_from(WORDS), st.sampled_from(FILES))
    for _ in range(draw(st.integers(0, 4))):
        action = draw(st.sampled_from(("replace", "insert", "delete")))
        position = draw(st.integers(0, max(0, len(tokens) - 1)))
        if action == "insert" or not tokens:
            tokens.insert(position, draw(token))
        elif action == "replace":
            tokens[position] = draw(token)
        else:
            del tokens[position]
    return tool, tokens


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, vectors: Path) -> dict[str, str]:
    base = tmp_path_factory.mktemp("fuzz-inputs")
    (base / "host.crt").write_bytes((vectors / "cert" / "host.crt").read_bytes())
    (base / "se.hdr").write_bytes((vectors / "exp" / "secure_guest.hdr").read_bytes())
    (base / "garbage").write_bytes(os.urandom(300))
    (base / "empty").write_bytes(b"")
    (base / "dir").mkdir()
    (base / "req").write_bytes(
        (vectors / "exp" / "asrcb" / "null_none_default_cuid_one").read_bytes())
    return {"host": str(base / "host.crt"), "hdr": str(base / "se.hdr"),
            "garbage": str(base / "garbage"), "empty": str(base / "empty"),
            "dir": str(base / "dir"), "missing": str(base / "missing"),
            "request": str(base / "req"), "out": "OUT"}


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "300")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=command_lines())
def test_random_command_lines(command: tuple[str, list[str]], files: dict[str, str],
                              tmp_path_factory: pytest.TempPathFactory,
                              capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    tool, tokens = command
    work = tmp_path_factory.mktemp("fuzz-out")
    cwd = os.getcwd()
    os.chdir(work)  # relative outputs (e.g. "-o create") land in the scratch directory
    try:
        _check_command_line(tool, tokens, files, work, capsysbinary)
    finally:
        os.chdir(cwd)


def _check_command_line(tool: str, tokens: list[str], files: dict[str, str], work: Path,
                        capsys: pytest.CaptureFixture[bytes]) -> None:
    argv = [str(work / "out") if t == "out" else files.get(t, t) for t in tokens]
    code = TOOLS[tool](argv)
    event(f"exit {code}")
    _, raw_err = capsys.readouterr()  # stdout may be binary (e.g. a request written to "-")
    err = raw_err.decode("utf-8", "replace")
    assert code in (0, 1, 2), (argv, code, err)
    assert "Traceback" not in err and "internal error" not in err, (argv, err)
    verdict = tool == "pvverify" or (tool == "pvimg" and "test" in argv)  # exit 1 = "no"
    if code != 0 and not verdict:
        assert err.count("error:") >= 1, (argv, err)
        leftovers = [p.name for p in work.iterdir()]
        assert not leftovers, (argv, leftovers)
    # temporary files of atomic writes never survive, whatever the outcome
    assert not [p for p in work.iterdir() if p.name.endswith(".part")], argv
