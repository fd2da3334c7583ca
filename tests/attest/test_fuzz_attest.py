"""Property tests: arbitrary or mutated attestation inputs end in our own error types only."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secexkit.attest.check import attestation_fields
from secexkit.attest.measurement import verify_response
from secexkit.attest.request import open_arcb, open_arcb_with_host_key
from secexkit.errors import SecexError
from secexkit.formats.attestation import (
    ExchangeRequest,
    ExchangeResponse,
    parse_additional_data,
    parse_exchange,
)
from secexkit.formats.se_header import BootHdrTags
from secexkit.hostkeys import HostKey
from secexkit.secret import SecretBytes
from tests.support.attest import ARPK
from tests.support.fuzz import mutations

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="session")
def response_sample(vectors: Path) -> bytes:
    return (vectors / "derived" / "pvattest" / "resp_phkh_user.bin").read_bytes()


@SETTINGS
@given(st.data())
def test_exchange_readers(response_sample: bytes, data_source: st.DataObject) -> None:
    data = data_source.draw(st.one_of(st.binary(max_size=1024), mutations(response_sample)))
    for reader in (parse_exchange, ExchangeRequest.from_bytes, ExchangeResponse.from_bytes):
        try:
            parsed = reader(data)
        except SecexError:
            continue
        # whatever reads also writes, and reads back the same
        assert reader(parsed.to_bytes()) == parsed


@SETTINGS
@given(st.data())
def test_response_parse_and_verify(response_sample: bytes, guest_tags: BootHdrTags,
                                   data_source: st.DataObject) -> None:
    data = data_source.draw(mutations(response_sample))
    try:
        response = ExchangeResponse.from_bytes(data)
        attestation_fields(response)
        verify_response(response, guest_tags, SecretBytes(ARPK))
    except SecexError:
        return
    # what verifies is the original response (at most framing bytes differ)
    assert response == ExchangeResponse.from_bytes(response_sample)


@SETTINGS
@given(st.data())
def test_arcb_openers(arcb_sample: bytes, host_pair: tuple[HostKey, ec.EllipticCurvePrivateKey],
                      data_source: st.DataObject) -> None:
    data = data_source.draw(st.one_of(st.binary(max_size=600), mutations(arcb_sample)))
    try:
        open_arcb(data, SecretBytes(ARPK))
    except SecexError:
        pass
    else:
        assert data == arcb_sample
    try:
        open_arcb_with_host_key(data, host_pair[1])
    except SecexError:
        pass
    else:  # pragma: no cover - the sample is not for this host key
        raise AssertionError("opened a request without a slot for the key")


@SETTINGS
@given(st.binary(max_size=600), st.integers(0, (1 << 64) - 1))
def test_additional_data_parser(data: bytes, flags: int) -> None:
    try:
        parsed = parse_additional_data(data, flags)
    except SecexError:
        return
    assert b"".join(value for _, _, value in parsed.items()) == data
