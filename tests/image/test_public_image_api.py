"""``create_image`` is public API: typed options (booleans, not flag words), exported from
``secexkit``; the same bytes as the raw-flag path."""

from __future__ import annotations

from pathlib import Path

import pytest

import secexkit
from secexkit import (
    ImageFlags,
    ImageInputs,
    ImageOptions,
    SecretBytes,
    UsageError,
    create_image,
    find_boot_loaders,
)
from secexkit.image.bootloader import ENVIRONMENT_VARIABLE
from secexkit.image.flags import (
    PCF_ALLOW_DUMPING,
    PCF_DEFAULT,
    PCF_NO_COMPONENT_ENCRYPTION,
    SCF_CCK_UPDATE,
    SCF_DEFAULT,
)
from tests.support.images import header_fields, make_kernel, make_loaders, read_image
from tests.support.keys import write_host_key_document


def test_exported_from_secexkit() -> None:
    for name in ("create_image", "ImageFlags", "ImageInputs", "ImageOptions", "ImageResult",
                 "BootLoaders", "find_boot_loaders"):
        assert name in secexkit.__all__ and getattr(secexkit, name).__doc__, name


def test_flag_booleans_round_trip() -> None:
    assert ImageFlags().to_pcf_scf() == (PCF_DEFAULT, SCF_DEFAULT)
    dump = ImageFlags(allow_dump=True, cck_update=True, encrypt_components=False)
    pcf, scf = dump.to_pcf_scf()
    assert pcf & PCF_ALLOW_DUMPING and pcf & PCF_NO_COMPONENT_ENCRYPTION and scf == SCF_CCK_UPDATE
    assert ImageFlags.from_pcf_scf(pcf, scf) == dump


def test_flag_rules_live_in_the_library() -> None:
    with pytest.raises(UsageError, match="CCK"):
        ImageOptions(host_keys=[], flags=ImageFlags(allow_dump=True))
    ImageOptions(host_keys=[], flags=ImageFlags(allow_dump=True), cck=SecretBytes(bytes(32)))
    with pytest.raises(UsageError):
        ImageOptions(host_keys=[], flags=ImageFlags(), pcf=0)


def test_create_image_with_typed_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, key = write_host_key_document(tmp_path, "host")
    from secexkit import parse_host_key_document

    host = parse_host_key_document((tmp_path / "host.crt").read_bytes(), "host").host_key
    del key
    kernel = make_kernel(tmp_path / "kernel", cmdline_max=32)
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, str(make_loaders(tmp_path / "boot")))
    fixed = {"header_key": SecretBytes(bytes(range(32))), "image_key": SecretBytes(
        bytes(range(64))), "cck": SecretBytes(bytes(32))}
    typed = create_image(str(tmp_path / "typed.img"), ImageInputs(kernel),
                         ImageOptions(host_keys=[host], flags=ImageFlags(allow_dump=True),
                                      **fixed))  # type: ignore[arg-type]
    fields = header_fields(read_image(typed.path).header)
    assert fields["pcf"] == PCF_DEFAULT | PCF_ALLOW_DUMPING
    raw = create_image(tmp_path / "raw.img", ImageInputs(kernel),
                       ImageOptions(host_keys=[host], pcf=PCF_DEFAULT | PCF_ALLOW_DUMPING,
                                    **fixed),  # type: ignore[arg-type]
                       find_boot_loaders())
    assert header_fields(read_image(raw.path).header)["pcf"] == fields["pcf"]
    assert typed.size == raw.size
