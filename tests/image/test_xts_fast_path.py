"""The per-page XTS fast path (ADR 0022): used only when its self-test matches the public
API for every probe tweak; any mismatch falls back to the public API with the same bytes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from secexkit.crypto import xts
from secexkit.image import components
from secexkit.secret import SecretBytes

PAGE = 4096


KEY = bytes(range(64))


def _public(key: bytes, tweak: bytes, data: bytes) -> bytes:
    out = bytearray(PAGE + 16)
    xts._public_xts(key, False)(tweak, memoryview(data), memoryview(out))
    return bytes(out[:PAGE])


def _patch_create(monkeypatch: pytest.MonkeyPatch,
                  wrap: Callable[[Callable[[Any, Any], Any]], Callable[[Any, Any], Any]]) -> None:
    """Wrap the private constructor of the fast path only (the public API stays as it is)."""
    real = xts._private_constructor
    monkeypatch.setattr(xts, "_private_constructor", lambda decrypt: wrap(real(decrypt)))


def _fast_path_available() -> bool:
    try:
        xts._private_constructor(False)
    except (ImportError, AttributeError):
        return False
    return True


def test_fast_path_used_when_identical(monkeypatch: pytest.MonkeyPatch) -> None:
    if not _fast_path_available():
        pytest.skip("this cryptography release has no private cipher-context constructor")
    calls = []

    def wrap(real: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def create(algorithm: Any, mode: Any) -> Any:
            calls.append(bytes(mode.tweak))
            return real(algorithm, mode)
        return create

    _patch_create(monkeypatch, wrap)
    run = xts._fast_xts(KEY, False)
    assert run is not None and hasattr(run, "batch")
    # the self-test went through both paths with every probe tweak
    assert calls == list(xts._PROBE_TWEAKS) * 2
    data = os.urandom(PAGE)
    out = bytearray(PAGE + 16)
    run(b"\x00\x28" + bytes(14), memoryview(data), memoryview(out))
    assert bytes(out[:PAGE]) == _public(KEY, b"\x00\x28" + bytes(14), data)


@pytest.mark.parametrize("fault", ["stale-tweak", "wrong-late-tweak", "batch-only", "raises"])
def test_fast_path_mismatch_falls_back(monkeypatch: pytest.MonkeyPatch, fault: str) -> None:
    """A private constructor that differs from the public API for any probe is not used."""
    def wrap(real: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        seen: list[bytes] = []

        def create(algorithm: Any, mode: Any) -> Any:
            seen.append(bytes(mode.tweak))
            if fault == "raises":
                raise TypeError("changed signature")
            if fault == "stale-tweak" and len(seen) > 1:  # caches the first tweak it saw
                mode._tweak = seen[0]
            if fault == "wrong-late-tweak" and mode.tweak == b"\xff" * 16:
                mode._tweak = b"\xff" * 15 + b"\xfe"
            if fault == "batch-only" and len(seen) > len(xts._PROBE_TWEAKS):
                mode._tweak = bytes(16)
            return real(algorithm, mode)
        return create

    _patch_create(monkeypatch, wrap)
    assert xts._fast_xts(KEY, False) is None
    # page_cipher then uses the public API: right bytes whatever the private path does
    run = xts.batch_cipher(SecretBytes(KEY))
    data = os.urandom(PAGE)
    outs = [bytearray(PAGE + 16) for _ in range(3)]
    tweaks = [components.page_tweak(b"\x00\x32" + bytes(14), i) for i in range(3)]
    run(tweaks, [memoryview(data)] * 3, [memoryview(o) for o in outs])
    assert [bytes(o[:PAGE]) for o in outs] == [_public(KEY, t, data) for t in tweaks]
