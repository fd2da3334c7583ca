"""pvsecret retrieve: lookup by yaml/hex/name/idx, plaintext unpadding, PEM (spec §14, §16.5)."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secexkit.addsecret.name_yaml import secret_yaml
from secexkit.addsecret.name_yaml_reader import load_yaml12, parse_secret_info
from secexkit.addsecret.retrievable import plaintext_payload, retrievable_secret
from secexkit.addsecret.secrets import association_secret
from secexkit.errors import FormatError, InputError, SecexError
from secexkit.formats.request import SecretType
from secexkit.formats.secret_list import SecretEntry, SecretList
from secexkit.secret import SecretBytes
from secexkit.uv.device import UvDevice
from secexkit.uv.retrieve import (
    RetrievedSecret,
    SecretSelector,
    find_entry,
    interpret_retrieved,
    retrieve,
    selector_from_input,
    to_pem,
)
from tests.support.fake_uv import FakeUltravisor

# --- PEM and plaintext (the reference's retr_secret.rs tests) ------------------------


def _plain(raw: bytes) -> bytes:
    return interpret_retrieved(SecretType.PLAINTEXT, SecretBytes(raw)).data.reveal()


def test_plaintext_unpadding() -> None:
    secret = bytes([0, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 0, 0, 0])
    assert _plain(secret) == secret[2:12]
    assert _plain(b"\x20" * 32) == b"\x20" * 32  # length too large: unchanged
    assert _plain(bytes([0, 10, *range(1, 11), 1, 0, 0, 0])) == bytes(
        [0, 10, *range(1, 11), 1, 0, 0, 0])  # non-zero padding: unchanged
    too_much = bytes([0, 10, *range(1, 11)]) + bytes(20)
    assert _plain(too_much) == too_much  # 16 or more padding bytes: unchanged
    assert _plain(bytes(32)) == bytes(32)  # length 0 with 30 padding bytes: unchanged
    assert _plain(bytes(16)) == b""  # empty secret
    assert _plain(b"\x01") == b"\x01"  # shorter than the length field


@given(st.binary(max_size=8190))
@settings(max_examples=100)
def test_plaintext_round_trip(data: bytes) -> None:
    assert _plain(plaintext_payload(data)) == data


def test_plain_text_pem() -> None:
    pem = RetrievedSecret(SecretType.PLAINTEXT, SecretBytes(b"\x11" * 48)).to_pem()
    assert pem == (
        b"-----BEGIN PLAINTEXT SECRET-----\n"
        b"ERERERERERERERERERERERERERERERERERERERERERERERERERERERERERERERER\n"
        b"-----END PLAINTEXT SECRET-----\n"
    )


def test_protected_key_pem() -> None:
    pem = RetrievedSecret(SecretType.AES_128, SecretBytes(b"\x11" * 48)).to_pem()
    assert pem == (
        b"-----BEGIN IBM PROTECTED KEY-----\n"
        b"kind: AES-128-KEY\n\n"
        b"ERERERERERERERERERERERERERERERERERERERERERERERERERERERERERERERER\n"
        b"-----END IBM PROTECTED KEY-----\n"
    )


def test_pem_line_wrapping() -> None:
    pem = to_pem("X", bytes(100)).decode()
    lines = pem.splitlines()
    assert [len(x) for x in lines[1:-1]] == [64, 64, 8]  # 136 base64 characters
    body = "".join(lines[1:-1])
    import base64

    assert base64.b64decode(body) == bytes(100)


def test_unretrievable_type_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        secret = interpret_retrieved(SecretType.ASSOCIATION, SecretBytes(b"k" * 32))
    assert "Retrieved an unretrievable Secret!" in caplog.text
    assert b"kind: Association" in secret.to_pem()


# --- NAME.yaml reader -------------------------------------------------------------


def test_reader_reads_what_the_writer_writes() -> None:
    for name in ("my name", "yes", "true", "123", "0x12", "a: b", "'q", "é", "line\nbreak",
                 "a\x1fb c\vd\x85e", ""):
        for secret in (association_secret(name, bytes(32)),
                       retrievable_secret(name, "aes", bytes(16))):
            info = parse_secret_info(secret_yaml(secret))
            assert info.name == name, (name, secret_yaml(secret))
            assert info.secret_id == secret.secret_id


def test_reader_exact_reference_files() -> None:
    info = parse_secret_info(
        "!Association\nname: my name\n"
        "id: 0xe0b23c82037880dac0f4a6c722bccb648c195f02dcfda6d9ecc7e71bda2ee548\n")
    assert info.variant == "Association" and info.name == "my name" and not info.retrievable
    assert info.secret_id == hashlib.sha256(b"my name").digest()
    info = parse_secret_info(
        "!Retrievable\nkind: 21 (EC-ED448-PRIVATE-KEY)\nname: yes\nid: '0x" + "00" * 32 + "'\n")
    assert info.retrievable and info.secret_type == 21 and info.name == "yes"
    assert info.secret_id == bytes(32)
    assert info.display == "EC-ED448-PRIVATE-KEY"


def test_yaml12_scalars() -> None:
    doc = load_yaml12("a: yes\nb: 017\nc: 0x10\nd: 0x" + "f" * 64 + "\ne: True\nf: ~\ng: 0o17\n"
                      "h: off\ni: 1e3\n")
    assert doc == {"a": "yes", "b": 17, "c": 16, "d": "0x" + "f" * 64, "e": True, "f": None,
                   "g": 15, "h": "off", "i": 1000.0}


@pytest.mark.parametrize(
    "text",
    [
        "!Retrievable\nkind: 2 (Association)\nname: x\nid: 0x" + "00" * 32,
        "!Retrievable\nkind: 3\nname: x\nid: 0x" + "00" * 32,
        "!Retrievable\nname: x\nid: 0x" + "00" * 32,
        "!Retrievable\nkind: 3 (PLAINTEXT)\nname: x\nid: 0x" + "00" * 31,
        "!Association\nname: x\nid: 0X" + "00" * 32,
        "!Association\nname: x\nid: 0x" + "zz" * 32,
        # 64 characters that bytes.fromhex accepts but that are not 64 hex digits
        "!Association\nname: x\nid: '0x" + "00" * 30 + "    '",
        "!Association\nname: x\nid: '0x" + "0 0 " * 16 + "'",
        "!Association [1, 2]",
        "just a string",
        "[1, 2]",
        "!!python/object:os.system {}",
        "{a: [",
    ],
)
def test_reader_rejects(text: str) -> None:
    with pytest.raises(FormatError):
        parse_secret_info(text)


_TAGGED = st.builds(
    lambda tag, kind, name, sid: f"{tag}\nkind: {kind}\nname: {name}\nid: {sid}\n",
    st.sampled_from(["!Retrievable", "!Association", "!UpdateCck", "--- !Retrievable"]),
    st.text(max_size=20), st.text(max_size=20),
    st.one_of(st.text(max_size=70), st.binary(min_size=32, max_size=32).map(
        lambda b: "0x" + b.hex())),
)


@given(st.text(max_size=200) | st.binary(max_size=200) | _TAGGED)
@settings(max_examples=300)
def test_fuzz_reader(data: str | bytes) -> None:
    with contextlib.suppress(FormatError):
        info = parse_secret_info(data)
        assert info.variant in ("Association", "Retrievable", "UpdateCck", "Null")


def test_deep_nesting_is_a_format_error() -> None:
    with pytest.raises(FormatError):
        parse_secret_info("[" * 5000)


# --- selectors ----------------------------------------------------------------------


NAMED = hashlib.sha256(b"my secret").digest()


def test_selectors() -> None:
    yaml_text = secret_yaml(retrievable_secret("my secret", "plain", b"x")).encode()
    assert selector_from_input("yaml", "f.yaml", yaml_text) == SecretSelector(NAMED)
    assert selector_from_input("hex", "0x" + NAMED.hex()) == SecretSelector(NAMED)
    assert selector_from_input("hex", "'0x" + NAMED.hex().upper() + "'") == SecretSelector(NAMED)
    assert selector_from_input("name", "short") == SecretSelector(b"short".ljust(32, b"\0"),
                                                                 name="short")
    assert selector_from_input("idx", "17") == SecretSelector(index=17)
    assert str(SecretSelector(index=3)) == "index 3"
    assert str(SecretSelector(b"ab".ljust(32, b"\0"))).startswith("ID ab | 0x6162")


@pytest.mark.parametrize(
    ("inform", "value", "message"),
    [
        ("hex", NAMED.hex(), "Cannot parse SecretId information"),
        ("hex", "0x" + NAMED.hex()[:-2], "Cannot parse SecretId information"),
        ("hex", "[1]", "Cannot parse SecretId information"),
        ("hex", "0x" + "g" * 64, "Cannot parse SecretId information"),
        ("idx", "-1", "Invalid index value"),
        ("idx", "65536", "Invalid index value"),
        ("idx", "one", "Invalid index value"),
    ],
)
def test_selector_errors(inform: str, value: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        selector_from_input(inform, value)


def test_yaml_selector_not_retrievable() -> None:
    text = secret_yaml(association_secret("a", bytes(32))).encode()
    with pytest.raises(InputError) as err:
        selector_from_input("yaml", "a.yaml", text)
    assert str(err.value) == "'a.yaml' contains a Association-secret, which is not retrievable"


# --- lookup -------------------------------------------------------------------------


def _list() -> SecretList:
    return SecretList.of([
        SecretEntry(0, 3, 16, b"short".ljust(32, b"\0")),
        SecretEntry(1, 4, 16, NAMED),
        SecretEntry(2, 6, 32, hashlib.sha256(b"hashed name").digest()),
        SecretEntry(5, 4, 16, NAMED),
    ])


def test_find_by_id_and_index(caplog: pytest.LogCaptureFixture) -> None:
    lst = _list()
    assert find_entry(lst, SecretSelector(b"short".ljust(32, b"\0"))).index == 0
    assert find_entry(lst, SecretSelector(index=2)).index == 2
    with caplog.at_level(logging.WARNING):
        assert find_entry(lst, SecretSelector(NAMED)).index == 1
    assert "multiple secrets in the secret store with that id. Indices: 1, 5" in caplog.text


def test_find_name_falls_back_to_hash() -> None:
    # --inform name for a secret created without --use-name: hashed and found
    selector = selector_from_input("name", "hashed name")
    assert find_entry(_list(), selector).index == 2


def test_not_found_messages() -> None:
    with pytest.raises(InputError) as err:
        find_entry(_list(), SecretSelector(index=9))
    assert str(err.value) == "The UV secret-store has no secret with the index 9"
    with pytest.raises(InputError) as err:
        find_entry(_list(), selector_from_input("name", "nope"))
    assert str(err.value) == (
        "The UV secret-store has no secret with the ID nope | 0x6e6f7065" + "00" * 28)


# --- against the fake device -------------------------------------------------------


@pytest.fixture
def device(tmp_path: Path) -> Iterator[tuple[UvDevice, FakeUltravisor]]:
    fake = FakeUltravisor()
    path = tmp_path / "uv"
    path.write_bytes(b"")
    with UvDevice.open(str(path), ioctl=fake.ioctl, machine="s390x") as dev:
        yield dev, fake


def test_retrieve_from_device(device: tuple[UvDevice, FakeUltravisor]) -> None:
    dev, fake = device
    fake.store(SecretType.PLAINTEXT, NAMED, plaintext_payload(b"hello"))
    fake.store(SecretType.HMAC_SHA_256, b"k".ljust(32, b"\0"), b"\x05" * 64)
    plain = retrieve(dev, selector_from_input("name", "my secret"))
    assert plain.data.reveal() == b"hello"
    assert plain.to_pem().startswith(b"-----BEGIN PLAINTEXT SECRET-----\n")
    key = retrieve(dev, SecretSelector(index=1))
    assert key.data.reveal() == b"\x05" * 64
    assert b"kind: HMAC-SHA-256-KEY\n\n" in key.to_pem()
    with pytest.raises(SecexError, match="no secret with the index 7"):
        retrieve(dev, SecretSelector(index=7))


@given(st.sampled_from(["hex", "name", "idx"]), st.text(max_size=80))
@settings(max_examples=300)
def test_fuzz_selectors(inform: str, value: str) -> None:
    try:
        selector = selector_from_input(inform, value)
    except InputError:
        return
    assert (selector.secret_id is None) != (selector.index is None)
    if selector.secret_id is not None:
        assert len(selector.secret_id) == 32


def test_no_rehash_for_an_id_without_nul(device: tuple[UvDevice, FakeUltravisor]) -> None:
    """The hashed-name fallback only applies to IDs that are C strings (as the reference)."""
    dev, fake = device
    text = b"B" * 32
    fake.store(4, hashlib.sha256(text).digest(), b"\x01" * 16)
    with pytest.raises(SecexError, match="no secret with the ID 0x4242"):
        retrieve(dev, SecretSelector(secret_id=text))
    fake.store(4, hashlib.sha256(b"B" * 31).digest(), b"\x02" * 16)
    assert retrieve(dev, SecretSelector(secret_id=b"B" * 31 + b"\0")).data.reveal() == b"\x02" * 16


@pytest.mark.parametrize("value", ["0x" + "00" * 30 + "    ", "0x" + " 00" * 21 + "0",
                                   "0x" + "\u0663" * 64])
def test_hex_ids_need_64_hex_digits(value: str) -> None:
    with pytest.raises(InputError, match="not a hex string"):
        selector_from_input("hex", f"'{value}'")


def test_long_names_are_found_hashed(device: tuple[UvDevice, FakeUltravisor]) -> None:
    """A hashed secret with a name over 31 bytes: the reference cannot find it by name."""
    dev, fake = device
    name = "a name that is longer than thirty-one bytes"
    fake.store(4, hashlib.sha256(name.encode()).digest(), b"\x03" * 16)
    assert retrieve(dev, selector_from_input("name", name)).data.reveal() == b"\x03" * 16
    # the reference's candidates come first: the padded prefix, then its hash
    fake.store(4, hashlib.sha256(name.encode()[:31]).digest(), b"\x04" * 16)
    assert retrieve(dev, selector_from_input("name", name)).data.reveal() == b"\x04" * 16
