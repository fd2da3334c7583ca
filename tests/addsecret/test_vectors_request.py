"""Byte-exact conformance with the reference add-secret request vectors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from secexkit import crypto
from secexkit.addsecret.request import (
    FLAG_DISABLE_DUMP,
    AddSecretRequest,
    RequestKeys,
    extension_secret_from_cck,
)
from secexkit.addsecret.secrets import association_secret, meta_secret
from secexkit.formats.request import KEY_SLOT, parse_request
from secexkit.formats.se_header import BootHdrTags
from secexkit.hostkeys import HostKey
from secexkit.secret import SecretBytes

CASES = {
    # name: (association?, extension, flags, cuid?, slots)
    "null_none_default_cuid_one": (False, "none", 0, True, 1),
    "assoc_none_default_cuid_one": (True, "none", 0, True, 1),
    "null_simple_default_cuid_one": (False, "simple", 0, True, 1),
    "assoc_simple_default_cuid_one": (True, "simple", 0, True, 1),
    "null_derived_default_cuid_one": (False, "derived", 0, True, 1),
    "assoc_derived_default_cuid_one": (True, "derived", 0, True, 1),
    "null_none_dump_cuid_one": (False, "none", FLAG_DISABLE_DUMP, True, 1),
    "null_none_default_ncuid_one": (False, "none", 0, False, 1),
    "null_none_default_cuid_seven": (False, "none", 0, True, 7),
}


@pytest.fixture
def fixed_keys(test_customer_key: ec.EllipticCurvePrivateKey) -> RequestKeys:
    return RequestKeys(b"\x55" * 12, test_customer_key, SecretBytes(b"\x17" * 32))


@pytest.mark.parametrize("name", sorted(CASES))
def test_asrcb_vectors(
    name: str,
    vectors: Path,
    fixed_keys: RequestKeys,
    vector_host_key: HostKey,
    vector_tags: BootHdrTags,
) -> None:
    assoc, ext, flags, with_cuid, slots = CASES[name]
    secret = (
        association_secret("add_secret_request", b"\x11" * 32) if assoc else meta_secret()
    )
    extension = {
        "none": None,
        "simple": SecretBytes(b"\x17" * 32),
        "derived": extension_secret_from_cck(SecretBytes(bytes(32)), vector_tags),
    }[ext]
    request = AddSecretRequest(
        secret,
        vector_tags,
        flags=flags,
        cuid=b"\x42" * 16 if with_cuid else None,
        extension_secret=extension,
    )
    built = request.build([vector_host_key] * slots, fixed_keys)
    expected = (vectors / "exp" / "asrcb" / name).read_bytes()
    assert built == expected
    parsed = parse_request(built)
    assert len(parsed.key_slots) == slots
    assert parsed.flags == flags


def test_keyslot_vector(
    vectors: Path, test_customer_key: ec.EllipticCurvePrivateKey, vector_host_key: HostKey
) -> None:
    kek = crypto.key_slot_kek(test_customer_key, vector_host_key.public_key)
    assert kek.hex() == "753277558f3b6003419ef249ae3c4b55aad77d09d97fdd1fc88fd8f0cf22f149"
    wrapped, tag = crypto.wrap_key(kek, SecretBytes(b"\x17" * 32))
    slot = vector_host_key.hash + wrapped + tag
    assert len(slot) == KEY_SLOT.size
    assert slot == (vectors / "exp" / "keyslot.bin").read_bytes()
    other, _ = crypto.wrap_key(kek, SecretBytes(b"\x16" * 32))
    assert other != wrapped


def test_known_intermediate_values(
    vectors: Path, test_customer_key: ec.EllipticCurvePrivateKey, vector_host_key: HostKey
) -> None:
    public = crypto.encode_public_key(test_customer_key.public_key())
    assert public == (vectors / "keys" / "public_cust.bin").read_bytes()
    assert hashlib.sha256(public).hexdigest().startswith("5ee905a9be70366815a45641afae0097")
    assert vector_host_key.hash.hex() == (
        "415c25a5d19c381e619733e1c1b7fbd88bdd1c31d882d5ade04b97043c5010f0"
    )
    assert crypto.decode_public_key(public).public_numbers() == (
        test_customer_key.public_key().public_numbers()
    )
    tags = BootHdrTags(bytes(64), bytes(64), bytes(64), b"\x04" * 16)
    derived = extension_secret_from_cck(SecretBytes(bytes(32)), tags)
    assert derived.reveal().hex() == (
        "b7e28c1ed1ecd063afe5eb9b54c6685aca5c193163e82e2071c3150ed6ff6473"
    )


def test_request_tags_match_readme(vectors: Path) -> None:
    # the secret-store hash of the vectors README ties all nine tags together
    order = [
        "assoc_derived_default_cuid_one", "assoc_simple_default_cuid_one",
        "null_none_default_cuid_one", "null_none_default_ncuid_one",
        "null_simple_default_cuid_one", "assoc_none_default_cuid_one",
        "null_derived_default_cuid_one", "null_none_default_cuid_seven",
        "null_none_dump_cuid_one",
    ]
    tags = b"".join((vectors / "exp" / "asrcb" / n).read_bytes()[-16:] for n in order)
    assert hashlib.sha512(tags + b"\x01").hexdigest().startswith("d048702b4a79478b")


def test_secure_guest_header_tags(vectors: Path) -> None:
    """exp/secure_guest.hdr parses to the tags documented with the vectors."""
    import io

    from secexkit.formats.se_header import parse_se_header, read_se_header

    data = (vectors / "exp" / "secure_guest.hdr").read_bytes()
    header = parse_se_header(data)
    assert (header.size, len(header.key_slots), len(header.encrypted_area)) == (640, 1, 128)
    assert (header.page_count, header.pcf) == (64549, 0)
    assert header.iv.hex() == "4dc42a795fd9d2e4a40fcb33"
    assert header.key_slots[0].host_key_hash.hex() == (
        "782966a6298f6f5968780c3134ca4c55958d2dbca5292f59e9f5d2670befaf2f")
    tags = header.boot_tags
    assert tags.pld.hex() == (
        "be94b5eab3c1b118c757d7db7ea0f65d9b64823a8dc55bf8a8725b58072d9d42"
        "58c53e8a5da82dfb2192d91d07bc1c39b95d6321d3ba16a751a6e3e32f3e0161")
    assert tags.ald.hex() == (
        "2858c3368b2a0af0c5ea0fde7905eb15af9cd1dd737165933cdaa2b850b6a8e2"
        "f0f42c7b36dd5381096288dc092daa8a6facec2534137bc94ca80bda4fcb9328")
    assert tags.tld.hex() == (
        "4860ebcf7b9d24eb909a795356ad32c936b62165988a9ffcd66170dbc590c230"
        "10d7952fa882d1bb79558f9be0a549d8d7a94ae720e5c0760a825d479fe67af5")
    assert tags.tag.hex() == "92309d4589b9a85b427f8753171d1520"
    # the reference's own search tests: inside a 0x13000-byte image at 0x12000 it is
    # found by the page scan; shifted by one byte, with swapped magic or at offset 8 not
    image = bytearray(0x13000)
    image[0x12000:0x12000 + len(data)] = data
    assert read_se_header(io.BytesIO(bytes(image))).boot_tags == tags
    from secexkit.errors import FormatError

    for broken in (data[1:], data[1:2] + data[0:1] + data[2:], bytes(8) + data):
        with pytest.raises(FormatError):
            read_se_header(io.BytesIO(broken))
