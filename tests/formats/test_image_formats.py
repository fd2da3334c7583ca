"""SE image structures: the IPIB, the short PSW, the image metadata and finding the SE header
through it or by a scan; their parsers under fuzzing.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secexkit.errors import FormatError
from secexkit.formats.image import (
    DEFAULT_PSW_MASK,
    STAGE3A_ARGS,
    STAGE3B_ARGS,
    Ipib,
    IpibComponent,
    parse_ipib,
    parse_short_psw,
    read_tail,
    short_psw,
)
from secexkit.formats.se_header import IMAGE_METADATA, read_se_header
from secexkit.image.info import load_se_header


def test_ipib_bytes() -> None:
    ipib = Ipib(0x14000, 640, tuple(IpibComponent((0x28 + i) << 48, 0x15000 + i * 0x1000,
                                                  0x1000) for i in range(4)))
    data = ipib.to_bytes()
    assert len(data) == 232
    assert data[:8] == bytes.fromhex("000000e800000001")
    assert data[8:13] == bytes.fromhex("000000e005")
    assert data[0x6F] == 1 and int.from_bytes(data[0x74:0x78], "big") == 4
    assert int.from_bytes(data[0x78:0x80], "big") == 0x14000
    assert int.from_bytes(data[0x80:0x88], "big") == 640
    assert parse_ipib(data + b"trailing") == ipib
    with pytest.raises(FormatError):
        parse_ipib(data[:-1])


def test_short_psw_and_metadata() -> None:
    assert short_psw(DEFAULT_PSW_MASK, 0x11000) == bytes.fromhex("0008000180011000")
    assert parse_short_psw(bytes.fromhex("0008000180011000")) == (DEFAULT_PSW_MASK, 0x11000)
    for mask, address in ((0x0008000000000000, 0x11000), (DEFAULT_PSW_MASK, 0x80000000),
                          (0x8000180011000, 0x11000)):
        with pytest.raises(ValueError):
            short_psw(mask, address)
    meta = IMAGE_METADATA.pack({"magic": b"SeImgLnx", "header_offset": 0x14000, "version": 1,
                                "ipib_offset": 0x16000})
    assert meta.hex() == ("5365496d674c6e78" "0000000000014000" "00000001" "0000000000016000")


def test_header_found_via_metadata_and_scan(vectors: Path) -> None:
    raw = (vectors / "exp" / "secure_guest.hdr").read_bytes()
    image = bytearray(0x13000)
    image[0x12000:0x12000 + len(raw)] = raw
    assert load_se_header(io.BytesIO(bytes(image)), "x").tag == raw[-16:]
    image = bytearray(0x20000)
    image[0xC000:0xC000 + 28] = IMAGE_METADATA.pack({"magic": b"SeImgLnx", "header_offset":
                                                     0x17000, "version": 1, "ipib_offset": 0})
    image[0x17000:0x17000 + len(raw)] = raw
    assert read_se_header(io.BytesIO(bytes(image))).tag == raw[-16:]
    with pytest.raises(FormatError, match="No Secure Execution header found in `e`"):
        load_se_header(io.BytesIO(b""), "e")
    bad = bytearray(raw)
    bad[12:16] = (16).to_bytes(4, "big")
    with pytest.raises(FormatError, match="Invalid Secure Execution header"):
        load_se_header(io.BytesIO(bytes(bad)), "b")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_ipib(data: bytes) -> None:
    try:
        ipib = parse_ipib(data)
    except FormatError:
        return
    assert ipib.size <= len(data)
    assert parse_ipib(ipib.to_bytes()) == ipib


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 4), st.lists(st.tuples(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1),
                                             st.integers(0, 2**64 - 1)), max_size=5))
def test_fuzz_ipib_roundtrip(_: int, entries: list[tuple[int, int, int]]) -> None:
    ipib = Ipib(0x14000, 640, tuple(IpibComponent(*e) for e in entries))
    assert parse_ipib(ipib.to_bytes()) == ipib


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=100))
def test_fuzz_loader_tails(data: bytes) -> None:
    for layout in (STAGE3A_ARGS, STAGE3B_ARGS):
        try:
            values = read_tail(data, layout, "loader")
        except FormatError:
            assert len(data) <= layout.size
            continue
        assert set(values) == set(layout.by_name)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=16))
def test_fuzz_short_psw(data: bytes) -> None:
    try:
        mask, address = parse_short_psw(data)
    except FormatError:
        assert len(data) < 8
        return
    assert address < 2**31 and mask < 2**64
