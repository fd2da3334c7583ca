"""pvimg info rendering: text and JSON of the reference header, decrypted details, the JSON
schema, flag texts, and arbitrary headers shown without an internal error.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from secexkit.errors import CryptoError, FormatError
from secexkit.formats.se_header import parse_se_header
from secexkit.hostkeys import HostKey
from secexkit.image import flags
from secexkit.image.header import decrypt_se_header
from secexkit.image.info import header_document, json_text, load_se_header, schema_text, text
from secexkit.secret import SecretBytes
from tests.support.se_header import builder_test_header

SECURE_GUEST = {
    "iv": "4dc42a795fd9d2e4a40fcb33",
    "pld": "be94b5eab3c1b118c757d7db7ea0f65d9b64823a8dc55bf8a8725b58072d9d42"
           "58c53e8a5da82dfb2192d91d07bc1c39b95d6321d3ba16a751a6e3e32f3e0161",
    "ald": "2858c3368b2a0af0c5ea0fde7905eb15af9cd1dd737165933cdaa2b850b6a8e2"
           "f0f42c7b36dd5381096288dc092daa8a6facec2534137bc94ca80bda4fcb9328",
    "tld": "4860ebcf7b9d24eb909a795356ad32c936b62165988a9ffcd66170dbc590c230"
           "10d7952fa882d1bb79558f9be0a549d8d7a94ae720e5c0760a825d479fe67af5",
    "tag": "92309d4589b9a85b427f8753171d1520",
    "phkh": "782966a6298f6f5968780c3134ca4c55958d2dbca5292f59e9f5d2670befaf2f",
}


def _secure_guest(vectors: Path):  # type: ignore[no-untyped-def]
    path = vectors / "exp" / "secure_guest.hdr"
    with open(path, "rb") as stream:
        return load_se_header(stream, str(path))


def test_secure_guest_text(vectors: Path) -> None:
    header = _secure_guest(vectors)
    assert text(header, verified=False) == (
        "Secure Execution header\n"
        "  version: 1\n"
        "  key slots:\n"
        f"   - target key hash: {SECURE_GUEST['phkh']}\n"
        "  plaintext control flags:\n"
        "  \n"
    )
    full = text(header, verified=False, full=True).splitlines()
    assert full[:5] == ["Secure Execution header", "  version: 1", "  size: 640 bytes",
                        "  number of key slots: 1", "  key slots:"]
    assert f"  components content hash: {SECURE_GUEST['pld']}" in full
    assert f"  components address hash: {SECURE_GUEST['ald']}" in full
    assert f"  components tweak hash: {SECURE_GUEST['tld']}" in full
    assert "  number of component pages: 64549" in full
    assert full[-1] == f"  GCM tag: {SECURE_GUEST['tag']}"
    assert full[-2].startswith("  encrypted data: ")
    assert base64.b64decode(full[-2].split(": ")[1]) == header.encrypted_area
    coordinate = [line for line in full if line.startswith("    coordinate: ")]
    assert base64.b64decode(coordinate[0].split(": ")[1]) == header.customer_public_key


def test_secure_guest_json(vectors: Path) -> None:
    header = _secure_guest(vectors)
    document = json.loads(json_text(header_document(header, verified=False), now=0))
    assert document["meta"]["api_level"] == 1
    assert document["meta"]["time"] == "1970-01-01 00:00:00+0000"
    data = document["data"]
    assert list(data) == ["kind", "verified", "magic_hex", "version", "sehs", "iv_hex", "nks",
                          "sea", "nep", "pcf_hex", "cust_pub_key", "pld_hex", "ald_hex",
                          "tld_hex", "keyslots", "cipher_data_b64", "tag_hex"]
    assert data["kind"] == "se_hdr" and data["verified"] is False
    assert data["magic_hex"] == "49424d5365634578" and data["version"] == "V1"
    assert (data["sehs"], data["nks"], data["sea"], data["nep"]) == (640, 1, 128, 64549)
    assert data["pcf_hex"] == "0000000000000000" and data["iv_hex"] == SECURE_GUEST["iv"]
    for name in ("pld", "ald", "tld", "tag"):
        assert data[f"{name}_hex"] == SECURE_GUEST[name]
    assert data["keyslots"][0]["phkh_hex"] == SECURE_GUEST["phkh"]
    assert len(data["cust_pub_key"]["coord_hex"]) == 320
    minified = json_text(header_document(header, verified=False), minify=True)
    assert "\n" not in minified.strip() and minified.endswith("\n")
    assert '": ' not in minified and ', "' not in minified
    pretty = json_text(header_document(header, verified=False))
    assert pretty.startswith('{\n  "meta": {\n    "api_level": 1,')


def test_decrypted_text_and_json(vector_host_key: HostKey,
                                 test_customer_key: ec.EllipticCurvePrivateKey) -> None:
    header = parse_se_header(builder_test_header(test_customer_key, vector_host_key))
    secrets = decrypt_se_header(header, SecretBytes(b"\x32" * 32))
    lines = text(header, verified=True, secrets=secrets, full=True).splitlines()
    assert lines[0] == ("decrypted, integrity and authenticity verified Secure Execution "
                        "header:")
    assert "  secret control flags:" in lines and lines[lines.index("  secret control flags:")
                                                      + 1] == "  "
    assert "    address: 0x000000000004d2" in lines and "    mask: 0x0000000000162e" in lines
    assert f"  CCK: {'31' * 32}" in lines and f"  XTS key: {'03' * 64}" in lines
    short = text(header, verified=True)
    assert short.startswith("integrity and authenticity verified Secure Execution header\n")
    data = header_document(header, verified=True, secrets=secrets)
    assert data["kind"] == "decrypted_se_hdr"
    assert list(data)[-5:] == ["cck_hex", "xts_hex", "psw", "scf_hex", "tag_hex"]
    assert data["psw"] == {"mask_hex": "000000000000162e", "addr_hex": "00000000000004d2"}


def test_schema_matches_documents(vectors: Path, vector_host_key: HostKey,
                                  test_customer_key: ec.EllipticCurvePrivateKey) -> None:
    schema = json.loads(schema_text())
    data_schema = schema["properties"]["data"]
    header = parse_se_header(builder_test_header(test_customer_key, vector_host_key))
    secrets = decrypt_se_header(header, SecretBytes(b"\x32" * 32))
    for document in (header_document(header, verified=False),
                     header_document(header, verified=True),
                     header_document(header, verified=True, secrets=secrets)):
        assert set(data_schema["required"]) <= set(document)
        assert set(document) <= set(data_schema["properties"])
    assert set(schema["properties"]["meta"]["required"]) == set(json.loads(
        json_text(header_document(header, verified=False)))["meta"])


def test_flag_texts() -> None:
    assert flags.describe_flags(0xE0, flags.PCF_NAMES) == [
        "DEA and TDEA PCKMO support", "AES PCKMO support", "ECC PCKMO support"]
    assert flags.describe_flags(0x8000000000000001, flags.PCF_NAMES) == [
        "unknown flags 0b" + "1" + "0" * 62 + "1"]
    assert flags.describe_flags(0xC000000000000001, flags.SCF_NAMES) == [
        "CCK extension secret enforced", "unknown flags 0b1" + "0" * 62 + "1"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=0x400), st.sampled_from([0, 8, 12, 16, 0x20, 0x28]), st.booleans())
def test_fuzz_header_reader(data: bytes, patch_at: int, consistent: bool) -> None:
    # bias towards the magic so the deeper checks are reached
    blob = bytearray(b"IBMSecEx\x00\x00\x01\x00" + data)
    if len(blob) > patch_at + 4 and patch_at:
        blob[patch_at:patch_at + 4] = (0x280).to_bytes(4, "big")
    if consistent and len(blob) >= 0x30:  # one key slot, v1 sizes: the parser accepts it
        blob[12:16] = (0x280).to_bytes(4, "big")
        blob[0x20:0x30] = (1).to_bytes(8, "big") + (0x80).to_bytes(8, "big")
    for candidate in (bytes(blob), data):
        try:
            header = load_se_header(io.BytesIO(candidate), "fuzz")
        except FormatError:
            continue
        # what was accepted is a consistent v1 header, shown with its own values
        size = int.from_bytes(candidate[12:16], "big")
        assert candidate[:8] == b"IBMSecEx" and 16 < size <= len(candidate)
        shown = text(header, verified=False, full=True)
        assert f"  size: {size} bytes" in shown.splitlines()
        document = json.loads(json_text(header_document(header, verified=False)))["data"]
        assert document["sehs"] == size and document["tag_hex"] == candidate[size - 16:size].hex()
        with contextlib.suppress(CryptoError):
            decrypt_se_header(header, SecretBytes(bytes(32)))
