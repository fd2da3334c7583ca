"""Image parsers under fuzzing: the kernel check (command-line limit or one-line InputError)
and the texts of the control flags.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=64), size=st.sampled_from([0, 3, 4, 0x10008, 0x1000E, 0x10437,
                                                          0x10438, 0x11000]),
       elf=st.booleans(), marker=st.booleans(), limit=st.integers(0, 2**64 - 1))
def test_fuzz_kernel_check(tmp_path_factory: pytest.TempPathFactory, data: bytes, size: int,
                           elf: bool, marker: bool, limit: int) -> None:
    """Any kernel file: the maximum command-line size, or our one-line InputError."""
    from secexkit.errors import InputError
    from secexkit.image.builder import check_kernel

    blob = bytearray((data * (size // max(len(data), 1) + 1))[:size] if data else bytes(size))
    if elf and size >= 4:
        blob[:4] = b"\x7fELF"
    if marker and size >= 0x1000E:
        blob[0x10008:0x1000E] = b"S390EP"
    if size >= 0x10438:
        blob[0x10430:0x10438] = limit.to_bytes(8, "big")
    path = tmp_path_factory.mktemp("k") / "kernel"
    path.write_bytes(bytes(blob))
    try:
        result = check_kernel(path)
    except InputError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        assert (blob[:4] == b"\x7fELF" or size < 0x10438
                or blob[0x10008:0x1000E] != b"S390EP")
        return
    assert blob[:4] != b"\x7fELF" and blob[0x10008:0x1000E] == b"S390EP"
    assert result == (int.from_bytes(blob[0x10430:0x10438], "big") or 896)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**64 - 1))
def test_fuzz_flag_texts(value: int) -> None:
    from secexkit.image import flags

    for names in (flags.PCF_NAMES, flags.SCF_NAMES):
        texts = flags.describe_flags(value, names)
        known = [text for bit, text in names if value & bit]
        assert texts[:len(known)] == known
        rest = texts[len(known):]
        unknown = value & ~sum(bit for bit, _ in names)
        assert rest == ([f"unknown flags 0b{unknown:064b}"] if unknown else [])
