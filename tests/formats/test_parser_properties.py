"""Property tests for the parsers of formats/ that had none: arbitrary bytes end in
FormatError (or a clean result), and what the writer packs the reader gives back."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secexkit.errors import FormatError
from secexkit.formats.keyslot import KEY_SLOT, KeySlot, parse_key_slots
from secexkit.formats.request import (
    ASRCB_BODY,
    ASRCB_MAGIC,
    ASRCB_VERSION_1,
    SECRET_HEADER,
    SecretType,
    UserDataType,
    parse_request,
    secret_header_size,
)
from secexkit.formats.retrievable import (
    MAX_PLAINTEXT_SIZE,
    PLAINTEXT_BLOCK,
    frame_plaintext,
    unframe_plaintext,
)
from secexkit.formats.se_header import (
    IMAGE_METADATA,
    IMAGE_METADATA_MAGIC,
    IMAGE_METADATA_OFFSET,
    MAX_SE_HEADER_KEY_SLOTS,
    SE_HEADER_PREFIX_SIZE,
    SE_HEADER_SECRETS_V1,
    BootHdrTags,
    check_se_header_prefix,
    pack_se_header_aad,
    parse_se_header,
    read_se_header,
    read_se_header_at,
)
from secexkit.formats.sizes import IV_SIZE, PUBLIC_KEY_SIZE, TAG_SIZE
from secexkit.formats.user_data import (
    EC_SIGNATURE_MAX,
    EC_USER_DATA,
    POLICY_REFERENCE,
    pack_ec_signature_area,
    pack_policy_reference,
    unpack_ec_signature,
)
from secexkit.formats.uvio import DEVICE_INFO, IOCTL_CB, UvIoctl, ioctl_request

SETTINGS = settings(max_examples=200, deadline=None)


def b(size: int) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=size, max_size=size)


slots = st.builds(KeySlot, b(32), b(32), b(16))


# --------------------------------------------------------------- key slots, tags


@SETTINGS
@given(st.lists(slots, min_size=0, max_size=5), st.binary(max_size=8))
def test_key_slots_round_trip(items: list[KeySlot], prefix: bytes) -> None:
    blob = prefix + b"".join(slot.to_bytes() for slot in items)
    assert parse_key_slots(blob, len(prefix), len(items)) == tuple(items)


@SETTINGS
@given(st.binary(max_size=3 * 0x50), st.integers(0, 4))
def test_key_slots_arbitrary(data: bytes, count: int) -> None:
    try:
        parsed = parse_key_slots(data, 0, count)
    except FormatError:
        assert len(data) < count * KEY_SLOT.size
        return
    assert b"".join(s.to_bytes() for s in parsed) == data[: count * KEY_SLOT.size]


@SETTINGS
@given(st.binary(max_size=0x100))
def test_boot_tags_arbitrary(data: bytes) -> None:
    try:
        tags = BootHdrTags.from_bytes(data)
    except FormatError:
        assert len(data) != 0xD0
        return
    assert tags.to_bytes() == data


# --------------------------------------------------------------- SE header


@SETTINGS
@given(st.binary(max_size=32))
def test_header_prefix_arbitrary(data: bytes) -> None:
    try:
        size = check_se_header_prefix(data)
    except FormatError:
        return
    assert data.startswith(b"IBMSecEx") and TAG_SIZE < size <= 0x2000
    assert len(data) >= SE_HEADER_PREFIX_SIZE


@SETTINGS
@given(st.lists(slots, min_size=1, max_size=4), b(IV_SIZE), st.integers(0, 2**64 - 1),
       st.integers(0, 2**64 - 1), b(PUBLIC_KEY_SIZE), b(64), b(64), b(64),
       b(SE_HEADER_SECRETS_V1.size), b(TAG_SIZE), st.integers(0, 3))
def test_se_header_writer_and_reader_agree(
    key_slots: list[KeySlot], iv: bytes, pages: int, pcf: int, cpk: bytes, pld: bytes,
    ald: bytes, tld: bytes, sealed: bytes, tag: bytes, page: int,
) -> None:
    aad = pack_se_header_aad(iv=iv, page_count=pages, pcf=pcf, customer_public_key=cpk,
                             pld=pld, ald=ald, tld=tld, key_slots=key_slots)
    blob = aad + sealed + tag
    header = parse_se_header(blob)
    assert (header.iv, header.page_count, header.pcf, header.customer_public_key) == (
        iv, pages, pcf, cpk)
    assert header.key_slots == tuple(key_slots)
    assert header.boot_tags == BootHdrTags(pld, ald, tld, tag)
    assert header.aad == aad and header.encrypted_area == sealed and header.size == len(blob)
    # the same header found in an image, at a page or through the metadata
    image = bytearray(page * 0x1000) + blob
    assert read_se_header(io.BytesIO(bytes(image))) == header
    assert read_se_header_at(io.BytesIO(bytes(image)), page * 0x1000) == header
    meta = IMAGE_METADATA.pack({"magic": IMAGE_METADATA_MAGIC, "header_offset": 0x10000,
                                "version": 1, "ipib_offset": 0})
    with_meta = bytearray(0x10000)
    with_meta[IMAGE_METADATA_OFFSET:IMAGE_METADATA_OFFSET + IMAGE_METADATA.size] = meta
    assert read_se_header(io.BytesIO(bytes(with_meta) + blob)) == header


def test_se_header_writer_refuses_too_many_slots() -> None:
    slot = KeySlot(bytes(32), bytes(32), bytes(16))
    kwargs = {"iv": bytes(12), "page_count": 0, "pcf": 0, "customer_public_key": bytes(160),
              "pld": bytes(64), "ald": bytes(64), "tld": bytes(64)}
    assert pack_se_header_aad(key_slots=[slot] * MAX_SE_HEADER_KEY_SLOTS, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(FormatError, match="96 key slots"):
        pack_se_header_aad(key_slots=[slot] * (MAX_SE_HEADER_KEY_SLOTS + 1), **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------- add-secret request


@SETTINGS
@given(st.sampled_from(list(UserDataType)), st.lists(slots, min_size=1, max_size=3),
       st.sampled_from([SecretType.META, SecretType.ASSOCIATION, SecretType.AES_256]),
       st.integers(0, 2**32 - 1), b(32), st.binary(min_size=32, max_size=96), b(TAG_SIZE),
       b(0x200), st.integers(0, 2**64 - 1))
def test_request_writer_table_and_reader_agree(
    kind: UserDataType, key_slots: list[KeySlot], secret_type: SecretType, length: int,
    secret_id: bytes, encrypted: bytes, tag: bytes, user_data: bytes, flags: int,
) -> None:
    header_size = secret_header_size(secret_type)
    secret_header = SECRET_HEADER.pack(
        {"secret_type": secret_type, "secret_length": length, "secret_id": secret_id})
    tail = b"".join(s.to_bytes() for s in key_slots) + secret_header[:header_size]
    aad_size = ASRCB_BODY.size + len(tail)
    body = ASRCB_BODY.pack({
        "magic": ASRCB_MAGIC, "user_data_type": kind, "version": ASRCB_VERSION_1,
        "length": aad_size + len(encrypted) + TAG_SIZE, "iv": bytes(range(12)),
        "key_slot_count": len(key_slots), "encrypted_size": len(encrypted), "flags": flags,
        "pld": b"\x01" * 64, "ald": b"\x02" * 64, "tld": b"\x03" * 64,
        "header_tag": b"\x04" * 16, "cuid": b"\x05" * 16, "user_data": user_data,
        "customer_public_key": b"\x06" * 160,
    })
    blob = body + tail + encrypted + tag
    parsed = parse_request(blob)
    assert parsed.user_data_type == kind and parsed.flags == flags
    assert parsed.key_slots == tuple(key_slots)
    assert (parsed.secret_type, parsed.secret_length) == (secret_type, length)
    assert parsed.secret_id == (None if secret_type == SecretType.META else secret_id)
    assert parsed.aad == body + tail and parsed.ciphertext == encrypted and parsed.tag == tag
    assert parsed.user_data == user_data and parsed.cuid == b"\x05" * 16


# --------------------------------------------------------------- user-data sub-layouts


@SETTINGS
@given(st.binary(max_size=EC_SIGNATURE_MAX))
def test_ec_signature_area_round_trip(signature: bytes) -> None:
    area = pack_ec_signature_area(signature)
    data_part = EC_USER_DATA["data"].size
    assert len(area) == EC_USER_DATA.size - data_part
    field = b"\xaa" * data_part + area
    assert unpack_ec_signature(field) == (signature, len(signature))


def test_ec_signature_area_refuses_oversize() -> None:
    with pytest.raises(ValueError, match="139"):
        pack_ec_signature_area(bytes(EC_SIGNATURE_MAX + 1))


@SETTINGS
@given(st.binary(max_size=0x220))
def test_ec_signature_reader_arbitrary(field: bytes) -> None:
    try:
        signature, size = unpack_ec_signature(field)
    except FormatError:
        assert len(field) < EC_USER_DATA.size
        return
    assert len(signature) == min(size, EC_SIGNATURE_MAX)


@SETTINGS
@given(b(32), st.binary(max_size=600))
def test_policy_reference_round_trip(digest: bytes, path: bytes) -> None:
    field = pack_policy_reference(digest, path)
    values = POLICY_REFERENCE.unpack(field)
    room = POLICY_REFERENCE["path"].size
    assert values["hash"] == digest
    assert values["path"] == path[:room].ljust(room, b"\0")


# --------------------------------------------------------------- retrievable frame


@SETTINGS
@given(st.binary(max_size=600))
def test_plaintext_frame_round_trip(data: bytes) -> None:
    framed = frame_plaintext(data)
    assert len(framed) % PLAINTEXT_BLOCK == 0
    assert unframe_plaintext(framed) == data


def test_plaintext_frame_limit() -> None:
    assert unframe_plaintext(frame_plaintext(bytes(MAX_PLAINTEXT_SIZE))) == bytes(MAX_PLAINTEXT_SIZE)
    with pytest.raises(ValueError, match=str(MAX_PLAINTEXT_SIZE)):
        frame_plaintext(bytes(MAX_PLAINTEXT_SIZE + 1))


@SETTINGS
@given(st.one_of(st.binary(max_size=80), st.binary(max_size=40).map(frame_plaintext),
                 st.binary(max_size=40).map(lambda d: len(d).to_bytes(2, "big") + d)))
def test_plaintext_unframe_arbitrary(buffer: bytes) -> None:
    data = unframe_plaintext(buffer)
    if data is not None:
        padding = len(buffer) - 2 - len(data)
        assert buffer == len(data).to_bytes(2, "big") + data + bytes(padding)
        assert 0 <= padding < PLAINTEXT_BLOCK


# --------------------------------------------------------------- ultravisor device


@SETTINGS
@given(st.binary(max_size=0x50))
def test_uvio_blocks_arbitrary(data: bytes) -> None:
    for layout in (IOCTL_CB, DEVICE_INFO):
        try:
            values = layout.unpack(data)
        except FormatError:
            assert len(data) < layout.size
            continue
        assert set(values) == {f.name for f in layout.fields}


def test_ioctl_numbers() -> None:
    # _IOWR('u', nr, 64 bytes) as the kernel header computes it
    assert [ioctl_request(nr) for nr in UvIoctl] == [0xC0407500 + nr for nr in range(6)]
