"""End to end with a software ultravisor: create -> answer -> verify -> CUID into an add-secret request."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from secexkit.addsecret.cuid import parse_cuid_file
from secexkit.addsecret.request import AddSecretRequest
from secexkit.addsecret.secrets import meta_secret
from secexkit.attest.check import (
    CheckPolicy,
    attestation_fields,
    request_tag,
    run_checks,
    secret_store_hash,
)
from secexkit.attest.errors import MeasurementMismatchError
from secexkit.attest.measurement import verify_response
from secexkit.attest.request import add_data_flags, create_attestation_request, read_arpk
from secexkit.attest.result import verify_yaml
from secexkit.attest.ultravisor import answer_attestation
from secexkit.errors import CryptoError, InputError
from secexkit.formats.attestation import ExchangeRequest, ExchangeResponse
from secexkit.formats.request import parse_request
from secexkit.formats.se_header import BootHdrTags
from secexkit.hostkeys import HostKey

CUID = bytes(range(0xA0, 0xB0))


def test_create_perform_verify_then_pvsecret_cuid(
        host_pair: tuple[HostKey, ec.EllipticCurvePrivateKey], guest_tags: BootHdrTags,
        vectors: Path) -> None:
    public, private = host_pair
    # pvattest create -k cert/host.crt --add-data phkh-att,secret-store-hash
    request = create_attestation_request([public], add_data_flags(["phkh-att,secret-store-hash"]))
    exchange = request.exchange_bytes()
    arpk = read_arpk(request.arpk.reveal())  # what lands in the 0600 --arpk file

    # pvattest perform on the guest; the ultravisor is played with the host private key
    received = ExchangeRequest.from_bytes(exchange)
    assert received.additional_size == 32 + 64
    store = [request_tag((vectors / "exp" / "asrcb" / n).read_bytes())
             for n in ("null_none_default_cuid_one", "assoc_none_default_cuid_one")]
    answer = answer_attestation(received.arcb, private, guest_tags, CUID, b"nonce-of-the-day",
                                secret_store=secret_store_hash(store, True))
    response_file = answer.to_bytes()

    # pvattest verify on the trusted side
    result = verify_response(ExchangeResponse.from_bytes(response_file), guest_tags, arpk)
    assert result.cuid == CUID
    assert result.user_data == b"nonce-of-the-day"
    assert result.additional_fields is not None
    assert result.additional_fields.attestation_phkh == public.hash
    document = verify_yaml(result)
    assert document.startswith(f"cuid: '0x{CUID.hex()}'\n")

    # pvattest check --secret-store-locked true --secret … -k cert/host.crt
    fields = attestation_fields(ExchangeResponse.from_bytes(response_file))
    checked = run_checks(fields, CheckPolicy(
        host_key_documents=[("host.crt", public.hash)], enforce_attestation_host_key=True,
        secret_store_locked=True, secret_requests=[("a", store[0]), ("b", store[1])],
        user_data=b"nonce-of-the-day"))
    assert checked.successful, checked.issues

    # the YAML chains into pvsecret create --cuid FILE without editing
    cuid = parse_cuid_file(document.encode(), "verify.yaml")
    assert cuid == CUID
    asrcb = AddSecretRequest(meta_secret(), guest_tags, cuid=cuid).build([public])
    assert parse_request(asrcb).cuid == CUID


def test_other_guest_or_other_request_is_refused(
        host_pair: tuple[HostKey, ec.EllipticCurvePrivateKey], guest_tags: BootHdrTags) -> None:
    public, private = host_pair
    request = create_attestation_request([public])
    answer = answer_attestation(request.arcb, private, guest_tags, CUID)
    other_image = guest_tags._replace(tag=bytes(16))
    with pytest.raises(MeasurementMismatchError):
        verify_response(answer, BootHdrTags(*other_image), request.arpk)
    replayed_for = create_attestation_request([public])  # a fresh request, old answer
    with pytest.raises(CryptoError, match="GCM tag mismatch"):
        verify_response(answer, guest_tags, replayed_for.arpk)
    with pytest.raises(InputError, match="User data is too large"):
        answer_attestation(request.arcb, private, guest_tags, CUID, bytes(257))


def test_every_flag_combination(host_pair: tuple[HostKey, ec.EllipticCurvePrivateKey],
                                guest_tags: BootHdrTags) -> None:
    public, private = host_pair
    names = ["phkh-img", "phkh-att", "secret-store-hash", "firmware-state"]
    for mask in range(16):
        chosen = [n for i, n in enumerate(names) if mask >> i & 1]
        request = create_attestation_request([public], add_data_flags(chosen))
        answer = answer_attestation(request.arcb, private, guest_tags, CUID,
                                    firmware_state=b"\x5a" * 320)
        assert len(answer.additional or b"") == request.expected_additional_size
        result = verify_response(ExchangeResponse.from_bytes(answer.to_bytes()), guest_tags,
                                 request.arpk)
        keys = [k for k, _, _ in result.additional_fields.items()] if result.additional_fields else []
        assert keys == [k for k, n in zip(["image_phkh", "attestation_phkh", "secret_store_hash",
                                           "firmware_state"], names, strict=True) if n in chosen]
