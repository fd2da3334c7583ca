"""``pvattest check`` policies: secret-store hash, host keys, user data, firmware, the result YAML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from secexkit.attest.check import (
    CheckPolicy,
    CheckResult,
    FirmwareRequest,
    HostKeyCheck,
    SecretStoreCheck,
    attestation_fields,
    check_host_key,
    check_user_data,
    firmware_request,
    host_key_document_hash,
    parse_firmware_response,
    request_tag,
    run_checks,
    secret_store_hash,
)
from secexkit.errors import FormatError, InputError
from secexkit.formats.attestation import ExchangeResponse

STORE_ORDER = [
    "assoc_derived_default_cuid_one", "assoc_simple_default_cuid_one", "null_none_default_cuid_one",
    "null_none_default_ncuid_one", "null_simple_default_cuid_one", "assoc_none_default_cuid_one",
    "null_derived_default_cuid_one", "null_none_default_cuid_seven", "null_none_dump_cuid_one",
]
LOCKED = ("d048702b4a79478b985e92e7edff453f63f2044e7d72faf12efd2eaea0cd0505"
          "559ed6665a06f6b4f9c6fcf9f2960e6cd3c3cc8cafe57ac8406e616bf9529517")
UNLOCKED = ("51ce62af1f67b9e3254b184e33b2aad31007581a39e99cdeb02998a3b67ff456"
            "c44a05ee7d68e24dfd436f2be4c1e9f5c1016468da64015e9f9fa3156e110d6c")
EMPTY_LOCKED = ("7b54b66836c1fbdd13d2441d9e1434dc62ca677fb68f5fe66a464baadecdbd00"
                "576f8d6b5ac3bcc80844b7d50b1cc6603444bbe7cfcf8fc0aa1ee3c636d9e339")
EMPTY_UNLOCKED = ("b8244d028981d693af7b456af8efa4cad63d282e19ff14942c246e50d9351d22"
                  "704a802a71c3580b6370de4ceb293c324a8423342557d4e5c38438f0e36910ee")
PVATTEST_PHKH = "596e8bf9ceb88e686c74ff007c6df5124e00156981279011f0c6c388b6e95892"


def store_requests(vectors: Path) -> list[tuple[str, bytes]]:
    paths = [vectors / "exp" / "asrcb" / name for name in STORE_ORDER]
    return [(str(p), request_tag(p.read_bytes(), str(p))) for p in paths]


def test_secret_store_known_answers(vectors: Path) -> None:
    tags = [tag for _, tag in store_requests(vectors)]
    assert secret_store_hash(tags, True).hex() == LOCKED
    assert secret_store_hash(tags, False).hex() == UNLOCKED
    assert secret_store_hash([], True).hex() == EMPTY_LOCKED
    assert secret_store_hash([], False).hex() == EMPTY_UNLOCKED


def test_request_tag_refuses_non_requests(vectors: Path) -> None:
    with pytest.raises(InputError, match=r"x\.bin: Input does not contain an add-secret request"):
        request_tag((vectors / "exp" / "arcb.bin").read_bytes(), "x.bin")


def test_host_key_document_hash(vectors: Path) -> None:
    path = vectors / "pvattest" / "host.pem.crt"
    assert host_key_document_hash(path.read_bytes(), str(path)).hex() == PVATTEST_PHKH


def test_host_key_policy() -> None:
    phkh = bytes.fromhex(PVATTEST_PHKH)
    docs = [("host.pem.crt", phkh)]
    # check_hash_neq / check_hash_mul / check_hash_eq of the reference
    assert check_host_key("image", bytes(32), docs, True).issue == (
        "No given host-key document matches the given image public host-key hash")
    assert check_host_key("image", phkh, docs * 2, True).issue == (
        "More than one host-key document matches the given image public host-key hash")
    assert check_host_key("image", phkh, docs, True).value == HostKeyCheck(True, "host.pem.crt")
    assert check_host_key("attestation", None, docs, True).issue == (
        "The Attestation result does not contain an attestation public host-key hash, "
        "but checking was enabled.")
    assert check_host_key("attestation", None, docs, False).value == HostKeyCheck()
    assert check_host_key("image", phkh, [], True).value == HostKeyCheck()


def test_user_data_policy() -> None:
    assert check_user_data(b"hello", b"hello").value == b"hello"
    message = "The Provided user data does not match the user data from the attestation response."
    assert check_user_data(b"hello", b"hellO").issue == message
    assert check_user_data(b"", None).issue == message


def response(vectors: Path, name: str) -> ExchangeResponse:
    return ExchangeResponse.from_bytes((vectors / "derived" / "pvattest" / f"{name}.bin").read_bytes())


def test_observed_host_key_and_user_data_check(vectors: Path) -> None:
    """-k keys/host.pem.crt --host-key-check att-key-hash,boot-key-hash -u hello.txt (spec §9)."""
    path = str(vectors / "keys" / "host.pem.crt")
    policy = CheckPolicy(
        host_key_documents=[(path, host_key_document_hash(Path(path).read_bytes(), path))],
        enforce_image_host_key=True, enforce_attestation_host_key=True, user_data=b"hello")
    result = run_checks(attestation_fields(response(vectors, "resp_phkh_user")), policy)
    assert result.successful
    assert result.to_yaml() == (
        "successful: true\n"
        f"image_host_key:\n  check_enforced: true\n  hash: {path}\n"
        f"attest_host_key:\n  check_enforced: true\n  hash: {path}\n"
        "user_data: '0x68656c6c6f'\n"
    )


def test_observed_secret_store_checks(vectors: Path) -> None:
    fields = attestation_fields(response(vectors, "resp_ssh"))
    requests = store_requests(vectors)
    result = run_checks(fields, CheckPolicy(secret_store_locked=True, secret_requests=requests))
    assert result.successful
    assert result.secret_store == SecretStoreCheck(tuple(n for n, _ in requests), True)
    assert result.to_yaml() == (
        "successful: true\nsecret_store:\n  add_secret_requests:\n"
        + "".join(f"  - {name}\n" for name, _ in requests)
        + "  locked: true\n"
    )
    failed = run_checks(fields, CheckPolicy(secret_store_locked=False))
    assert not failed.successful
    assert failed.to_yaml() == (
        "successful: false\nissues:\n"
        "- The calculated secret-store-hash does not match with the provided hash\n"
    )


def test_without_options_only_success(vectors: Path) -> None:
    assert run_checks(attestation_fields(response(vectors, "resp_ssh")), CheckPolicy()).to_yaml() == (
        "successful: true\n")


def test_failing_host_key_check_is_an_issue_with_a_result(vectors: Path) -> None:
    """The reference panics here (spec §9 quirk); we record the issue and still produce the result."""
    fields = attestation_fields(response(vectors, "resp_phkh_user"))
    policy = CheckPolicy(host_key_documents=[("other.crt", bytes.fromhex(PVATTEST_PHKH))],
                         enforce_image_host_key=True, user_data=b"hello")
    result = run_checks(fields, policy)
    assert result.issues == (
        "No given host-key document matches the given image public host-key hash",
        "No given host-key document matches the given attestation public host-key hash",
    )
    assert result.to_yaml().startswith("successful: false\nissues:\n- No given host-key")
    assert result.image_host_key == HostKeyCheck(True)  # shown: enforced, nothing matched
    assert "image_host_key:\n  check_enforced: true\nuser_data:" in result.to_yaml()
    assert result.attest_host_key.hidden
    assert "user_data: '0x68656c6c6f'" in result.to_yaml()


def test_missing_items_enforced(vectors: Path) -> None:
    fields = attestation_fields(response(vectors, "resp_ssh"))
    asked: list[FirmwareRequest] = []

    def ask(request: FirmwareRequest) -> tuple[int, bytes]:
        asked.append(request)
        return 200, b"{}"

    result = run_checks(fields, CheckPolicy(
        host_key_documents=[("a", bytes(32))], enforce_attestation_host_key=True, firmware=True),
        ask=ask)
    assert result.issues == (
        "The Attestation result does not contain an attestation public host-key hash, "
        "but checking was enabled.",
        "The Attestation response contains no firmware hash, but checking was enabled",
    )
    assert asked == []
    assert result.valid_firmware is False
    assert result.to_yaml().endswith("attest_host_key:\n  check_enforced: true\nvalid_firmware: false\n")


def test_firmware_request() -> None:
    request = firmware_request(b"\x2a" * 320, 2, "https://example.test/z")
    assert request.url == "https://example.test/z/hmrs/firmware/attestation/v2/verify"
    body = json.loads(request.body)
    assert body == {"version": "1.0", "payload": __import__("base64").b64encode(b"\x2a" * 320).decode()}
    assert request.body.startswith(b'{"version":"1.0","payload":"')
    assert request.headers["x-client-id"] == "X"
    assert request.headers["User-Agent"] == "s390-tools-pvattest"
    assert request.timeout == 120
    assert firmware_request(b"", 1).url == (
        "https://esupport.ibm.com/eccedge/ent/z/hmrs/firmware/attestation/v1/verify")


def test_firmware_responses() -> None:
    v1 = b'{"version": "1.0", "valid": true, "referenceId": "ref-1", "reason": "string"}'
    verdict = parse_firmware_response(200, v1, 1)
    assert verdict.valid
    assert verdict.message == "The firmware is in a valid state\n  Reason: string\n  ReferenceId: ref-1"
    verdict = parse_firmware_response(200, b'{"version": "1.0", "valid": false, "referenceId": "r"}', 1)
    assert verdict == (False, "The firmware is not in a valid state")
    v2 = b'{"version": "2.0", "valid": false, "reason": "old", "verifiedHashes": []}'
    verdict = parse_firmware_response(200, v2, 2)
    assert not verdict.valid
    assert verdict.message.startswith("The firmware is not in a valid state\n{\n")
    with pytest.raises(InputError, match="status code '500'"):
        parse_firmware_response(500, b"", 1)
    with pytest.raises(InputError, match="Unexpected response from server"):
        parse_firmware_response(200, b"<html>", 1)
    with pytest.raises(InputError, match="Unexpected response from server"):
        parse_firmware_response(200, b'{"valid": true}', 1)


def test_firmware_check_with_a_state(vectors: Path, arcb_sample: bytes) -> None:
    fields = attestation_fields(response(vectors, "resp_ssh"))
    fields = fields._replace(additional=fields.additional._replace(firmware_state=b"\x01" * 320)
                             if fields.additional else None)
    answer = b'{"version": "1.0", "valid": false, "referenceId": "R", "reason": "outdated"}'
    result = run_checks(fields, CheckPolicy(firmware=True), ask=lambda request: (200, answer))
    assert result.valid_firmware is False
    assert result.issues == ("The firmware is not in a valid state\n  Reason: outdated\n  ReferenceId: R",)
    ok = run_checks(fields, CheckPolicy(firmware=True),
                    ask=lambda request: (200, b'{"version":"1.0","valid":true,"referenceId":"R"}'))
    assert ok.successful
    assert ok.valid_firmware is True


def test_fields_need_a_well_formed_response(vectors: Path) -> None:
    resp = response(vectors, "resp_phkh_user")
    with pytest.raises(FormatError, match="contains Image PHKH, but no data was provided"):
        attestation_fields(resp._replace(additional=b"\x00" * 16))
    with pytest.raises(FormatError, match="does not contain an attestation request"):
        attestation_fields(resp._replace(arcb=b"\x11" * 16))


def test_result_defaults() -> None:
    assert CheckResult().to_yaml() == "successful: true\n"
    assert CheckResult(secret_store=SecretStoreCheck((), False)).to_yaml() == (
        "successful: true\nsecret_store:\n  add_secret_requests: []\n  locked: false\n")
