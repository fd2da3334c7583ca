"""Write-behind while an image is written (ADR 0024): every window hinted to the kernel once,
dropped later, the hint switched off after its first error, the image the same either way.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest

from secexkit.image import components
from secexkit.secret import SecretBytes
from tests.support.images import make_kernel, make_loaders
from tests.support.keys import write_host_key_document


@pytest.fixture
def env(tmp_path: Path) -> dict[str, Path]:
    """A host-key document, a kernel and boot loaders in ``tmp_path`` ("dir")."""
    hkd, _ = write_host_key_document(tmp_path, "host")
    kernel = make_kernel(tmp_path / "kernel", cmdline_max=32)
    return {"hkd": hkd, "kernel": kernel, "boot": make_loaders(tmp_path / "boot"), "dir": tmp_path}


@pytest.mark.parametrize("advice", ["works", "fails", "absent"])
def test_write_behind(env: dict[str, Path], monkeypatch: pytest.MonkeyPatch, advice: str) -> None:
    """The writer hints every window to the kernel; the image is the same either way."""
    from secexkit.hostkeys import parse_host_key_document
    from secexkit.image.bootloader import find_boot_loaders
    from secexkit.image.builder import ImageInputs, ImageOptions, create_image
    from secexkit.image.header import HeaderKeys

    ramdisk = env["dir"] / "big-ramdisk"
    ramdisk.write_bytes(os.urandom(5 * (1 << 20) + 123))
    host = parse_host_key_document(env["hkd"].read_bytes(), "h").host_key
    fixed: dict[str, Any] = {
        "host_keys": [host], "image_key": SecretBytes(bytes(range(64))),
        "cck": SecretBytes(bytes(32)), "header_keys": HeaderKeys.generate(),
        "tweaks": {kind: components.new_tweak_base(kind) for kind in components.ComponentKind}}
    inputs = ImageInputs(env["kernel"], ramdisk, None)
    loaders = find_boot_loaders(env["boot"])
    plain = create_image(env["dir"] / "plain", inputs, ImageOptions(**fixed, sync=False), loaders)
    calls: list[tuple[int, int, int]] = []

    def fadvise(fd: int, offset: int, length: int, what: int) -> None:
        calls.append((offset, length, what))
        if advice == "fails":
            raise OSError(22, "Invalid argument")

    monkeypatch.setattr(components, "WRITE_BEHIND_BYTES", 1 << 20)
    if advice == "absent":
        monkeypatch.delattr(os, "posix_fadvise")
    else:
        monkeypatch.setattr(os, "posix_fadvise", fadvise)
    result = create_image(env["dir"] / "hinted", inputs, ImageOptions(**fixed), loaders)
    assert (env["dir"] / "hinted").read_bytes() == (env["dir"] / "plain").read_bytes()
    if advice == "absent":
        assert calls == []
        return
    if advice == "fails":  # the first error turns the hint off
        assert len(calls) == 1
        return
    start = plain.plan.first_component_address
    hinted = [c for c in calls if c[2] == os.POSIX_FADV_DONTNEED]
    assert hinted == calls
    # every window once in order (write-behind), then again later (drop-behind)
    firsts = []
    for offset, length, _ in calls:
        if (offset, length) not in firsts:
            firsts.append((offset, length))
    assert firsts[0][0] == start
    assert all(a[0] + a[1] == b[0] for a, b in itertools.pairwise(firsts))
    assert firsts[-1][0] + firsts[-1][1] <= result.ipib_address
    assert len(firsts) >= 5 and all(length >= 1 << 20 for _, length in firsts)
    counts = [sum(1 for c in calls if c[:2] == window) for window in firsts]
    drops = max(0, len(firsts) - components.DROP_BEHIND_WINDOWS)
    assert counts == [2] * drops + [1] * (len(firsts) - drops)
