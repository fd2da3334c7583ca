"""(No tests here.) Synthetic SE-image inputs and an independent reader of the images we build.

The reader here uses only the spec's offsets, ``struct``, ``hashlib`` and
pyca/cryptography directly — not the secexkit code under test.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

STAGE3A_SIZE = 11320
STAGE3B_SIZE = 0x1800
PAGE = 4096


def make_kernel(path: Path, *, size: int = 0x12000, cmdline_max: int = 0, elf: bool = False,
                marker: bool = True) -> Path:
    data = bytearray(os.urandom(size))
    data[:4] = b"\x7fELF" if elf else b"\x00\x01\x02\x03"
    if size >= 0x10438:
        data[0x10430:0x10438] = cmdline_max.to_bytes(8, "big")
    if marker and size >= 0x1000E:
        data[0x10008:0x1000E] = b"S390EP"
    path.write_bytes(bytes(data))
    return path


def make_loaders(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "stage3a.bin").write_bytes(bytes([0xA5]) * STAGE3A_SIZE)
    (directory / "stage3b_reloc.bin").write_bytes(bytes([0x5A]) * STAGE3B_SIZE)
    return directory


@dataclass
class ReadImage:
    raw: bytes
    header_offset: int
    ipib_offset: int
    header: bytes
    ipib_components: list[tuple[int, int, int]]
    ipib_header_address: int
    ipib_header_size: int


def read_image(path: Path) -> ReadImage:
    raw = path.read_bytes()
    magic, hdr_off, version, ipib_off = struct.unpack_from(">8sQIQ", raw, 0xC000)
    assert magic == b"SeImgLnx" and version == 1
    sehs = struct.unpack_from(">I", raw, hdr_off + 12)[0]
    header = raw[hdr_off:hdr_off + sehs]
    assert header[:8] == b"IBMSecEx"
    total, _flags, ipib_version = struct.unpack_from(">IB2xB", raw, ipib_off)
    assert ipib_version == 1 and total == len(raw) - ipib_off
    pv_len, pbt = struct.unpack_from(">IB", raw, ipib_off + 8)
    assert pbt == 5 and pv_len == total - 8
    count, hdr_addr, hdr_size = struct.unpack_from(">IQQ", raw, ipib_off + 0x74)
    comps = [struct.unpack_from(">QQQ", raw, ipib_off + 0x88 + 24 * i) for i in range(count)]
    return ReadImage(raw, hdr_off, ipib_off, header, comps, hdr_addr, hdr_size)


def header_fields(header: bytes) -> dict[str, object]:
    nks, sea, nep, pcf = struct.unpack_from(">QQQQ", header, 0x20)
    return {
        "iv": header[0x10:0x1C], "nks": nks, "sea": sea, "nep": nep, "pcf": pcf,
        "cust": header[0x40:0xE0], "pld": header[0xE0:0x120], "ald": header[0x120:0x160],
        "tld": header[0x160:0x1A0],
        "slots": [header[0x1A0 + 80 * i:0x1A0 + 80 * (i + 1)] for i in range(nks)],
        "tag": header[-16:],
    }


def decrypt_header(header: bytes, protection_key: bytes) -> dict[str, object]:
    f = header_fields(header)
    aad_end = 0x1A0 + 80 * int(f["nks"])  # type: ignore[call-overload]
    plain = AESGCM(protection_key).decrypt(header[0x10:0x1C], header[aad_end:], header[:aad_end])
    cck, xts, mask, addr, scf, noi = struct.unpack(">32s64sQQQI4x", plain)
    return {"cck": cck, "xts": xts, "psw_mask": mask, "psw_addr": addr, "scf": scf, "noi": noi}


def protection_key_from_slot(header: bytes, host_key: ec.EllipticCurvePrivateKey) -> bytes:
    f = header_fields(header)
    cust = f["cust"]
    assert isinstance(cust, bytes)
    public = ec.EllipticCurvePublicNumbers(int.from_bytes(cust[:80], "big"),
                                           int.from_bytes(cust[80:], "big"),
                                           ec.SECP521R1()).public_key()
    numbers = host_key.public_key().public_numbers()
    phkh = hashlib.sha256(numbers.x.to_bytes(80, "big") + numbers.y.to_bytes(80, "big")).digest()
    for slot in f["slots"]:  # type: ignore[attr-defined]
        if slot[:32] == phkh:
            kek = hashlib.sha256(host_key.exchange(ec.ECDH(), public) + b"\0\0\0\1").digest()
            return AESGCM(kek).decrypt(bytes(12), slot[32:80], None)
    raise AssertionError("no key slot for this host key")


def recompute_digests(raw: bytes, comps: list[tuple[int, int, int]],
                      tweak_bases: list[bytes]) -> tuple[bytes, bytes, bytes, int]:
    pld, ald, tld = hashlib.sha512(), hashlib.sha512(), hashlib.sha512()
    pages = 0
    for (_, address, length), base in zip(comps, tweak_bases, strict=True):
        base_int = int.from_bytes(base, "big")
        for i in range(length // PAGE):
            pld.update(raw[address + i * PAGE:address + (i + 1) * PAGE])
            ald.update((address + i * PAGE).to_bytes(8, "big"))
            tld.update((base_int + i * PAGE).to_bytes(16, "big"))
            pages += 1
    return pld.digest(), ald.digest(), tld.digest(), pages


def decrypt_pages(raw: bytes, key: bytes, address: int, length: int, base: bytes) -> bytes:
    out = bytearray()
    base_int = int.from_bytes(base, "big")
    for i in range(length // PAGE):
        tweak = (base_int + i * PAGE).to_bytes(16, "big")
        d = Cipher(algorithms.AES(key), modes.XTS(tweak)).decryptor()
        out += d.update(raw[address + i * PAGE:address + (i + 1) * PAGE]) + d.finalize()
    return bytes(out)
