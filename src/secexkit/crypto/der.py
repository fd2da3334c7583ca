"""A minimal, strict DER reader: just enough to find a certificate's public key.

``cryptography.x509`` costs more to import than the whole rest of a
``pvsecret create --no-verify`` run, and that path needs nothing from a
certificate but its SubjectPublicKeyInfo.  This module walks the DER structure
(definite, minimally encoded lengths only) to that field; the key itself is
decoded and validated by ``cryptography``.  Verification uses the full X.509
parser (ADR 0002).
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterator
from typing import Final

from ..errors import FormatError

SEQUENCE: Final = 0x30
INTEGER: Final = 0x02
BIT_STRING: Final = 0x03
OID: Final = 0x06
CONTEXT_0: Final = 0xA0


def read_tlv(data: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the element at ``offset``."""
    if offset + 2 > len(data):
        raise FormatError("DER: truncated element")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise FormatError("DER: multi-byte tags are not supported")
    first = data[offset + 1]
    pos = offset + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise FormatError("DER: bad length")
        length = int.from_bytes(data[pos:pos + count], "big")
        if length < 0x80 or data[pos] == 0:
            raise FormatError("DER: length not minimally encoded")
        pos += count
    end = pos + length
    if end > len(data):
        raise FormatError("DER: element runs past the end of the data")
    return tag, pos, end


def _expect(data: bytes, offset: int, tag: int, what: str) -> tuple[int, int]:
    actual, start, end = read_tlv(data, offset)
    if actual != tag:
        raise FormatError(f"DER: expected {what}")
    return start, end


def _certificate_fields(der: bytes) -> tuple[slice, slice]:
    """Where the subject and the SubjectPublicKeyInfo elements of a DER certificate are.

    The outer framing is checked strictly: Certificate = tbsCertificate,
    signatureAlgorithm, signatureValue, nothing after it.
    """
    cert_start, cert_end = _expect(der, 0, SEQUENCE, "a certificate")
    if cert_end != len(der):
        raise FormatError("DER: trailing data after the certificate")
    tbs_start, tbs_end = _expect(der, cert_start, SEQUENCE, "tbsCertificate")
    pos = tbs_start
    tag, _, end = read_tlv(der, pos)
    if tag == CONTEXT_0:  # version
        pos = end
    for what, tag in (("serial number", INTEGER), ("signature algorithm", SEQUENCE),
                      ("issuer", SEQUENCE), ("validity", SEQUENCE)):
        _, pos = _expect(der, pos, tag, what)
    subject_start = pos
    _, pos = _expect(der, pos, SEQUENCE, "subject")
    spki_start = pos
    _, spki_end = _expect(der, pos, SEQUENCE, "subjectPublicKeyInfo")
    if spki_end > tbs_end:
        raise FormatError("DER: subjectPublicKeyInfo outside tbsCertificate")
    # the signature algorithm and value must follow the tbsCertificate
    _, pos = _expect(der, tbs_end, SEQUENCE, "signatureAlgorithm")
    _, pos = _expect(der, pos, BIT_STRING, "signatureValue")
    if pos != cert_end:
        raise FormatError("DER: unexpected data after the signature")
    return slice(subject_start, spki_start), slice(spki_start, spki_end)


def certificate_spki(der: bytes) -> bytes:
    """The SubjectPublicKeyInfo element (tag and length included) of a DER certificate."""
    return der[_certificate_fields(der)[1]]


def certificate_subject(der: bytes) -> bytes:
    """The subject Name element (tag and length included) of a DER certificate."""
    return der[_certificate_fields(der)[0]]


def spki_parts(spki: bytes) -> tuple[bytes, bytes | None, bytes]:
    """(algorithm OID, parameter OID or None, public key bits) of a SubjectPublicKeyInfo."""
    start, end = _expect(spki, 0, SEQUENCE, "subjectPublicKeyInfo")
    alg_start, alg_end = _expect(spki, start, SEQUENCE, "algorithm")
    oid_start, oid_end = _expect(spki, alg_start, OID, "algorithm OID")
    parameter = None
    if oid_end < alg_end:
        tag, p_start, p_end = read_tlv(spki, oid_end)
        if tag == OID:
            parameter = spki[p_start:p_end]
    bits_start, bits_end = _expect(spki, alg_end, BIT_STRING, "public key")
    if bits_end != end or bits_start == bits_end or spki[bits_start] != 0:
        raise FormatError("DER: malformed public key bit string")
    return spki[oid_start:oid_end], parameter, spki[bits_start + 1:bits_end]


# PEM framing.  A block is ``-----BEGIN L-----`` (end of line) up to the first following
# ``-----END L-----`` with the same label L.  The scan is linear in the input (issue 9.1):
# the END markers are indexed once, then every BEGIN finds its END by binary search, so a
# file full of BEGIN lines without END costs O(n log n), not a rescan to the end per BEGIN.
_PEM_BEGIN: Final = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n")
_PEM_END: Final = re.compile(rb"(?=-----END ([A-Z0-9 ]+)-----)")  # overlapping markers too
_END_PREFIX: Final = len(b"-----END ")
_DASHES: Final = len(b"-----")


def _pem_spans(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(label, body start, body end) of every PEM block, in order; linear in ``data``."""
    import bisect

    if b"-----BEGIN " not in data:
        return
    ends: dict[bytes, list[int]] = {}
    for match in _PEM_END.finditer(data):
        ends.setdefault(match.group(1), []).append(match.start())
    pos = 0
    while True:
        begin = _PEM_BEGIN.search(data, pos)
        if begin is None:
            return
        label = begin.group(1)
        found = ends.get(label, [])
        index = bisect.bisect_left(found, begin.end())
        if index == len(found):  # no END for this BEGIN: look for the next BEGIN
            pos = begin.start() + 1
            continue
        end = found[index]
        yield label, begin.end(), end
        pos = end + _END_PREFIX + len(label) + _DASHES


def _decode_pem_body(body: bytes, strict: bool = True) -> bytes | None:
    if not strict:  # whitespace and stray characters are skipped, as OpenSSL's reader does
        try:
            return binascii.a2b_base64(body)
        except binascii.Error:
            return None
    lines = [line.strip() for line in body.splitlines()]
    if any(b":" in line for line in lines):  # RFC 1421 headers (encrypted PEM): not ours
        return None
    try:
        return binascii.a2b_base64(b"".join(lines), strict_mode=True)
    except binascii.Error:
        return None


def iter_pem(data: bytes, *, strict: bool = True) -> Iterator[tuple[bytes, bytes | None]]:
    """(label, decoded contents) of every PEM block, in order; ``None`` if undecodable.

    ``strict`` refuses headers and anything but base64 and whitespace in a block.
    """
    for label, start, end in _pem_spans(data):
        yield label, _decode_pem_body(data[start:end], strict)


def pem_blocks(data: bytes, label: bytes) -> list[bytes]:
    """The decoded contents of every ``-----BEGIN <label>-----`` block.

    An undecodable block of that label is a :class:`FormatError`.
    """
    blocks = []
    for found, body in iter_pem(data):
        if found != label:
            continue
        if body is None:
            raise FormatError(f"PEM: bad base64 or headers in {label.decode()}")
        blocks.append(body)
    return blocks
