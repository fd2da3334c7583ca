"""``pvimg info`` / ``pvimg test``: reading a header from an image and describing it.

The JSON document follows the reference's ``info-v1`` schema (key order
included); the text form mirrors the reference's human-readable output.
"""

from __future__ import annotations

import base64
import errno
import json
import socket
import time
from importlib import resources
from typing import Any, BinaryIO, Final

from ..errors import FormatError
from ..formats.names import PCF_NAMES, SCF_NAMES, describe_flags
from ..formats.se_header import SE_HEADER_HEAD, SeHeader, find_se_header_offset, read_se_header_at
from .header import HeaderSecrets

API_LEVEL: Final = 1
SCHEMA_RESOURCE: Final = "info-v1.schema.json"


def load_se_header(stream: BinaryIO, source: str) -> SeHeader:
    """Find and parse the header of an image or extracted header file."""
    try:
        offset = find_se_header_offset(stream)
    except FormatError:
        raise FormatError(f"No Secure Execution header found in `{source}`") from None
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        # the image metadata names an offset beyond what the file system allows
        raise FormatError(f"No Secure Execution header found in `{source}`") from None
    try:
        return read_se_header_at(stream, offset)
    except FormatError as exc:
        raise FormatError(f"Invalid Secure Execution header in `{source}`",
                          f"{exc} (at offset {offset:#x})") from None


def _version() -> str:
    try:
        from importlib.metadata import version

        return f"secexkit {version('secexkit')}"
    except Exception:
        return "secexkit"


def meta_document(now: float | None = None) -> dict[str, Any]:
    """The ``meta`` member of the JSON document (tool, host, time)."""
    seconds = int(time.time() if now is None else now)
    return {
        "api_level": API_LEVEL,
        "version": _version(),
        "host": socket.gethostname() or "unknown",
        "time_epoch": seconds,
        "time": time.strftime("%Y-%m-%d %H:%M:%S+0000", time.gmtime(seconds)),
    }


def header_document(header: SeHeader, *, verified: bool,
                    secrets: HeaderSecrets | None = None) -> dict[str, Any]:
    """The ``data`` member; ``secrets`` only for ``--show-secrets`` (kind decrypted_se_hdr)."""
    doc: dict[str, Any] = {
        "kind": "se_hdr" if secrets is None else "decrypted_se_hdr",
        "verified": verified,
        "magic_hex": header.raw[SE_HEADER_HEAD.slice("magic")].hex(),
        "version": "V1",
        "sehs": header.size,
        "iv_hex": header.iv.hex(),
        "nks": len(header.key_slots),
        "sea": len(header.encrypted_area),
        "nep": header.page_count,
        "pcf_hex": f"{header.pcf:016x}",
        "cust_pub_key": {"coord_hex": header.customer_public_key.hex()},
        "pld_hex": header.pld.hex(),
        "ald_hex": header.ald.hex(),
        "tld_hex": header.tld.hex(),
        "keyslots": [
            {"phkh_hex": s.host_key_hash.hex(), "wrpk_hex": s.wrapped_key.hex(),
             "kst_hex": s.tag.hex()}
            for s in header.key_slots
        ],
    }
    if secrets is None:
        doc["cipher_data_b64"] = base64.b64encode(header.encrypted_area).decode()
    else:
        doc["cck_hex"] = secrets.cck.reveal().hex()
        doc["xts_hex"] = secrets.image_key.reveal().hex()
        doc["psw"] = {"mask_hex": f"{secrets.psw_mask:016x}",
                      "addr_hex": f"{secrets.psw_address:016x}"}
        doc["scf_hex"] = f"{secrets.scf:016x}"
    doc["tag_hex"] = header.tag.hex()
    return doc


def json_text(data: dict[str, Any], *, minify: bool = False, now: float | None = None) -> str:
    """The whole JSON document, pretty or minified, with a final newline."""
    document = {"meta": meta_document(now), "data": data}
    if minify:
        return json.dumps(document, separators=(",", ":")) + "\n"
    return json.dumps(document, indent=2) + "\n"


def _flag_lines(value: int, names: tuple[tuple[int, str], ...]) -> list[str]:
    texts = describe_flags(value, names)
    # the reference prints one line of two spaces for an empty list
    return [f"   - {t}" for t in texts] if texts else ["  "]


def text(header: SeHeader, *, verified: bool, secrets: HeaderSecrets | None = None,
         full: bool = False) -> str:
    """The human-readable (unstable) description, as the reference prints it."""
    if secrets is not None:
        title = "decrypted, integrity and authenticity verified Secure Execution header:"
    elif verified:
        title = "integrity and authenticity verified Secure Execution header"
    else:
        title = "Secure Execution header"
    lines = [title, "  version: 1"]
    if full:
        lines += [f"  size: {header.size} bytes", f"  number of key slots: {len(header.key_slots)}"]
    lines.append("  key slots:")
    lines += [f"   - target key hash: {s.host_key_hash.hex()}" for s in header.key_slots]
    if full:
        lines += [
            "  customer public key:",
            f"    coordinate: {base64.b64encode(header.customer_public_key).decode()}",
            f"  number of component pages: {header.page_count}",
            f"  components content hash: {header.pld.hex()}",
            f"  components address hash: {header.ald.hex()}",
            f"  components tweak hash: {header.tld.hex()}",
        ]
    lines.append("  plaintext control flags:")
    lines += _flag_lines(header.pcf, PCF_NAMES)
    if secrets is not None:
        lines.append("  secret control flags:")
        lines += _flag_lines(secrets.scf, SCF_NAMES)
    if full:
        if secrets is None:
            lines.append(f"  encrypted data: {base64.b64encode(header.encrypted_area).decode()}")
        else:
            # the reference pads to 16 characters including "0x"
            lines += [
                f"  CCK: {secrets.cck.reveal().hex()}",
                f"  XTS key: {secrets.image_key.reveal().hex()}",
                "  PSW:",
                f"    address: {secrets.psw_address:#016x}",
                f"    mask: {secrets.psw_mask:#016x}",
            ]
        lines.append(f"  GCM tag: {header.tag.hex()}")
    return "\n".join(lines) + "\n"


def schema_text() -> str:
    """The ``info-v1`` JSON schema shipped with the package."""
    return resources.files("secexkit").joinpath("data", SCHEMA_RESOURCE).read_text("utf-8")
