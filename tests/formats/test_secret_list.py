"""The binary secret list: parse/serialize round trips, renderings, fuzzing (spec §15)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secexkit.errors import FormatError
from secexkit.formats.secret_list import (
    LIST_ENTRY,
    LIST_HEADER,
    SecretEntry,
    SecretList,
    parse_secret_list,
)

#: the reference's test buffer (secret_list_dec / secret_list_enc)
REFERENCE = bytes.fromhex(
    "0001" "0112" "0101" "0000" "0000000000000000"
    "0001" "0002" "00000020" "0000000000000000" + "00" * 32
)


def test_layout_sizes() -> None:
    assert LIST_HEADER.size == 16 and LIST_ENTRY.size == 48


def test_reference_decode_and_encode() -> None:
    parsed = parse_secret_list(REFERENCE)
    assert parsed.total == 0x112 and parsed.next_index == 0x101
    assert parsed.entries == (SecretEntry(1, 2, 32, bytes(32)),)
    assert parsed.to_bytes() == REFERENCE
    # the rest of the ioctl buffer is ignored
    assert parse_secret_list(REFERENCE + bytes(0x1000 - len(REFERENCE))) == parsed


def test_entry_bytes() -> None:
    assert SecretEntry(1, 2, 32, bytes(32)).to_bytes() == REFERENCE[16:]


def test_human() -> None:
    name_id = b"Fancy secret ID".ljust(32, b"\0")
    hashed = hashlib.sha256(b"x").digest()
    lst = SecretList(3, (SecretEntry(0, 2, 32, name_id), SecretEntry(1, 0x11, 32, hashed),
                         SecretEntry(2, 0x16, 32, bytes(32)), SecretEntry(3, 0xAB, 1, bytes(32))))
    assert lst.human() == (
        "Total number of secrets: 3\n"
        "\n"
        "0 Association:\n"
        " Fancy secret ID | 0x46616e6379207365637265742049440000000000000000000000000000000000\n"
        "1 EC-SECP256R1-PRIVATE-KEY:\n"
        f" 0x{hashed.hex()}\n"
        "2 Invalid(0x0016):\n"
        f" 0x{'00' * 32}\n"
        "3 Unknown(0x00ab):\n"
        f" 0x{'00' * 32}\n"
    )
    assert SecretList(0).human() == "Total number of secrets: 0\n"


def test_human_long_name_id() -> None:
    entry = SecretEntry(5, 3, 16, b"the most fanciest secret ID you".ljust(32, b"\0"))
    assert entry.human().splitlines()[1] == (
        " the most fanciest secret ID you | "
        "0x746865206d6f73742066616e63696573742073656372657420494420796f7500"
    )
    # a vertical tab is not ASCII whitespace for the reference
    assert " | " not in SecretEntry(0, 3, 16, b"a\vb".ljust(32, b"\0")).human()
    # 32 printable bytes without a terminating NUL are no C string: hex only (CStr in Rust)
    assert SecretEntry(0, 3, 16, b"A" * 32).human().splitlines()[1] == " 0x" + "41" * 32


def test_yaml() -> None:
    hashed = hashlib.sha256(b"x").digest()
    lst = SecretList(0x112, (SecretEntry(1, 2, 32, hashed), SecretEntry(2, 3, 16, bytes(32))))
    assert lst.yaml() == (
        "total_num_secrets: 274\n"
        "secrets:\n"
        "- index: 1\n"
        "  stype: 2\n"
        "  len: 32\n"
        f"  id: 0x{hashed.hex()}\n"
        "- index: 2\n"
        "  stype: 3\n"
        "  len: 16\n"
        f"  id: '0x{'00' * 32}'\n"
    )
    assert SecretList(0).yaml() == "total_num_secrets: 0\nsecrets: []\n"


def test_yaml_reads_back() -> None:
    from secexkit.addsecret.name_yaml_reader import load_yaml12

    hashed = hashlib.sha256(b"y").digest()
    lst = SecretList(2, (SecretEntry(7, 4, 16, hashed), SecretEntry(9, 3, 32, bytes(32))))
    doc = load_yaml12(lst.yaml())
    assert doc["total_num_secrets"] == 2
    assert doc["secrets"][0] == {"index": 7, "stype": 4, "len": 16, "id": "0x" + hashed.hex()}
    assert doc["secrets"][1]["id"] == "0x" + "00" * 32


def test_truncated() -> None:
    with pytest.raises(FormatError, match="Cannot decode"):
        parse_secret_list(REFERENCE[:15])
    with pytest.raises(FormatError, match="claims 1 entries"):
        parse_secret_list(REFERENCE[:-1])


def test_find() -> None:
    a, b = hashlib.sha256(b"a").digest(), hashlib.sha256(b"b").digest()
    lst = SecretList.of([SecretEntry(0, 3, 16, a), SecretEntry(1, 3, 16, b),
                         SecretEntry(2, 4, 16, a)])
    assert [e.index for e in lst.find(a)] == [0, 2]
    assert lst.find(bytes(32)) == []


_entries = st.builds(
    SecretEntry,
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFFFFFF),
    st.binary(min_size=32, max_size=32),
    st.binary(min_size=8, max_size=8),
)


@given(st.integers(0, 0xFFFF), st.lists(_entries, max_size=20), st.integers(0, 0xFFFF),
       st.binary(min_size=10, max_size=10))
@settings(max_examples=200)
def test_round_trip(total: int, entries: list[SecretEntry], nxt: int, reserved: bytes) -> None:
    lst = SecretList(total, tuple(entries), nxt, reserved)
    data = lst.to_bytes()
    assert len(data) == 16 + 48 * len(entries)
    assert parse_secret_list(data) == lst
    assert parse_secret_list(data).to_bytes() == data
    text = lst.human()
    assert text.startswith(f"Total number of secrets: {total}\n")
    assert text.count("\n") == 1 + bool(entries) + 2 * len(entries)


@given(st.binary(max_size=600))
@settings(max_examples=400)
def test_fuzz_parse(data: bytes) -> None:
    try:
        lst = parse_secret_list(data)
    except FormatError:
        return
    # what parses re-serializes to the same prefix
    assert data.startswith(lst.to_bytes())
    lst.human()
    lst.yaml()


def test_every_field_at_its_spec_offset() -> None:
    """Distinct bytes in every field (spec §15.1 offsets), reserved bytes kept as returned."""
    header = bytes.fromhex("0002" "0003" "0004" "a1a2" "b1b2b3b4b5b6b7b8")
    entry1 = bytes.fromhex("0a0b" "0c0d" "01020304" + "ee" * 8) + bytes(range(32))
    entry2 = bytes.fromhex("0001" "0003" "00000010" + "00" * 8) + bytes(range(32, 64))
    parsed = parse_secret_list(header + entry1 + entry2 + b"\xff" * 48)  # 3rd not stored
    assert (parsed.total, parsed.next_index, len(parsed)) == (3, 4, 2)
    first = parsed.entries[0]
    assert (first.index, first.secret_type, first.length) == (0x0A0B, 0x0C0D, 0x01020304)
    assert first.reserved == b"\xee" * 8 and first.secret_id == bytes(range(32))
    assert parsed.entries[1].secret_id == bytes(range(32, 64))
    assert parsed.to_bytes() == header + entry1 + entry2
