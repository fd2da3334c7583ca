"""pvimg and genprotimg against odd inputs: runtime failures in one line (exit 1), usage
errors before any work (exit 2), the reference's option names, damaged images for info and
test, hex option values, pipes and special files, a full disk, and the request bound to
an image.
"""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secexkit.cli.pvimg import _parse_u64, genprotimg_main, main
from secexkit.errors import UsageError
from tests.support.images import make_kernel, make_loaders
from tests.support.keys import write_host_key_document

PAGE = 4096


@pytest.fixture
def env(tmp_path: Path) -> dict[str, Path]:
    hkd, _ = write_host_key_document(tmp_path, "host")
    kernel = make_kernel(tmp_path / "kernel", cmdline_max=32)
    files = {"parm": b"console=ttysclp0", "ramdisk": os.urandom(3000), "key32": os.urandom(32),
             "key31": os.urandom(31), "key64": os.urandom(64), "empty": b"",
             "bigparm": b"x" * (1 << 20), "garbage": os.urandom(5000)}
    env = {"hkd": hkd, "kernel": kernel, "boot": make_loaders(tmp_path / "boot"),
           "out": tmp_path / "image.se", "dir": tmp_path}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        env[name] = tmp_path / name
    return env


def _args(env: dict[str, Path], *extra: str, kernel: str = "kernel", output: str | None = None,
          hkd: str | None = None) -> list[str]:
    return ["-i", str(env.get(kernel, env["dir"] / kernel)),
            "-o", output if output is not None else str(env["out"]),
            "-k", hkd if hkd is not None else str(env["hkd"]), "--no-verify",
            "--x-bootloader-directory", str(env["boot"]), *extra]


def _resolve(env: dict[str, Path], items: tuple[str, ...]) -> list[str]:
    """``@name`` stands for the fixture file ``name``."""
    return [str(env[i[1:]]) if i.startswith("@") else i for i in items]


def _left_behind(env: dict[str, Path]) -> list[str]:
    return sorted(p.name for p in env["dir"].iterdir() if p.name.startswith("image.se"))


RUNTIME_FAILURES: list[tuple[str, dict[str, str], tuple[str, ...], str]] = [
    ("missing kernel", {"kernel": "nope"}, (), "Cannot open Linux kernel"),
    ("kernel is a directory", {"kernel": "boot"}, (), "Is a directory"),
    ("empty kernel", {"kernel": "empty"}, (), "Check for Linux kernel component has failed"),
    ("garbage kernel", {"kernel": "garbage"}, (), "S390EP"),
    ("missing ramdisk", {}, ("-r", "nope"), "Cannot open ramdisk `nope`"),
    ("ramdisk is a directory", {}, ("-r", "@boot"), "Is a directory"),
    ("missing parmfile", {}, ("-p", "nope"), "Cannot open kernel command line `nope`"),
    ("parmfile is a directory", {}, ("-p", "@boot"), "Is a directory"),
    ("huge parmfile", {}, ("-p", "@bigparm"), "1048577 > 32"),
    ("output directory missing", {"output": "no/such/dir/out"}, (), "`no/such/dir` does not exist"),
    ("output is a directory", {"output": "@boot"}, (), "it is a directory"),
    ("output ends with a slash", {"output": "new/"}, (), "cannot end with '/'"),
    ("hdr-key of 31 bytes", {}, ("--hdr-key", "@key31"), "31 bytes, 32 are needed"),
    ("hdr-key of 64 bytes", {}, ("--hdr-key", "@key64"), "64 bytes, 32 are needed"),
    ("hdr-key is a directory", {}, ("--hdr-key", "@boot"), "Is a directory"),
    ("cck of 64 bytes", {}, ("--cck", "@key64"), "communication key"),
    ("image-key of 32 bytes", {}, ("--image-key", "@key32"), "image components key"),
    ("missing host-key document", {"hkd": "nope"}, (), "host-key document at `nope`"),
    ("host-key document is garbage", {"hkd": "@garbage"}, (), "garbage"),
    ("missing boot loaders", {}, ("--x-bootloader-directory", "@empty"), "stage3a.bin"),
]


FLAGS = ["dump", "pckmo", "pckmo-hmac", "backup-keys", "image-encryption", "cck-extension-secret",
         "cck-update"]


USAGE_FAILURES: list[tuple[str, ...]] = [
    ("--cck", "@key32", "--comm-key", "@key32"),
    ("--hdr-key", "@key32", "--x-header-key", "@key32"),
    ("--x-comp-key", "@key64", "--image-key", "@key64"),
    ("--x-pcf", "0", "--x-pcf", "0"),
    ("--x-scf", "0", "--x-scf", "0"),
    ("--x-psw", "0", "--x-psw", "0"),
    ("--x-bootloader-directory", "@boot"),  # a second one
    ("-r", "@ramdisk", "-r", "@ramdisk"),
    ("-p", "@parm", "--parmfile", "@parm"),
    ("--image", "@kernel"),  # a second kernel
    ("-o", "again"),
    ("--x-psw", "-1"),
    ("--x-psw", "+1"),
    ("--x-psw", "1_0"),
    ("--x-psw", " 1"),
    ("--x-pcf", "0x"),
    ("--x-pcf", "0x11112222333344445"),
    ("--x-scf", "\uff11"),
    ("--enable-dump",),
    ("--enable-cck-extension-secret",),
    ("--enable-cck-extension-secret", "--enable-cck-update", "--cck", "@key32"),
    ("--disable-image-encryption", "--image-key", "@key64"),
    ("-v", "-q"),
    ("--hdr-key",),
]
USAGE_FAILURES += [(f"--enable-{f}", f"--disable-{f}", "--cck", "@key32") for f in FLAGS]
USAGE_FAILURES += [(f"--{which}-{f}", "--cck", "@key32", xopt, "0")
                   for f in FLAGS for which in ("enable", "disable") for xopt in ("--x-pcf", "--x-scf")]


@pytest.fixture
def image(env: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> bytes:
    assert main(["create", *_args(env, "-r", str(env["ramdisk"]), "-p", str(env["parm"]),
                                  "--hdr-key", str(env["key32"]))]) == 0
    capsys.readouterr()
    return env["out"].read_bytes()


def _info_and_test(env: dict[str, Path], path: Path,
                   capsys: pytest.CaptureFixture[str]) -> list[tuple[int, str]]:
    results = []
    for args in (["info", str(path)], ["info", "--hdr-key", str(env["key32"]), str(path)],
                 ["test", str(path), "-k", str(env["hkd"])]):
        code = main(args)
        err = capsys.readouterr().err
        assert code in (0, 1), (args, err)
        assert "Traceback" not in err and "internal error" not in err, err
        if code == 1 and args[0] == "info":
            errors = [line for line in err.splitlines() if line.startswith("error: ")]
            assert len(errors) == 1 and str(path) in errors[0], err
        results.append((code, err))
    return results


@pytest.mark.parametrize(("name", "where", "extra", "expected"), RUNTIME_FAILURES,
                         ids=[c[0] for c in RUNTIME_FAILURES])
@pytest.mark.parametrize("entry", ["pvimg", "genprotimg"])
def test_runtime_failures(env: dict[str, Path], capsys: pytest.CaptureFixture[str],
                          monkeypatch: pytest.MonkeyPatch, entry: str,
                          name: str, where: dict[str, str], extra: tuple[str, ...],
                          expected: str) -> None:
    kw = {k: _resolve(env, (v,))[0] for k, v in where.items()}
    args = _args(env, *_resolve(env, extra), **kw)
    if "--x-bootloader-directory" in extra:  # the later one must win: drop ours
        i = args.index("--x-bootloader-directory")
        del args[i:i + 2]
    monkeypatch.chdir(env["dir"])
    code = main(["create", *args]) if entry == "pvimg" else genprotimg_main(args)
    err = capsys.readouterr().err
    assert code == 1, err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and expected in errors[0], err
    assert "Traceback" not in err and "internal error" not in err
    assert _left_behind(env) == []
    assert not (env["dir"] / "new").exists()


@pytest.mark.parametrize("extra", USAGE_FAILURES, ids=[" ".join(e) for e in USAGE_FAILURES])
def test_usage_failures(env: dict[str, Path], capsys: pytest.CaptureFixture[str],
                        monkeypatch: pytest.MonkeyPatch, extra: tuple[str, ...]) -> None:
    monkeypatch.chdir(env["dir"])
    for entry in (lambda a: main(["create", *a]), genprotimg_main):
        assert entry(_args(env, *_resolve(env, extra))) == 2
        err = capsys.readouterr().err
        # usage errors come first: no warning (boot loader directory, no-verify) before them
        assert err.startswith("error: ") and "Traceback" not in err, err
        assert _left_behind(env) == []


def test_usage_error_before_boot_loader_warning(env: dict[str, Path],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    args = _args(env)
    args.remove("--no-verify")
    assert main(["create", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the following required arguments"), err
    assert "bootloader" not in err


def test_reference_option_names_accepted(env: dict[str, Path],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Every option spelling of rust/pvimg/src/cli.rs builds an image (genprotimg too)."""
    long_names = ["--image", str(env["kernel"]), "--ramdisk", str(env["ramdisk"]),
                  "--parmfile", str(env["parm"]), "--output", str(env["out"]),
                  "--host-key-document", str(env["hkd"]), "--no-verify",
                  "--comm-key", str(env["key32"]), "--x-header-key", str(env["key32"]),
                  "--x-comp-key", str(env["key64"]), "--enable-dump", "--enable-cck-update",
                  "--disable-pckmo", "--enable-pckmo-hmac", "--enable-backup-keys",
                  "--enable-image-encryption", "--no-component-check", "--overwrite",
                  "--x-bootloader-directory", str(env["boot"]), "-V"]
    assert genprotimg_main(long_names) == 0
    err = capsys.readouterr().err
    assert "deprecated flag '-V'" in err and "Successfully generated" in err
    assert main(["create", *long_names]) == 0
    capsys.readouterr()
    # -v/-q/-V after the sub-command too, as clap's global options
    assert main(["create", *_args(env, "--overwrite", "-V")]) == 0
    assert "deprecated flag '-V'" in capsys.readouterr().err
    assert main(["info", "-q", str(env["out"])]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("option", ["--help-all", "--help-experimental"])
def test_genprotimg_legacy_help(option: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        genprotimg_main([option])
    assert exit_info.value.code == 0
    assert "usage: genprotimg" in capsys.readouterr().out


def test_output_appearing_during_build_is_kept(env: dict[str, Path],
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Without --overwrite a file that appears while we work is not replaced."""
    from secexkit.image.header import build_se_header

    def racing(**kw: Any) -> bytes:
        env["out"].write_bytes(b"theirs")
        return build_se_header(**kw)

    monkeypatch.setattr("secexkit.image.builder.build_se_header", racing)
    assert main(["create", *_args(env)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert env["out"].read_bytes() == b"theirs"
    assert _left_behind(env) == ["image.se"]
    assert main(["create", *_args(env, "--overwrite")]) == 0
    assert env["out"].read_bytes()[:8] == bytes.fromhex("0008000180011000")
    assert env["out"].stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("cut", [0, 100, 0xC000 + 10, 0x14000, 0x14000 + 300])
def test_info_on_truncated_images(env: dict[str, Path], image: bytes, cut: int,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = env["dir"] / "cut"
    path.write_bytes(image[:cut])
    results = _info_and_test(env, path, capsys)
    assert [code for code, _ in results] == [1, 1, 1]


def test_info_on_directory_and_fifo(env: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(env["boot"])]) == 1
    assert "Is a directory" in capsys.readouterr().err
    fifo = env["dir"] / "fifo"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # a peer, so that open() does not block
    try:
        assert main(["info", str(fifo)]) == 1
    finally:
        os.close(writer)
    err = capsys.readouterr().err
    assert err.startswith(f"error: Cannot read `{fifo}`") and err.count("\n") == 1, err


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset=st.one_of(st.integers(0, 2**64 - 1), st.sampled_from([
    0, 0x14001, 0x14000 + PAGE, 2**31, 2**62, 2**63 - 1, 2**63, 2**64 - 1])))
def test_fuzz_metadata_header_offset(env: dict[str, Path], image: bytes, offset: int,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Any u64 as the header offset in the image metadata: found, or our one-line error."""
    data = bytearray(image)
    struct.pack_into(">Q", data, 0xC008, offset)
    path = env["dir"] / "meta"
    path.write_bytes(bytes(data))
    results = _info_and_test(env, path, capsys)
    if offset == 0x14000:
        assert [code for code, _ in results] == [0, 0, 0]
    else:
        assert all(code == 1 for code, _ in results)
        assert "No Secure Execution header found" in results[0][1]


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("0x1", 1), ("0X1f", 0x1F),
                                             ("ffffffffffffffff", 2**64 - 1),
                                             ("0xC000000000000001", 0xC000000000000001)])
def test_hex_values(text: str, value: int) -> None:
    assert _parse_u64(text, "x-pcf") == value


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=20), st.from_regex(r"\A(0[xX])?[-+ _0-9a-fA-F]{0,18}\Z")))
def test_fuzz_hex_values(text: str) -> None:
    try:
        value = _parse_u64(text, "x-psw")
    except UsageError as exc:
        assert str(exc).startswith("invalid value")
        assert not re.fullmatch(r"(0[xX])?[0-9a-fA-F]{1,16}", text)
        return
    digits = text[2:] if text[:2].lower() == "0x" else text
    assert re.fullmatch(r"[0-9a-fA-F]{1,16}", digits)
    assert value == int(digits, 16) and 0 <= value < 2**64


def test_pipes_as_checked_components(env: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """Components are regular files only, with or without the check (ADR 0051)."""
    for option, check in (("-i", ()), ("-p", ()), ("-p", ("--no-component-check",)),
                          ("-r", ("--no-component-check",))):
        read_end, write_end = os.pipe()
        os.write(write_end, b"console=ttysclp0")
        os.close(write_end)
        try:
            args = _args(env, *check)
            if option == "-i":
                args[1] = f"/dev/fd/{read_end}"
            else:
                args += [option, f"/dev/fd/{read_end}"]
            assert main(["create", *args]) == 1
        finally:
            os.close(read_end)
        err = capsys.readouterr().err
        errors = [line for line in err.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and f"/dev/fd/{read_end}" in errors[0], err
        assert "not a regular file" in errors[0], err
        assert "internal error" not in err
        assert _left_behind(env) == []


def test_overwrite_never_replaces_special_files(env: dict[str, Path],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    fifo = env["dir"] / "fifo"
    os.mkfifo(fifo)
    for target in (fifo, Path("/dev/null")):
        before = os.lstat(target)
        assert main(["create", *_args(env, "--overwrite", output=str(target))]) == 1
        assert "is not a regular file" in capsys.readouterr().err
        after = os.lstat(target)
        assert (after.st_mode, after.st_ino, after.st_rdev) == (before.st_mode, before.st_ino,
                                                                 before.st_rdev)
        assert not Path(f"{target}.part").exists()


@pytest.mark.parametrize("where", ["streaming", "fixed parts", "fsync"])
def test_disk_full(env: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                   capsys: pytest.CaptureFixture[str], where: str) -> None:
    def full(*_: Any) -> None:
        raise OSError(28, "No space left on device")

    target = {"streaming": "secexkit.image.components._write_all",
              "fixed parts": "secexkit.image.builder._write_at",
              "fsync": "secexkit.fileio.os.fsync"}[where]
    monkeypatch.setattr(target, full)
    assert main(["create", *_args(env)]) == 1
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: Cannot write `{env['out']}`: No space left on device"], err
    assert _left_behind(env) == []


def test_pvsecret_request_bound_to_image(env: dict[str, Path], image: bytes) -> None:
    """Done-when: ``pvsecret create --hdr IMAGE`` binds the request to the image's tags."""
    from secexkit.cli.pvsecret import main as pvsecret_main

    request = env["dir"] / "request.bin"
    assert pvsecret_main(["create", "-k", str(env["hkd"]), "--no-verify", "--hdr",
                          str(env["out"]), "-o", str(request), "meta"]) == 0
    header_offset = struct.unpack_from(">Q", image, 0xC008)[0]
    size = struct.unpack_from(">I", image, header_offset + 12)[0]
    header = image[header_offset:header_offset + size]
    # ASRCB 0x38..0x108: PLD || ALD || TLD || header tag, copied from the image's header
    assert request.read_bytes()[0x38:0x108] == header[0xE0:0x1A0] + header[-16:]


def test_progress_bar_lines(capsys: pytest.CaptureFixture[str]) -> None:
    from secexkit.cli.pvimg import _ProgressBar

    bar = _ProgressBar(8 << 20)
    bar.close()  # a failure before any progress: no empty line before the error
    assert capsys.readouterr().err == ""
    bar = _ProgressBar(8 << 20)
    for _ in range(4):
        bar(4 << 20)  # more than the total (stage3b is counted too): 100 % once
    bar.close()
    err = capsys.readouterr().err
    assert err.count("100.0%") == 1 and err.endswith("8/8 MiB\n"), repr(err)
