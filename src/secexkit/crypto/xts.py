"""AES-256-XTS over 4 KiB pages, one tweak per page (the secured components of an SE image).

Every page has its own tweak, so one cipher context per page is unavoidable.
The public API (``Cipher(AES(k), XTS(t))``) validates its arguments in Python on
every call, which costs several times the AES work; :func:`page_cipher` uses
cryptography's own context constructor instead, after checking that it gives
the public API's bytes (ADR 0022), and falls back to the public API otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Final

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..errors import CryptoError
from ..formats.se_header import IMAGE_KEY_SIZE
from ..formats.sizes import PAGE_SIZE
from ..secret import SecretBytes

__all__ = ["BatchFunction", "PageFunction", "batch_cipher", "page_cipher"]

log = logging.getLogger(__name__)

#: ``(tweak, src_page, dst)``: one page; ``dst`` has 15 spare bytes after the page
PageFunction = Callable[[bytes, memoryview, memoryview], object]


def _public_xts(key: bytes, decrypt: bool) -> PageFunction:
    algorithm = algorithms.AES(key)

    def run(tweak: bytes, src: memoryview, dst: memoryview) -> object:
        cipher = Cipher(algorithm, modes.XTS(tweak))
        context = cipher.decryptor() if decrypt else cipher.encryptor()
        context.update_into(src, dst)
        return context.finalize()

    return run


#: tweaks of the self-test: zero, small, a carry into the upper half, all ones, and
#: random-looking ones, so that a stale, cached, truncated or byte-swapped tweak shows
_PROBE_TWEAKS: Final = (
    bytes(16),
    bytes(range(16)),
    (0x0028_0102_0304_0506 << 64 | 0xFFFF_FFFF_FFFF_F000).to_bytes(16, "big"),
    b"\xff" * 16,
    bytes.fromhex("003c9a7e51c2d4e80000000000001000"),
    bytes(range(16, 32)),
)


def _self_test(fast: PageFunction, batch: BatchFunction, public: PageFunction) -> bool:
    """Both private paths (single page and batch) give the public API's bytes for every
    probe tweak, on pages whose content differs."""
    count = len(_PROBE_TWEAKS)
    sources = [memoryview(bytes([i]) * 16 + bytes(range(256)) * 15 + bytes(range(240)))
               for i in range(count)]
    expected = []
    for tweak, src in zip(_PROBE_TWEAKS, sources, strict=True):
        out = bytearray(PAGE_SIZE + 16)
        public(tweak, src, memoryview(out))
        expected.append(bytes(out[:PAGE_SIZE]))
    if len(set(expected)) != count:  # the tweak must matter
        return False
    for tweak, src, want in zip(_PROBE_TWEAKS, sources, expected, strict=True):
        out = bytearray(PAGE_SIZE + 16)
        fast(tweak, src, memoryview(out))
        if out[:PAGE_SIZE] != want:
            return False
    outs = [bytearray(PAGE_SIZE + 16) for _ in range(count)]
    batch(list(_PROBE_TWEAKS), sources, [memoryview(o) for o in outs])
    return all(o[:PAGE_SIZE] == want for o, want in zip(outs, expected, strict=True))


def _private_constructor(decrypt: bool) -> Callable[[object, object], Any]:
    """cryptography's internal ``create_{en,de}cryption_ctx(algorithm, mode)``."""
    from cryptography.hazmat.bindings._rust import openssl as rust_openssl

    ciphers: Any = rust_openssl.ciphers
    create: Callable[[object, object], Any] = (ciphers.create_decryption_ctx if decrypt
                                               else ciphers.create_encryption_ctx)
    return create


def _fast_xts(key: bytes, decrypt: bool) -> PageFunction | None:
    """The same cipher through cryptography's context constructor, without the
    per-call Python validation of ``Cipher``/``XTS`` (about 4x less overhead per
    page).  Both the single-page and the batch function are checked against the
    public API for several tweaks before use (ADR 0022); None if unavailable or
    different."""
    try:
        create = _private_constructor(decrypt)
        algorithm = algorithms.AES(key)
        mode = modes.XTS(bytes(16))
        modes.XTS.validate_for_algorithm(mode, algorithm)

        def run(tweak: bytes, src: memoryview, dst: memoryview) -> object:
            mode._tweak = tweak
            context = create(algorithm, mode)
            context.update_into(src, dst)
            return context.finalize()

        def run_batch(tweaks: Sequence[bytes], srcs: Sequence[memoryview],
                      dsts: Sequence[memoryview]) -> None:
            # the hot loop of pvimg create: kept free of any extra call level
            for tweak, src, dst in zip(tweaks, srcs, dsts, strict=False):
                mode._tweak = tweak
                context = create(algorithm, mode)
                context.update_into(src, dst)
                context.finalize()

        if not _self_test(run, run_batch, _public_xts(key, decrypt)):
            log.info("cryptography's cipher context differs from its public API; "
                     "using the public API (slower)")
            return None
        run.batch = run_batch  # type: ignore[attr-defined]
        return run
    except Exception:  # any incompatibility: use the public API
        log.debug("fast XTS path unavailable, using the public cryptography API")
        return None


#: ``(tweaks, src_pages, dst_pages)``: the pages of one batch, each with its tweak
BatchFunction = Callable[[Sequence[bytes], Sequence[memoryview], Sequence[memoryview]], None]


def batch_cipher(key: SecretBytes, *, decrypt: bool = False) -> BatchFunction:
    """Like :func:`page_cipher`, for ``(tweaks, src_pages, dst_pages)`` of one batch."""
    page = page_cipher(key, decrypt=decrypt)
    fast: BatchFunction | None = getattr(page, "batch", None)
    if fast is not None:
        return fast

    def run_batch(tweaks: Sequence[bytes], srcs: Sequence[memoryview],
                  dsts: Sequence[memoryview]) -> None:
        for tweak, src, dst in zip(tweaks, srcs, dsts, strict=False):
            page(tweak, src, dst)

    return run_batch


def page_cipher(key: SecretBytes, *, decrypt: bool = False) -> PageFunction:
    """A function ``(tweak, src_page, dst) -> _`` running AES-256-XTS on one page.

    ``dst`` must have 15 spare bytes after the page (cryptography's rule).
    """
    raw = key.reveal()
    if len(raw) != IMAGE_KEY_SIZE:
        raise CryptoError(f"The image key must be 64 bytes, not {len(raw)}")
    if raw[:32] == raw[32:]:
        raise CryptoError("The image key is unusable for AES-XTS: both halves are equal")
    return _fast_xts(raw, decrypt) or _public_xts(raw, decrypt)
