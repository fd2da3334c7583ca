"""pvimg create through the library: build from synthetic inputs, then re-read independently."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from secexkit.errors import InputError, NotAvailableError
from secexkit.formats.se_header import read_se_header
from secexkit.hostkeys import HostKey, parse_host_key_document
from secexkit.image import flags
from secexkit.image.bootloader import ENVIRONMENT_VARIABLE, find_boot_loaders
from secexkit.image.builder import ImageInputs, ImageOptions, create_image, plan_layout
from secexkit.image.components import ComponentKind, new_tweak_base
from secexkit.secret import SecretBytes
from tests.support.images import (
    PAGE,
    STAGE3A_SIZE,
    decrypt_header,
    decrypt_pages,
    header_fields,
    make_kernel,
    make_loaders,
    protection_key_from_slot,
    read_image,
    recompute_digests,
)
from tests.support.keys import write_host_key_document


@pytest.fixture(scope="session")
def vector_host(vectors: Path) -> tuple[HostKey, ec.EllipticCurvePrivateKey]:
    doc = vectors / "cert" / "host.crt"
    key = serialization.load_pem_private_key((vectors / "cert" / "host.key").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return parse_host_key_document(doc.read_bytes(), str(doc)).host_key, key


@pytest.fixture(scope="session")
def generated_host(tmp_path_factory: pytest.TempPathFactory) -> tuple[HostKey, ec.EllipticCurvePrivateKey]:
    path, key = write_host_key_document(tmp_path_factory.mktemp("hkd"), "gen-host")
    return parse_host_key_document(path.read_bytes(), str(path)).host_key, key


@pytest.fixture
def inputs(tmp_path: Path) -> ImageInputs:
    kernel = make_kernel(tmp_path / "kernel", size=0x10000 + 0x3456, cmdline_max=64)
    ramdisk = tmp_path / "ramdisk"
    ramdisk.write_bytes(os.urandom(5000))
    parm = tmp_path / "parmfile"
    parm.write_bytes(b"root=/dev/vda1 quiet")
    return ImageInputs(kernel, ramdisk, parm)


@pytest.fixture
def loaders(tmp_path: Path):  # type: ignore[no-untyped-def]
    return find_boot_loaders(make_loaders(tmp_path / "boot"))


def _build(tmp_path: Path, inputs: ImageInputs, loaders, host_keys, **kw):  # type: ignore[no-untyped-def]
    out = tmp_path / "image.se"
    result = create_image(out, inputs, ImageOptions(host_keys=host_keys, **kw), loaders)
    return out, result


def test_image_reread_independently(tmp_path: Path, inputs: ImageInputs, loaders,  # type: ignore[no-untyped-def]
                                    vector_host, generated_host) -> None:
    hdr_key = os.urandom(32)
    out, result = _build(tmp_path, inputs, loaders, [vector_host[0], generated_host[0]],
                         header_key=SecretBytes(hdr_key))
    assert out.stat().st_mode & 0o777 == 0o600
    assert not out.with_name(out.name + ".part").exists()
    img = read_image(out)
    raw = img.raw
    # short PSW -> stage3a entry
    assert raw[:8] == bytes.fromhex("0008000180011000")
    # metadata and IPIB point at the header
    assert img.header_offset == 0x14000 == img.ipib_header_address
    assert img.ipib_header_size == len(img.header) == 0x230 + 2 * 80
    fields = header_fields(img.header)
    assert fields["nks"] == 2 and fields["sea"] == 128
    assert fields["pcf"] == 0xE0  # dumping disabled by default
    # both host keys open the header, and so does the protection key
    assert protection_key_from_slot(img.header, vector_host[1]) == hdr_key
    assert protection_key_from_slot(img.header, generated_host[1]) == hdr_key
    secrets = decrypt_header(img.header, hdr_key)
    assert secrets["noi"] == 0 and secrets["scf"] == 0
    assert secrets["psw_mask"] == 0x180000000
    # components: kernel, ramdisk, cmdline, stage3b; contiguous pages after the header
    kinds = [c[0] >> 48 for c in img.ipib_components]
    assert kinds == [40, 50, 60, 70]
    addresses = [c[1] for c in img.ipib_components]
    assert addresses[0] == 0x15000
    for (_, a, n), (_, b, _) in zip(img.ipib_components, img.ipib_components[1:], strict=False):
        assert a + n == b and n % PAGE == 0
    stage3b_address = img.ipib_components[3][1]
    assert secrets["psw_addr"] == stage3b_address
    assert img.ipib_offset == stage3b_address + img.ipib_components[3][2]
    # digests recomputed from the image bytes
    bases = [c[0].to_bytes(8, "big") + bytes(8) for c in img.ipib_components]
    pld, ald, tld, pages = recompute_digests(raw, img.ipib_components, bases)
    assert (fields["pld"], fields["ald"], fields["tld"], fields["nep"]) == (pld, ald, tld, pages)
    # every component decrypts back to its input
    xts = secrets["xts"]
    assert isinstance(xts, bytes)
    plain = [decrypt_pages(raw, xts, a, n, base)
             for (_, a, n), base in zip(img.ipib_components, bases, strict=True)]
    kernel = inputs.kernel.read_bytes()
    ramdisk = inputs.ramdisk.read_bytes()  # type: ignore[union-attr]
    cmdline = inputs.parmfile.read_bytes() + b"\0"  # type: ignore[union-attr]
    assert plain[0] == kernel + bytes(len(plain[0]) - len(kernel))
    assert plain[1] == ramdisk + bytes(len(plain[1]) - len(ramdisk))
    assert plain[2] == cmdline + bytes(PAGE - len(cmdline))
    # stage3b: loader with its argument block (addresses, original sizes, kernel PSW)
    stage3b = plain[3][:0x1800]
    assert stage3b[:-64] == bytes([0x5A]) * (0x1800 - 64)
    tail = stage3b[-64:]
    args = [int.from_bytes(tail[8 * i:8 * i + 8], "big") for i in range(8)]
    assert args == [addresses[0], len(kernel), addresses[2], len(cmdline),
                    addresses[1], len(ramdisk), 0x180000000, 0x10000]
    # stage3a: argument block with offsets relative to itself
    stage3a = raw[0x10000:0x10000 + STAGE3A_SIZE]
    assert stage3a[:-24] == bytes([0xA5]) * (STAGE3A_SIZE - 24)
    base = 0x10000 + STAGE3A_SIZE - 24
    tail = stage3a[-24:]
    hdr_offs, hdr_size, ipib_offs = (int.from_bytes(tail[8 * i:8 * i + 8], "big")
                                     for i in range(3))
    assert (base + hdr_offs, hdr_size, base + ipib_offs) == (0x14000, len(img.header),
                                                             img.ipib_offset)
    # pvsecret create --hdr reads the same tags from the image
    with open(out, "rb") as stream:
        tags = read_se_header(stream).boot_tags
    assert (tags.pld, tags.ald, tags.tld, tags.tag) == (pld, ald, tld, img.header[-16:])
    assert result.header == img.header


def test_enable_dump_and_flags(tmp_path: Path, inputs: ImageInputs, loaders,  # type: ignore[no-untyped-def]
                               generated_host) -> None:
    pcf, scf = flags.apply_flag_options(flags.PCF_DEFAULT, 0, {"dump": True, "cck-update": True})
    hdr_key = os.urandom(32)
    out, _ = _build(tmp_path, inputs, loaders, [generated_host[0]], pcf=pcf, scf=scf,
                    header_key=SecretBytes(hdr_key), cck=SecretBytes(b"\x31" * 32))
    img = read_image(out)
    assert header_fields(img.header)["pcf"] == 0x200000E0
    secrets = decrypt_header(img.header, hdr_key)
    assert secrets["scf"] == 0x2000000000000000 and secrets["cck"] == b"\x31" * 32


def test_flag_combinations() -> None:
    everything = {"pckmo": False, "pckmo-hmac": True, "backup-keys": True,
                  "image-encryption": False}
    assert flags.apply_flag_options(flags.PCF_DEFAULT, 0, everything) == (0x10000012, 0)
    assert flags.apply_flag_options(0xE0, 0, {"cck-extension-secret": True}) == (
        0xE0, 0x4000000000000000)
    assert flags.apply_flag_options(0xE0 | flags.PCF_ALLOW_DUMPING, 0, {"dump": False}) == (
        0xE0, 0)


def test_fixed_keys_and_no_encryption(tmp_path: Path, inputs: ImageInputs, loaders,  # type: ignore[no-untyped-def]
                                      generated_host) -> None:
    image_key = bytes(range(64))
    pcf = flags.PCF_DEFAULT | flags.PCF_NO_COMPONENT_ENCRYPTION
    hdr_key = os.urandom(32)
    out, _ = _build(tmp_path, inputs, loaders, [generated_host[0]], pcf=pcf,
                    header_key=SecretBytes(hdr_key), image_key=SecretBytes(image_key))
    img = read_image(out)
    # unencrypted: the kernel lies in the image as it is, digests still cover it
    kernel = inputs.kernel.read_bytes()
    address = img.ipib_components[0][1]
    assert img.raw[address:address + len(kernel)] == kernel
    bases = [c[0].to_bytes(8, "big") + bytes(8) for c in img.ipib_components]
    pld, _, _, _ = recompute_digests(img.raw, img.ipib_components, bases)
    assert header_fields(img.header)["pld"] == pld
    assert decrypt_header(img.header, hdr_key)["xts"] == image_key


def test_kernel_only_and_empty_ramdisk(tmp_path: Path, loaders, generated_host) -> None:  # type: ignore[no-untyped-def]
    kernel = make_kernel(tmp_path / "k", size=0x10438)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    _, result = _build(tmp_path, ImageInputs(kernel, empty, None), loaders, [generated_host[0]])
    kinds = [c.kind for c in result.components]
    assert kinds == [ComponentKind.KERNEL, ComponentKind.RAMDISK, ComponentKind.STAGE3B]
    assert result.components[1].size == PAGE and result.components[1].original_size == 0


@pytest.mark.parametrize("case", ["elf", "no-marker", "short", "cmdline-too-long", "no-kernel"])
def test_bad_components_leave_nothing(tmp_path: Path, loaders, generated_host, case: str) -> None:  # type: ignore[no-untyped-def]
    kernel = tmp_path / "kernel"
    parm = None
    if case == "elf":
        make_kernel(kernel, elf=True)
    elif case == "no-marker":
        make_kernel(kernel, marker=False)
    elif case == "short":
        kernel.write_bytes(b"\0" * 100)
    elif case == "cmdline-too-long":
        make_kernel(kernel, cmdline_max=16)
        parm = tmp_path / "parm"
        parm.write_bytes(b"x" * 16)  # 17 with the NUL
    out = tmp_path / "image.se"
    with pytest.raises(InputError) as info:
        create_image(out, ImageInputs(kernel, None, parm),
                     ImageOptions(host_keys=[generated_host[0]]), loaders)
    message = str(info.value)
    expected = {"elf": "ELF", "no-marker": "S390EP", "short": "S390EP",
                "cmdline-too-long": "17 > 16", "no-kernel": "Cannot open"}[case]
    assert expected in message and "\n" not in message
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        n for n in ("boot", "kernel", "parm") if (tmp_path / n).exists())


def test_cmdline_limits(tmp_path: Path, loaders, generated_host) -> None:  # type: ignore[no-untyped-def]
    kernel = make_kernel(tmp_path / "kernel", cmdline_max=16)
    parm = tmp_path / "parm"
    parm.write_bytes(b"x" * 15)
    _build(tmp_path, ImageInputs(kernel, None, parm), loaders, [generated_host[0]])
    legacy = make_kernel(tmp_path / "legacy", cmdline_max=0)
    parm.write_bytes(b"x" * 895)
    _build(tmp_path, ImageInputs(legacy, None, parm), loaders, [generated_host[0]],
           overwrite=True)
    parm.write_bytes(b"x" * 896)
    with pytest.raises(InputError, match="897 > 896"):
        _build(tmp_path, ImageInputs(legacy, None, parm), loaders, [generated_host[0]],
               overwrite=True)
    # a NUL-terminated file gets no second NUL
    parm.write_bytes(b"x" * 895 + b"\0")
    _build(tmp_path, ImageInputs(legacy, None, parm), loaders, [generated_host[0]],
           overwrite=True)
    # the check can be turned off
    parm.write_bytes(b"x" * 5000)
    _build(tmp_path, ImageInputs(legacy, None, parm), loaders, [generated_host[0]],
           overwrite=True, component_check=False)


def test_too_many_host_keys(tmp_path: Path, inputs: ImageInputs, loaders, generated_host) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match="96 > 95"):
        _build(tmp_path, inputs, loaders, [generated_host[0]] * 96)
    assert not (tmp_path / "image.se").exists()
    assert not (tmp_path / "image.se.part").exists()
    assert plan_layout(STAGE3A_SIZE, 95).header_size == 8160


def test_existing_output(tmp_path: Path, inputs: ImageInputs, loaders, generated_host) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "image.se"
    out.write_bytes(b"keep me")
    with pytest.raises(InputError, match="already exists"):
        _build(tmp_path, inputs, loaders, [generated_host[0]])
    assert out.read_bytes() == b"keep me"
    assert not (tmp_path / "image.se.part").exists()
    _build(tmp_path, inputs, loaders, [generated_host[0]], overwrite=True)
    assert out.read_bytes()[:8] == bytes.fromhex("0008000180011000")


def test_existing_part_file_is_not_touched(tmp_path: Path, inputs: ImageInputs, loaders,  # type: ignore[no-untyped-def]
                                           generated_host) -> None:
    # the temporary name is unpredictable (ADR 0050): a pre-created OUTPUT.part blocks nothing
    part = tmp_path / "image.se.part"
    part.write_bytes(b"someone else's")
    _build(tmp_path, inputs, loaders, [generated_host[0]])
    assert part.read_bytes() == b"someone else's"
    assert (tmp_path / "image.se").exists()


def test_unreadable_ramdisk(tmp_path: Path, inputs: ImageInputs, loaders,  # type: ignore[no-untyped-def]
                            generated_host) -> None:
    bad = ImageInputs(inputs.kernel, tmp_path, inputs.parmfile)  # a directory
    with pytest.raises(InputError, match="Cannot open"):
        _build(tmp_path, bad, loaders, [generated_host[0]])
    assert not list(tmp_path.glob("image.se*"))


def test_read_error_while_streaming_removes_part(tmp_path: Path, inputs: ImageInputs, loaders,  # type: ignore[no-untyped-def]
                                                 generated_host,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    class Failing:
        def __init__(self, stream: object) -> None:
            self.calls = 0

        def readinto(self, buffer: memoryview) -> int:
            self.calls += 1
            if self.calls > 1:
                raise OSError(5, "Input/output error")
            buffer[:10] = b"x" * 10
            return 10

    monkeypatch.setattr("secexkit.image.builder.CmdlineSource", Failing)
    with pytest.raises(InputError, match="Cannot read the kernel cmdline: Input/output error"):
        _build(tmp_path, inputs, loaders, [generated_host[0]], component_check=False)
    assert not list(tmp_path.glob("image.se*"))


def test_equal_xts_halves_rejected(tmp_path: Path, inputs: ImageInputs, loaders,  # type: ignore[no-untyped-def]
                                   generated_host) -> None:
    from secexkit.errors import CryptoError

    with pytest.raises(CryptoError):
        _build(tmp_path, inputs, loaders, [generated_host[0]],
               image_key=SecretBytes(b"\x03" * 64))
    assert not list(tmp_path.glob("image.se*"))


def test_missing_loaders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, str(tmp_path / "nowhere"))
    monkeypatch.setattr("secexkit.image.bootloader.DEFAULT_DIRECTORIES",
                        (str(tmp_path / "default"),))
    with pytest.raises(NotAvailableError) as info:
        find_boot_loaders()
    message = str(info.value)
    assert "stage3a.bin" in message and "stage3b_reloc.bin" in message
    assert str(tmp_path / "nowhere") in message and str(tmp_path / "default") in message
    # the environment variable is honoured
    make_loaders(tmp_path / "nowhere")
    assert find_boot_loaders().directory == tmp_path / "nowhere"
    # an explicit directory is the only place looked at; a missing file is named
    (tmp_path / "nowhere" / "stage3b_reloc.bin").unlink()
    with pytest.raises(NotAvailableError, match=r"stage3b_reloc\.bin"):
        find_boot_loaders(tmp_path / "nowhere")


def test_bad_loader_shapes(tmp_path: Path) -> None:
    directory = make_loaders(tmp_path / "boot")
    (directory / "stage3a.bin").write_bytes(b"\0" * 0x1000)
    with pytest.raises(InputError, match="stage3a"):
        find_boot_loaders(directory)
    make_loaders(directory)
    (directory / "stage3b_reloc.bin").write_bytes(b"\0" * 64)
    with pytest.raises(InputError, match="stage3b"):
        find_boot_loaders(directory)


def test_large_stage3a_moves_header(tmp_path: Path) -> None:
    plan = plan_layout(0x5000, 1)
    assert plan.header_address == 0x15000 and plan.first_component_address == 0x16000
    plan = plan_layout(STAGE3A_SIZE, 45)
    assert plan.header_address == 0x14000 and plan.first_component_address == 0x16000


def test_streaming_large_component_matches_digest(tmp_path: Path, loaders, generated_host) -> None:  # type: ignore[no-untyped-def]
    # several pipeline batches plus a partial page
    kernel = make_kernel(tmp_path / "kernel")
    ramdisk = tmp_path / "ramdisk"
    data = os.urandom(3 * 1024 * 1024 + 123)
    ramdisk.write_bytes(data)
    hdr_key = os.urandom(32)
    out, result = _build(tmp_path, ImageInputs(kernel, ramdisk, None), loaders,
                         [generated_host[0]], header_key=SecretBytes(hdr_key))
    img = read_image(out)
    bases = [c[0].to_bytes(8, "big") + bytes(8) for c in img.ipib_components]
    pld, ald, tld, pages = recompute_digests(img.raw, img.ipib_components, bases)
    fields = header_fields(img.header)
    assert (fields["pld"], fields["ald"], fields["tld"], fields["nep"]) == (pld, ald, tld, pages)
    secrets = decrypt_header(img.header, hdr_key)
    _, address, length = img.ipib_components[1]
    xts = secrets["xts"]
    assert isinstance(xts, bytes)
    assert decrypt_pages(img.raw, xts, address, length, bases[1])[:len(data)] == data
    assert hashlib.sha256(img.raw).digest() != hashlib.sha256(data).digest()
    assert result.components[1].original_size == len(data)


def test_cmdline_source_appends_nul() -> None:
    from secexkit.image.components import CmdlineSource

    for content, expected in ((b"", b"\0"), (b"abc", b"abc\0"), (b"abc\0", b"abc\0")):
        source = CmdlineSource(io.BytesIO(content))
        buffer = bytearray(16)
        view = memoryview(buffer)
        total = 0
        while count := source.readinto(view[total:]):
            total += count
        assert bytes(buffer[:total]) == expected


def test_switch_interval_restored(tmp_path: Path, inputs: ImageInputs, loaders,  # type: ignore[no-untyped-def]
                                  generated_host) -> None:
    import sys

    before = sys.getswitchinterval()
    _build(tmp_path, inputs, loaders, [generated_host[0]])
    assert sys.getswitchinterval() == before


def test_fast_and_public_xts_paths_agree(tmp_path: Path, inputs: ImageInputs, loaders,  # type: ignore[no-untyped-def]
                                         generated_host, monkeypatch: pytest.MonkeyPatch) -> None:
    from secexkit.image.header import HeaderKeys

    keys = HeaderKeys.generate()
    fixed = {
        "image_key": SecretBytes(bytes(range(64))),
        "cck": SecretBytes(bytes(32)),
        "header_keys": keys,
        "tweaks": {kind: new_tweak_base(kind) for kind in ComponentKind},
    }
    fast = tmp_path / "fast"
    public = tmp_path / "public"
    for path in (fast, public):
        path.mkdir()
    _build(fast, inputs, loaders, [generated_host[0]], **fixed)
    monkeypatch.setattr("secexkit.crypto.xts._fast_xts", lambda key, decrypt: None)
    _build(public, inputs, loaders, [generated_host[0]], **fixed)
    assert (fast / "image.se").read_bytes() == (public / "image.se").read_bytes()
