"""The image pipeline leaves the interpreter's process-wide GIL switch interval alone."""

from __future__ import annotations

import io
import os
import sys

import pytest

from secexkit.crypto.xts import page_cipher
from secexkit.image.components import ComponentEncryptor, ComponentKind, page_tweak
from secexkit.secret import SecretBytes


def test_streaming_never_sets_the_switch_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(_: float) -> None:
        raise AssertionError("library code changed sys.setswitchinterval")

    monkeypatch.setattr(sys, "setswitchinterval", refuse)
    key = SecretBytes(bytes(range(64)))
    data = os.urandom(3 * 0x100000 + 123)  # several batches and a partial page
    out = io.BytesIO()
    encryptor = ComponentEncryptor(out, 0, key)
    component = encryptor.add(ComponentKind.RAMDISK, io.BytesIO(data),
                              tweak=b"\x00\x32" + bytes(14))
    digests = encryptor.finish()
    assert digests.page_count == component.size // 0x1000 == 769
    # the output is the per-page XTS of the padded input
    cipher = page_cipher(key)
    padded = data.ljust(component.size, b"\0")
    for page in (0, 256, 768):
        dst = bytearray(0x1000 + 16)
        src = memoryview(padded)[page * 0x1000:(page + 1) * 0x1000]
        cipher(page_tweak(component.tweak, page), src, memoryview(dst))
        assert out.getvalue()[page * 0x1000:(page + 1) * 0x1000] == bytes(dst[:0x1000])
