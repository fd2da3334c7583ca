"""Decoding a parsed request's flags: ``RequestFlags`` / ``decode_request_flags``."""

from __future__ import annotations

from pathlib import Path

import pytest

from secexkit import (
    FLAG_DISABLE_DUMP,
    AddSecretRequest,
    RequestFlags,
    decode_request_flags,
    meta_secret,
    parse_host_key_document,
    parse_request,
    read_se_header,
)

DEMO = Path(__file__).resolve().parents[2] / "demo"


def test_decode() -> None:
    assert decode_request_flags(0) == RequestFlags()
    assert decode_request_flags(FLAG_DISABLE_DUMP) == RequestFlags(disable_dump=True)
    assert decode_request_flags(FLAG_DISABLE_DUMP).names == ("disable-dump",)
    odd = RequestFlags.from_int(FLAG_DISABLE_DUMP | 1)
    assert odd.disable_dump and odd.unknown == 1 and odd.to_int() == FLAG_DISABLE_DUMP | 1
    with pytest.raises(ValueError):
        RequestFlags.from_int(1 << 64)


def test_a_built_request_decodes_and_flags_are_accepted_typed() -> None:
    with open(DEMO / "se.hdr", "rb") as stream:
        tags = read_se_header(stream).boot_tags
    key = parse_host_key_document((DEMO / "host-z16.crt").read_bytes(), "demo").host_key
    raw = AddSecretRequest(meta_secret(), tags, flags=RequestFlags(disable_dump=True)).build([key])
    assert decode_request_flags(parse_request(raw).flags) == RequestFlags(disable_dump=True)
