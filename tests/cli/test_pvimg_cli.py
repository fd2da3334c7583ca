"""The pvimg / genprotimg command line (in-process)."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secexkit.cli.pvimg import genprotimg_main, main
from secexkit.errors import InputError, UsageError
from tests.support.images import (
    decrypt_header,
    header_fields,
    make_kernel,
    make_loaders,
    read_image,
)
from tests.support.keys import write_host_key_document


@pytest.fixture
def env(tmp_path: Path) -> dict[str, Path]:
    hkd, _ = write_host_key_document(tmp_path, "host")
    other, _ = write_host_key_document(tmp_path, "other")
    kernel = make_kernel(tmp_path / "kernel", cmdline_max=32)
    parm = tmp_path / "parm"
    parm.write_bytes(b"console=ttysclp0")
    ramdisk = tmp_path / "ramdisk"
    ramdisk.write_bytes(os.urandom(3000))
    hdr_key = tmp_path / "hdr.key"
    hdr_key.write_bytes(os.urandom(32))
    cck = tmp_path / "cck"
    cck.write_bytes(os.urandom(32))
    return {"hkd": hkd, "other": other, "kernel": kernel, "parm": parm, "ramdisk": ramdisk,
            "hdr_key": hdr_key, "cck": cck, "boot": make_loaders(tmp_path / "boot"),
            "out": tmp_path / "image.se", "dir": tmp_path}


def _create_args(env: dict[str, Path], *extra: str) -> list[str]:
    return ["-i", str(env["kernel"]), "-r", str(env["ramdisk"]), "-p", str(env["parm"]),
            "-o", str(env["out"]), "-k", str(env["hkd"]), "--no-verify",
            "--x-bootloader-directory", str(env["boot"]), *extra]


def test_create_info_test(env: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["create", *_create_args(env, "--hdr-key", str(env["hdr_key"]))]) == 0
    err = capsys.readouterr().err
    assert "Successfully generated the Secure Execution image." in err
    assert "verification is disabled" in err
    img = read_image(env["out"])
    assert header_fields(img.header)["pcf"] == 0xE0
    # info: json by default when stdout is not a terminal; warning on stderr
    assert main(["info", str(env["out"])]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["data"]["pcf_hex"] == "00000000000000e0"
    assert document["data"]["verified"] is False
    assert "was not verified" in captured.err
    assert main(["info", str(env["out"]), "--hdr-key", str(env["hdr_key"]), "--show-secrets",
                 "--format", "Json:Minify"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)["data"]
    assert data["kind"] == "decrypted_se_hdr" and data["verified"] is True
    assert data["psw"]["addr_hex"] == f"{img.ipib_components[-1][1]:016x}"
    assert data["scf_hex"] == "0000000000000000"
    assert "was not verified" not in captured.err
    assert main(["info", str(env["out"]), "--format", "text:FULL"]) == 0
    assert "  GCM tag: " in capsys.readouterr().out
    # wrong protection key
    wrong = env["dir"] / "wrong.key"
    wrong.write_bytes(bytes(32))
    assert main(["info", str(env["out"]), "--hdr-key", str(wrong)]) == 1
    assert "Failed to authenticate and decrypt" in capsys.readouterr().err
    # test: included / not included
    assert main(["test", str(env["out"]), "-k", str(env["hkd"])]) == 0
    assert "is included" in capsys.readouterr().err
    assert main(["test", str(env["out"]), "-k", str(env["other"])]) == 1
    assert "is not included" in capsys.readouterr().err


def test_genprotimg_and_flags(env: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    args = _create_args(env, "--hdr-key", str(env["hdr_key"]), "--enable-dump", "--cck",
                        str(env["cck"]), "--enable-pckmo-hmac")
    assert genprotimg_main(args) == 0
    img = read_image(env["out"])
    assert header_fields(img.header)["pcf"] == 0x200000F0
    secrets = decrypt_header(img.header, env["hdr_key"].read_bytes())
    assert secrets["cck"] == env["cck"].read_bytes()
    assert genprotimg_main(["--version"]) == 0
    assert "version" in capsys.readouterr().out
    assert genprotimg_main(["--version", "-i", "x"]) == 2


def test_x_options(env: dict[str, Path]) -> None:
    assert main(["create", *_create_args(env, "--hdr-key", str(env["hdr_key"]), "--x-pcf",
                                         "0x1", "--x-scf", "c000000000000001", "--x-psw",
                                         "0x12345")]) == 0
    img = read_image(env["out"])
    assert header_fields(img.header)["pcf"] == 1
    secrets = decrypt_header(img.header, env["hdr_key"].read_bytes())
    assert secrets["scf"] == 0xC000000000000001 and secrets["psw_addr"] == 0x12345


@pytest.mark.parametrize("extra", [
    ["--enable-dump"],
    ["--enable-cck-extension-secret"],
    ["--enable-dump", "--disable-dump", "--cck", "CCK"],
    ["--enable-cck-update", "--enable-cck-extension-secret", "--cck", "CCK"],
    ["--image-key", "CCK", "--disable-image-encryption"],
    ["--x-pcf", "1", "--disable-pckmo"],
    ["--x-pcf", "xyz"],
    ["-o", "again"],
])
def test_usage_errors(env: dict[str, Path], extra: list[str],
                      capsys: pytest.CaptureFixture[str]) -> None:
    extra = [str(env["cck"]) if e == "CCK" else e for e in extra]
    assert main(["create", *_create_args(env, *extra)]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert not env["out"].exists()


def test_usage_errors_other(env: dict[str, Path]) -> None:
    assert main([]) == 2
    assert main(["create", "-i", str(env["kernel"]), "-o", str(env["out"]), "-k",
                 str(env["hkd"])]) == 2  # neither --no-verify nor --cert
    assert main(["info"]) == 2
    assert main(["info", str(env["out"]), "--print-schema", "json"]) == 2
    assert main(["info", str(env["out"]), "--show-secrets"]) == 2
    assert main(["info", str(env["out"]), "--format", "yaml"]) == 2
    assert main(["test", str(env["out"])]) == 2


@pytest.mark.parametrize("case", ["elf", "no-marker", "cmdline", "loaders", "exists",
                                  "image-key", "hosts"])
def test_runtime_errors_leave_nothing(env: dict[str, Path], case: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    args = _create_args(env)
    expected = ""
    if case == "elf":
        make_kernel(env["kernel"], elf=True)
        expected = "ELF"
    elif case == "no-marker":
        make_kernel(env["kernel"], marker=False)
        expected = "S390EP"
    elif case == "cmdline":
        env["parm"].write_bytes(b"x" * 40)
        expected = "41 > 32"
    elif case == "loaders":
        (env["boot"] / "stage3a.bin").unlink()
        expected = "stage3a.bin"
    elif case == "exists":
        env["out"].write_bytes(b"old")
        expected = "already exists"
    elif case == "image-key":
        key = env["dir"] / "short.key"
        key.write_bytes(bytes(32))
        args += ["--image-key", str(key)]
        expected = "image components key"
    elif case == "hosts":
        args += ["-k", ",".join([str(env["hkd"])] * 95)]
        expected = "96 > 95"
    assert main(["create", *args]) == 1
    err = capsys.readouterr().err
    error_lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == 1 and expected in error_lines[0], err
    assert "Traceback" not in err
    names = {p.name for p in env["dir"].iterdir()}
    assert "image.se.part" not in names
    if case != "exists":
        assert "image.se" not in names
    else:
        assert env["out"].read_bytes() == b"old"


def test_print_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--print-schema", "json"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["$schema"].startswith("http://json-schema.org/draft-07")
    assert main(["info", "--print-schema", "text"]) == 0
    assert capsys.readouterr().out == "No schema for human-readable format available!\n"


def test_info_on_vector(vectors: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--format", "text", str(vectors / "exp" / "secure_guest.hdr")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[3] == ("   - target key hash: 782966a6298f6f5968780c3134ca4c5595"
                                   "8d2dbca5292f59e9f5d2670befaf2f")
    assert main(["info", str(vectors / "exp" / "keyslot.bin")]) == 1
    assert "No Secure Execution header found" in capsys.readouterr().err


def test_key_hashes(env: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from secexkit.hostkeys import parse_host_key_document

    assert main(["create", *_create_args(env)]) == 0
    capsys.readouterr()
    phkh = parse_host_key_document(env["hkd"].read_bytes(), "h").host_key.hash
    hashes = env["dir"] / "hashes"
    hashes.write_text("\n".join([phkh.hex(), "11" * 32] + ["00" * 32] * 13) + "\n")
    assert main(["test", str(env["out"]), f"--key-hashes={hashes}"]) == 0
    assert f"Host key hash 0x{phkh.hex()} is included" in capsys.readouterr().err
    hashes.write_text("\n".join(["22" * 32] * 15) + "\n")
    assert main(["test", str(env["out"]), f"--key-hashes={hashes}"]) == 1
    assert "None of the key hashes is included" in capsys.readouterr().err
    hashes.write_text("zz\n")
    assert main(["test", str(env["out"]), f"--key-hashes={hashes}"]) == 1
    if not Path("/sys/firmware/uv/keys/all").exists():
        assert main(["test", "--key-hashes", str(env["out"])]) == 1
        assert "not available" in capsys.readouterr().err


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=1200))
def test_fuzz_key_hashes_file(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    from secexkit.cli.pvimg import _read_key_hashes

    path = tmp_path_factory.mktemp("kh") / "hashes"
    path.write_bytes(data)
    try:
        hashes = _read_key_hashes(str(path))
    except InputError:
        return
    assert len(hashes) == 15 and all(len(h) == 32 for h in hashes)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=24))
def test_fuzz_option_values(value: str) -> None:
    from secexkit.cli.pvimg import _parse_format, _parse_u64

    with contextlib.suppress(UsageError):
        kind, _ = _parse_format(value)
        assert kind in ("text", "json")
    with contextlib.suppress(UsageError):
        assert 0 <= _parse_u64(value, "x-pcf") < 2**64


def test_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    from secexkit.cli.pvimg import _ProgressBar

    bar = _ProgressBar(8 << 20)
    bar(4 << 20)
    bar(4 << 20)
    bar.close()
    err = capsys.readouterr().err
    assert err.startswith("\r[") and "100.0%" in err and "8/8 MiB" in err and err.endswith("\n")
