"""Byte-exact conformance with the reference add-secret request vectors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from secexkit import crypto
from secexkit.formats.request import KEY_SLOT, parse_request
from secexkit.formats.se_header import BootHdrTags
from secexkit.guest_secret import association_secret, meta_secret
from secexkit.hostkeys import HostKey
from secexkit.request import (
    FLAG_DISABLE_DUMP,
    AddSecretRequest,
    RequestKeys,
    extension_secret_from_cck,
)
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
