"""X.509 names: OpenSSL-style canonical comparison, the IBM Z signing-key subject rules,
the Armonk/Poughkeepsie CRL-issuer quirks and the OpenSSL subject hash (for hashed
certificate directories).  Pure functions, no I/O.
"""

from __future__ import annotations

import re
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from ._text import printable

# A canonical name: RDNs in order, each a tuple of (dotted OID, canonical value bytes).
CanonicalName = tuple[tuple[tuple[str, bytes], ...], ...]

_SPACE = re.compile(rb"[ \t\n\v\f\r]+")

IBM_COUNTRY = "US"
IBM_STATE = "New York"
IBM_LOCALITIES = ("Poughkeepsie", "Armonk")
IBM_ORGANIZATION = "International Business Machines Corporation"
IBM_COMMON_NAME = "International Business Machines Corporation"
IBM_OU_SUFFIX = "Key Signing Service"
IBM_ATTRIBUTE_COUNT = 6

# Attribute order of IBM Z signing-key CRL issuers that differ from the key's subject.
_CRL_ISSUER_ORDER = (
    NameOID.COUNTRY_NAME,
    NameOID.ORGANIZATION_NAME,
    NameOID.ORGANIZATIONAL_UNIT_NAME,
    NameOID.LOCALITY_NAME,
    NameOID.STATE_OR_PROVINCE_NAME,
    NameOID.COMMON_NAME,
)


def _canonical_value(value: str | bytes) -> bytes:
    """Like OpenSSL: UTF-8, ASCII lower case, whitespace trimmed and runs collapsed."""
    if isinstance(value, bytes):  # a non-string attribute (bit string): compared as is
        return b"\x00" + value
    raw = value.encode("utf-8", "surrogatepass").strip(b" \t\n\v\f\r")
    raw = _SPACE.sub(b" ", raw)
    return raw.lower()  # bytes.lower() only touches ASCII letters, as OpenSSL does


@lru_cache(maxsize=512)
def canonical_name(name: x509.Name) -> CanonicalName:
    """The key under which OpenSSL's X509_NAME_cmp considers two names equal."""
    return tuple(
        tuple((attr.oid.dotted_string, _canonical_value(attr.value)) for attr in rdn)
        for rdn in name.rdns
    )


def names_equal(left: x509.Name, right: x509.Name) -> bool:
    return canonical_name(left) == canonical_name(right)


def describe_name(name: x509.Name) -> str:
    """A short human label: OU (or CN, or the full RFC 4514 string); control characters
    escaped, so that a name from a certificate or CRL cannot drive the terminal."""
    for oid in (NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.COMMON_NAME):
        attrs = name.get_attributes_for_oid(oid)
        if attrs:
            value = attrs[0].value
            return printable(value) if isinstance(value, str) else value.hex()
    return printable(name.rfc4514_string()) or "<empty name>"


def _first(name: x509.Name, oid: x509.ObjectIdentifier) -> str | bytes | None:
    attrs = name.get_attributes_for_oid(oid)
    return attrs[0].value if attrs else None


def is_ibm_signing_subject(name: x509.Name) -> bool:
    """The reference's rules for the subject of an IBM Z signing-key certificate.

    Exactly six attributes; the first C, ST, L, O, CN equal the IBM values (L is
    Poughkeepsie or Armonk); the first OU ends with "Key Signing Service".  Order is
    irrelevant; values are compared exactly.
    """
    if len(list(name)) != IBM_ATTRIBUTE_COUNT:
        return False
    if (
        _first(name, NameOID.COUNTRY_NAME) != IBM_COUNTRY
        or _first(name, NameOID.STATE_OR_PROVINCE_NAME) != IBM_STATE
        or _first(name, NameOID.LOCALITY_NAME) not in IBM_LOCALITIES
        or _first(name, NameOID.ORGANIZATION_NAME) != IBM_ORGANIZATION
        or _first(name, NameOID.COMMON_NAME) != IBM_COMMON_NAME
    ):
        return False
    unit = _first(name, NameOID.ORGANIZATIONAL_UNIT_NAME)
    return isinstance(unit, str) and unit.endswith(IBM_OU_SUFFIX)


def _poughkeepsie_variant(name: x509.Name) -> x509.Name | None:
    if _first(name, NameOID.LOCALITY_NAME) != "Armonk":
        return None
    rdns = []
    for rdn in name.rdns:
        attrs = [
            x509.NameAttribute(NameOID.LOCALITY_NAME, "Poughkeepsie")
            if attr.oid == NameOID.LOCALITY_NAME
            else attr
            for attr in rdn
        ]
        rdns.append(x509.RelativeDistinguishedName(attrs))
    return x509.Name(rdns)


def _reordered(name: x509.Name) -> x509.Name:
    attrs = []
    for oid in _CRL_ISSUER_ORDER:
        found = name.get_attributes_for_oid(oid)
        if found:
            attrs.append(found[0])
    return x509.Name(attrs)


def signing_key_crl_issuers(subject: x509.Name) -> list[x509.Name]:
    """Issuer names to look up, in order, for CRLs of the IBM Z signing key.

    The subject itself; if L is Armonk the Poughkeepsie variant and that variant
    re-ordered (C, O, OU, L, ST, CN); finally the subject re-ordered.
    """
    names = [subject]
    variant = _poughkeepsie_variant(subject)
    if variant is not None:
        names += [variant, _reordered(variant)]
    names.append(_reordered(subject))
    return names


# --- OpenSSL subject hash (X509_NAME_hash_ex), for <hash>.<n> files in a CA directory.

def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _der(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(content)) + content


def _der_oid(dotted: str) -> bytes:
    arcs = [int(part) for part in dotted.split(".")]
    numbers = [arcs[0] * 40 + arcs[1], *arcs[2:]]
    out = bytearray()
    for arc in numbers:
        chunk = [arc & 0x7F]
        rest = arc >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        out += bytes(reversed(chunk))
    return _der(0x06, bytes(out))


def _canonical_der(name: x509.Name) -> bytes:
    out = bytearray()
    for rdn in name.rdns:
        entries = b"".join(
            _der(0x30, _der_oid(attr.oid.dotted_string)
                 + (_der(0x0C, _canonical_value(attr.value)) if isinstance(attr.value, str)
                    else _der(0x03, b"\x00" + attr.value)))
            for attr in rdn
        )
        out += _der(0x31, entries)
    return bytes(out)


def subject_hash(name: x509.Name) -> int:
    """OpenSSL's X509_NAME_hash: first 4 bytes (little endian) of SHA-1 of the canonical DER."""
    digest = hashes.Hash(hashes.SHA1())  # noqa: S303 - a file-name index, as OpenSSL's
    digest.update(_canonical_der(name))
    return int.from_bytes(digest.finalize()[:4], "little")
