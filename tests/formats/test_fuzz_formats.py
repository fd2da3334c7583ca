"""Property tests: arbitrary or mutated bytes end in our own error type, never another."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secexkit.addsecret.cuid import parse_cuid_file
from secexkit.errors import FormatError, InputError
from secexkit.formats.request import check_request_frame, parse_request
from secexkit.formats.se_header import parse_se_header, read_se_header
from tests.support.fuzz import mutations

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])



@pytest.fixture(scope="session")
def request_sample(vectors: Path) -> bytes:
    return (vectors / "exp" / "asrcb" / "assoc_derived_default_cuid_one").read_bytes()


@pytest.fixture(scope="session")
def header_sample(vectors: Path) -> bytes:
    return (vectors / "exp" / "secure_guest.hdr").read_bytes()


@SETTINGS
@given(st.data())
def test_request_parser_only_raises_format_error(request_sample: bytes, data_source: st.DataObject
) -> None:
    data = data_source.draw(st.one_of(st.binary(max_size=2048), mutations(request_sample)))
    try:
        parsed = parse_request(data)
    except FormatError:
        return
    assert parsed.aad_size + parsed.encrypted_size + 16 == len(data)
    assert check_request_frame(data) == parsed.user_data_type


@SETTINGS
@given(st.data())
def test_header_parser_only_raises_format_error(header_sample: bytes, data_source: st.DataObject
) -> None:
    data = data_source.draw(st.one_of(st.binary(max_size=1024), mutations(header_sample)))
    try:
        header = parse_se_header(data)
    except FormatError:
        return
    assert header.raw == data[: header.size]
    assert len(header.boot_tags.to_bytes()) == 0xD0


@SETTINGS
@given(st.integers(0, 0x16), st.data())
def test_header_search_in_images(header_sample: bytes, page: int, data_source: st.DataObject
) -> None:
    data = data_source.draw(st.one_of(st.binary(max_size=64), mutations(header_sample)))
    image = bytes(page * 0x1000) + data
    try:
        header = read_se_header(io.BytesIO(image))
    except FormatError:
        return
    assert header.raw[:8] == b"IBMSecEx"


@SETTINGS
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_cuid_file_parser_only_raises_input_error(data: bytes) -> None:
    try:
        cuid = parse_cuid_file(data, "fuzz")
    except InputError:
        return
    assert len(cuid) == 16


def test_samples_are_valid(request_sample: bytes, header_sample: bytes) -> None:
    # guards the mutation strategies above: they start from well-formed samples
    assert parse_request(request_sample).key_slots
    assert parse_se_header(header_sample).size == len(header_sample)
