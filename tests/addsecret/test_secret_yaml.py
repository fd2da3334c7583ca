"""NAME.yaml exactly as the reference writes it, and where it writes it."""

from __future__ import annotations

import hashlib
from pathlib import PurePath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secexkit.addsecret.name_yaml import secret_yaml, secret_yaml_path, yaml_scalar
from secexkit.addsecret.name_yaml_reader import parse_secret_info
from secexkit.addsecret.secrets import association_secret
from secexkit.errors import InputError

# (name, how serde_yaml 0.9 writes it) — observed with the reference, spec §11
OBSERVED = [
    ("my name", "my name"), ("é", "é"), ("yes", "yes"), ("Yes", "Yes"), ("off", "off"),
    ("NO", "NO"), ("y", "y"), ("n", "n"),
    ("true", "'true'"), ("null", "'null'"), ("~", "'~'"), ("123", "'123'"), ("0x12", "'0x12'"),
    ("1e3", "'1e3'"), (".inf", "'.inf'"), ("0o17", "'0o17'"), ("+1", "'+1'"), ("", "''"),
    ("a: b", "'a: b'"), ("#c", "'#c'"), ("x #c", "'x #c'"), ('"dq"', "'\"dq\"'"), ("'q", "'''q'"),
    ("0x00112233445566778899aabbccddeeff", "'0x00112233445566778899aabbccddeeff'"),
    ("0x" + "f" * 34, "0x" + "f" * 34),
    ("a\x1fb\xa0c\vd\x85e", '"a\\x1Fb\xa0c\\vd\\Ne"'),
    ("line one\nline two", "|-\n  line one\n  line two"),
]


@pytest.mark.parametrize(("name", "written"), OBSERVED)
def test_scalar_quoting_matches_reference(name: str, written: str) -> None:
    assert yaml_scalar(name, len("name: ")) == written


def test_association_file_is_byte_exact() -> None:
    text = secret_yaml(association_secret("my name", bytes(32)))
    assert text == (
        "!Association\nname: my name\n"
        "id: 0xe0b23c82037880dac0f4a6c722bccb648c195f02dcfda6d9ecc7e71bda2ee548\n"
    )
    assert len(text.encode()) == 98


def test_all_zero_id_is_quoted() -> None:
    text = secret_yaml(association_secret("", bytes(32), use_name=True))
    assert text.splitlines()[2] == "id: '0x" + "0" * 64 + "'"


@pytest.mark.parametrize(("name", "output", "expected"), [
    ("my name", "req", "my_name.yaml"),
    ("x.tar.gz", "sub/a.req", "sub/x.tar.yaml"),
    ("dash test", "-", "dash_test.yaml"),
    ("EXAMPLE", "out", "EXAMPLE.yaml"),
    ("my.key", "out/req.bin", "out/my.yaml"),
    ("foo.", "r", "foo.yaml"),
    (".x", "r", ".x.yaml"),
    ("a b\tc", "r", "a_b_c.yaml"),
    ("a\xa0b\x0bc\x85d\x1fe", "r", "a_b_c_d\x1fe.yaml"),  # White_Space only; U+001F stays
    ("../../etc/evil", "r", ".._..yaml"),  # never leaves the output directory
])
def test_yaml_path_rules(name: str, output: str, expected: str) -> None:
    assert secret_yaml_path(name, output) == PurePath(expected)


@pytest.mark.parametrize("name", ["", ".", ".."])
def test_names_without_a_file_name_are_refused(name: str) -> None:
    with pytest.raises(InputError, match="--stdout"):
        secret_yaml_path(name, "req")


names = st.text(st.characters(exclude_categories=["Cs"]), max_size=120)


@settings(max_examples=400, deadline=None)
@given(names)
def test_written_yaml_reads_back(name: str) -> None:
    """Whatever the name, the file is valid YAML holding that name and its ID."""
    text = secret_yaml(association_secret(name, bytes(32)))
    info = parse_secret_info(text)
    assert info.variant == "Association"
    assert info.name == name
    assert info.secret_id == hashlib.sha256(name.encode("utf-8", "surrogateescape")).digest()
