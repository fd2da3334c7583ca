"""The software ultravisor through its library: the seven scenarios of ultravisor.md §8.4."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from secexkit.attest.check import secret_store_hash
from secexkit.attest.measurement import read_guest_tags, verify_response
from secexkit.attest.request import add_data_flags, create_attestation_request
from secexkit.errors import MeasurementMismatchError, UltravisorError
from secexkit.formats.attestation import ExchangeResponse, parse_additional_data
from secexkit.hostkeys import parse_host_key_document
from secexkit.uv.softuv import Machine
from tests.support.softuv import FLAG_DISABLE_DUMP, PCF_ALLOW_DUMPING, host_key, make_image


def refused(rc: int, text: str) -> pytest.RaisesExc[UltravisorError]:
    return pytest.raises(UltravisorError, match=f"^Ultravisor: '{text}' \\({rc:#06x},0x0000\\)$")


def test_scenario_1_disable_dump_meta_request_stops_dumps() -> None:
    key = host_key()
    image = make_image(key, pcf=PCF_ALLOW_DUMPING)
    guest = Machine([key]).boot(image.header)
    assert guest.dump_status().allowed
    guest.dump_init()
    guest.dump_complete()
    meta = image.request(flags=FLAG_DISABLE_DUMP)
    guest.add_secret(meta)
    assert guest.entries() == []  # meta is never listed
    status = guest.dump_status()
    assert not status.allowed and "add-secret request #1 (meta request" in status.reason
    with refused(0x0003, "invalid state"):
        guest.dump_init()
    assert guest.secret_store_hash() == hashlib.sha512(meta[-16:] + b"\x00").digest()


def test_scenario_1_header_without_dump_flag_is_never_dumpable() -> None:
    key = host_key()
    guest = Machine([key]).boot(make_image(key).header)
    assert guest.dump_status() == (False, "the SE header does not allow dumping (PCF bit 34 is clear)")
    with refused(0x0003, "invalid state"):
        guest.dump_init()


def test_scenario_2_second_extension_secret_is_refused() -> None:
    key = host_key()
    image = make_image(key)
    guest = Machine([key]).boot(image.header)
    guest.add_secret(image.association("first", ext=b"\x11" * 32))
    with refused(0x010C, "unable to add secret"):
        guest.add_secret(image.association("second", ext=b"\x22" * 32))
    guest.add_secret(image.association("third", ext=b"\x11" * 32))
    assert len(guest.entries()) == 2


def test_scenario_3_cuid_of_previous_boot_is_refused() -> None:
    key = host_key()
    image = make_image(key)
    cuids = iter([b"\x01" * 16, b"\x02" * 16])
    machine = Machine([key], cuid_factory=lambda: next(cuids))
    guest = machine.boot(image.header)
    old = guest.cuid
    guest.reboot()
    assert guest.cuid == b"\x02" * 16 != old
    with refused(0x010C, "unable to add secret"):
        guest.add_secret(image.association(cuid=old))
    guest.add_secret(image.association("zero", cuid=bytes(16)))
    guest.add_secret(image.association("current", cuid=guest.cuid))
    assert len(guest.entries()) == 2


def test_scenario_4_lock() -> None:
    key = host_key()
    image = make_image(key)
    guest = Machine([key]).boot(image.header)
    first = image.association()
    guest.add_secret(first)
    guest.lock()
    with refused(0x0102, "secret store locked"):
        guest.add_secret(image.association("later"))
    with refused(0x0102, "secret store already locked"):
        guest.lock()
    assert guest.secret_store_hash() == hashlib.sha512(first[-16:] + b"\x01").digest()
    assert guest.secret_store_hash() == secret_store_hash([first[-16:]], True)


def test_scenario_5_other_host_key_and_other_image() -> None:
    key, other = host_key(), host_key()
    image = make_image(key)
    guest = Machine([key]).boot(image.header)
    with refused(0x0108, "unable to decrypt the request"):
        guest.add_secret(image.association(hosts=[other]))
    with refused(0x010C, "unable to add secret"):
        guest.add_secret(make_image(key).association())
    assert guest.entries() == [] and guest.add_tags == []


def test_scenario_6_retrieve_association_and_missing_index() -> None:
    key = host_key()
    image = make_image(key)
    guest = Machine([key]).boot(image.header)
    with refused(0x010F, "the Secret Store is empty"):
        guest.retrieve(0)
    guest.add_secret(image.association())
    with refused(0x0111, "the secret is not retrievable"):
        guest.retrieve(0)
    with refused(0x0110, "the Secret Store does not contain a secret with the specified index"):
        guest.retrieve(1)


@pytest.fixture(scope="module")
def vector_host(vectors: Path) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    key = serialization.load_pem_private_key((vectors / "cert" / "host.key").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key, (vectors / "cert" / "host.crt").read_bytes()


def test_scenario_7_attestation_round_trip(
    vectors: Path, vector_host: tuple[ec.EllipticCurvePrivateKey, bytes]
) -> None:
    key, document = vector_host
    host = parse_host_key_document(document, "cert/host.crt").host_key
    with (vectors / "exp" / "secure_guest.hdr").open("rb") as stream:
        tags = read_guest_tags(stream)
    guest = Machine([key]).boot_from_tags(tags, cuid=b"\x5c" * 16)
    request = create_attestation_request(
        [host], add_data_flags(["phkh-img,phkh-att,secret-store-hash,firmware-state"]))
    measurement, additional, cuid = guest.attest(request.arcb, b"user data")
    response = ExchangeResponse(request.arcb, measurement, additional, b"user data", cuid)
    verified = verify_response(response, tags, request.arpk)
    assert verified.cuid == b"\x5c" * 16
    fields = parse_additional_data(additional, request.flags)
    assert fields.image_phkh == fields.attestation_phkh == host.hash
    assert fields.secret_store_hash == secret_store_hash([], False)
    tampered = bytearray(measurement)
    tampered[7] ^= 1
    with pytest.raises(MeasurementMismatchError):
        verify_response(response._replace(measurement=bytes(tampered)), tags, request.arpk)


def test_attestation_with_other_host_key_is_refused(
    vector_host: tuple[ec.EllipticCurvePrivateKey, bytes], vector_tags: object
) -> None:
    key, document = vector_host
    host = parse_host_key_document(document, "cert/host.crt").host_key
    guest = Machine([host_key()]).boot_from_tags(vector_tags)  # type: ignore[arg-type]
    request = create_attestation_request([host])
    with refused(0x010C, "Unable to decrypt attestation request control block. Probably no "
                         "valid host-key was provided"):
        guest.attest(request.arcb)
    assert Machine([key]).boot_from_tags(vector_tags).attest(request.arcb)[0]  # type: ignore[arg-type]
