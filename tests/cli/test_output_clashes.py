"""No output may be another output or an input, in any command (refused before any write)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from secexkit.cli import pvimg, pvsecret
from tests.support.images import make_kernel, make_loaders
from tests.support.keys import write_host_key_document


@pytest.fixture
def work(tmp_path: Path, vectors: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.chdir(tmp_path)
    hkd, _ = write_host_key_document(tmp_path, "host")
    hdr = tmp_path / "se.hdr"
    hdr.write_bytes((vectors / "exp" / "secure_guest.hdr").read_bytes())
    request = tmp_path / "req.bin"
    request.write_bytes((vectors / "exp" / "asrcb" / "null_none_default_cuid_one").read_bytes())
    key = tmp_path / "key32"
    key.write_bytes(os.urandom(32))
    return {"dir": tmp_path, "hkd": hkd, "hdr": hdr, "request": request, "key": key}


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


def _refused(capsys: pytest.CaptureFixture[str], code: int, before: dict[str, bytes],
             directory: Path, *names: str) -> None:
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert code == 1, err
    assert len(errors) == 1 and "are the same file" in errors[0], err
    for name in names:
        assert name in errors[0], (name, err)
    assert _snapshot(directory) == before  # nothing written, nothing replaced


def _create(work: dict[str, Path], *extra: str) -> list[str]:
    return ["create", "-k", str(work["hkd"]), "--hdr", str(work["hdr"]), "--no-verify", *extra]


def test_request_and_plaintext_secret_clash(work: dict[str, Path],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    before = _snapshot(work["dir"])
    code = pvsecret.main(_create(work, "-o", "X", "association", "name", "--stdout",
                                 "--output-secret", "X"))
    _refused(capsys, code, before, work["dir"], "--output", "--output-secret")
    assert not (work["dir"] / "X").exists()


@pytest.mark.parametrize("kind", ["path", "hard link", "symlink"])
def test_outputs_that_are_inputs(work: dict[str, Path], capsys: pytest.CaptureFixture[str],
                                 kind: str) -> None:
    directory = work["dir"]

    def alias(target: Path, name: str) -> str:
        if kind == "path":
            return str(directory / "." / target.name)
        if kind == "hard link":
            os.link(target, directory / name)
        else:
            (directory / name).symlink_to(target)
        return str(directory / name)

    cases = [
        (["-o", alias(work["hdr"], "a1"), "meta"], ("--output", "--hdr")),
        (["-o", "req", "association", "n", "--stdout", "--output-secret",
          alias(work["hkd"], "a2")], ("--output-secret", "--host-key-document")),
        (["-o", "req", "--toc-policy", alias(work["hdr"], "a3"), "meta"],
         ("--toc-policy", "--hdr")),
        (["-o", "req", "--cck", str(work["key"]), "--toc-policy", alias(work["key"], "a4"),
          "meta"], ("--toc-policy", "--cck")),
    ]
    for extra, names in cases:
        before = _snapshot(directory)
        code = pvsecret.main(_create(work, *extra))
        _refused(capsys, code, before, directory, *names)


def test_yaml_file_is_checked_too(work: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    (work["dir"] / "name.yaml").symlink_to(work["hdr"])
    before = _snapshot(work["dir"])
    code = pvsecret.main(_create(work, "-o", "req", "association", "name"))
    _refused(capsys, code, before, work["dir"], "secret info file", "--hdr")


def test_verify_and_retrieve(work: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    before = _snapshot(work["dir"])
    code = pvsecret.main(["verify", str(work["request"]), str(work["dir"] / "." / "req.bin")])
    _refused(capsys, code, before, work["dir"], "OUTPUT", "INPUT")
    yaml = work["dir"] / "s.yaml"
    yaml.write_text("name: s\nid: 0x" + "00" * 32 + "\n")
    before = _snapshot(work["dir"])
    code = pvsecret.main(["retrieve", str(yaml), "-o", str(yaml)])
    _refused(capsys, code, before, work["dir"], "OUTPUT", "INPUT")


def test_pvimg_output_is_no_input(work: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    directory = work["dir"]
    kernel = make_kernel(directory / "kernel")
    boot = make_loaders(directory / "boot")
    base = ["create", "-i", str(kernel), "-k", str(work["hkd"]), "--no-verify",
            "--x-bootloader-directory", str(boot), "--overwrite"]
    for extra, names in (([], ("--output", "--kernel")),
                         (["--hdr-key", str(work["key"])], ("--output", "--hdr-key")),
                         (["-r", str(work["hdr"])], ("--output", "--ramdisk"))):
        target = {"--kernel": kernel, "--hdr-key": work["key"], "--ramdisk": work["hdr"]}[names[1]]
        link = directory / "link"
        link.unlink(missing_ok=True)
        os.link(target, link)
        before = _snapshot(directory)
        code = pvimg.main([*base, *extra, "-o", str(link)])
        _refused(capsys, code, before, directory, *names)
