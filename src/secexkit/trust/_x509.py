"""Small X.509 helpers on top of pyca/cryptography: extensions, key identifiers,
security bits, signature checks, validity windows, CRL distribution points.
Pure functions, no I/O.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa

from ..crypto.der import CONTEXT_0, INTEGER, read_tlv
from ..errors import FormatError
from ._names import describe_name, names_equal
from ._text import printable

MIN_SECURITY_BITS = 112  # OpenSSL security (auth) level 2, as the reference

ExtT = TypeVar("ExtT", bound=x509.ExtensionType)


class SourcedCert:
    """A certificate and where it came from (file name, URL, "system trust store")."""

    __slots__ = ("cert", "source")

    def __init__(self, cert: x509.Certificate, source: str) -> None:
        self.cert = cert
        self.source = source

    @property
    def label(self) -> str:
        """``'subject' (source)``, safe to print."""
        return f"'{describe_name(self.cert.subject)}' ({printable(self.source)})"


class SourcedCrl:
    """A CRL and where it came from."""

    __slots__ = ("_der", "crl", "source")

    def __init__(self, crl: x509.CertificateRevocationList, source: str) -> None:
        self.crl = crl
        self.source = source
        self._der: bytes | None = None

    @property
    def der(self) -> bytes:
        """The CRL's DER encoding (computed once)."""
        if self._der is None:
            self._der = self.crl.public_bytes(serialization.Encoding.DER)
        return self._der

    @property
    def label(self) -> str:
        """``CRL of 'issuer' (source)``, safe to print."""
        return f"CRL of '{describe_name(self.crl.issuer)}' ({printable(self.source)})"


def extensions_of(obj: x509.Certificate | x509.CertificateRevocationList) -> x509.Extensions:
    """All extensions; a malformed or duplicated extension raises ValueError."""
    try:
        return obj.extensions
    except (x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        raise ValueError(str(exc)) from None


def extension(obj: x509.Certificate | x509.CertificateRevocationList,
              kind: type[ExtT]) -> x509.Extension[ExtT] | None:
    """One extension or None; a malformed extension list raises ValueError."""
    try:
        return extensions_of(obj).get_extension_for_class(kind)
    except x509.ExtensionNotFound:
        return None


# Critical extensions a certificate may carry (what OpenSSL's X509_supported_extension
# handles and we evaluate or, with purpose ANY and no required policy, may ignore).
# Everything else that is critical -- unknown extensions, and the known ones we do not
# evaluate (name/policy constraints, inhibitAnyPolicy, CRL distribution points, ...) --
# fails closed, as OpenSSL does (X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION).
_CERT_CRITICAL_OK: tuple[type[x509.ExtensionType], ...] = (
    x509.BasicConstraints, x509.KeyUsage, x509.ExtendedKeyUsage, x509.SubjectAlternativeName,
    x509.CertificatePolicies, x509.NameConstraints, x509.PolicyConstraints, x509.InhibitAnyPolicy,
)
# A CRL may carry these critical (OpenSSL's crl_cb); the scope ones are evaluated by _crl.
_CRL_CRITICAL_OK: tuple[type[x509.ExtensionType], ...] = (
    x509.IssuingDistributionPoint, x509.AuthorityKeyIdentifier, x509.DeltaCRLIndicator,
)
# ... and a revocation entry only this one (OpenSSL's crl_set_issuers).
_ENTRY_CRITICAL_OK: tuple[type[x509.ExtensionType], ...] = (x509.CertificateIssuer,)


def _evaluated(value: x509.ExtensionType) -> bool:
    """Name constraints are evaluated for directoryName subtrees only."""
    if isinstance(value, x509.NameConstraints):
        trees = [*(value.permitted_subtrees or ()), *(value.excluded_subtrees or ())]
        return all(isinstance(tree, x509.DirectoryName) for tree in trees)
    return True


def unhandled_critical(obj: x509.Certificate | x509.CertificateRevocationList) -> list[str]:
    """Dotted OIDs of critical extensions that we do not evaluate (for a CRL: also those
    of its revocation entries)."""
    if isinstance(obj, x509.Certificate):
        return [ext.oid.dotted_string for ext in extensions_of(obj)
                if ext.critical and not (isinstance(ext.value, _CERT_CRITICAL_OK)
                                         and _evaluated(ext.value))]
    found = [ext.oid.dotted_string for ext in extensions_of(obj)
             if ext.critical and not isinstance(ext.value, _CRL_CRITICAL_OK)]
    try:
        for entry in obj:
            found += [ext.oid.dotted_string for ext in entry.extensions
                      if ext.critical and not isinstance(ext.value, _ENTRY_CRITICAL_OK)]
    except (x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        raise ValueError(str(exc)) from None
    return found


def has_entry_issuers(crl: x509.CertificateRevocationList) -> bool:
    """Does any revocation entry name another certificate issuer (an indirect CRL)?"""
    try:
        for entry in crl:
            for ext in entry.extensions:
                if isinstance(ext.value, x509.CertificateIssuer):
                    return True
    except (x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        raise ValueError(str(exc)) from None
    return False


def skid(cert: x509.Certificate) -> bytes | None:
    ext = extension(cert, x509.SubjectKeyIdentifier)
    return None if ext is None else ext.value.digest


def akid_matches(akid: x509.AuthorityKeyIdentifier | None, issuer: x509.Certificate) -> bool:
    """X509_check_akid: key id vs the issuer's SKID, serial and issuer name if present."""
    if akid is None:
        return True
    issuer_skid = skid(issuer)
    if akid.key_identifier is not None and issuer_skid is not None \
            and akid.key_identifier != issuer_skid:
        return False
    if akid.authority_cert_serial_number is not None \
            and akid.authority_cert_serial_number != issuer.serial_number:
        return False
    if akid.authority_cert_issuer:
        for general_name in akid.authority_cert_issuer:
            if isinstance(general_name, x509.DirectoryName):
                return names_equal(general_name.value, issuer.issuer)
    return True


def akid_of(obj: x509.Certificate | x509.CertificateRevocationList) -> x509.AuthorityKeyIdentifier | None:
    ext = extension(obj, x509.AuthorityKeyIdentifier)
    return None if ext is None else ext.value


def key_security_bits(key: Any) -> int:
    """Security bits of a public key with OpenSSL's rules (EVP_PKEY_get_security_bits)."""
    if isinstance(key, rsa.RSAPublicKey | dsa.DSAPublicKey):
        size = key.key_size
        for limit, bits in ((15360, 256), (7680, 192), (3072, 128), (2048, 112), (1024, 80)):
            if size >= limit:
                return bits
        return 0
    if isinstance(key, ec.EllipticCurvePublicKey):
        size = key.curve.key_size
        for limit, bits in ((512, 256), (384, 192), (256, 128), (224, 112), (160, 80)):
            if size >= limit:
                return bits
        return size // 2
    if isinstance(key, ed25519.Ed25519PublicKey):
        return 128
    if isinstance(key, ed448.Ed448PublicKey):
        return 224
    return 0


def certificate_key_bits(cert: x509.Certificate) -> int:
    """Security bits of a certificate's key; 0 if the key cannot be loaded."""
    try:
        return key_security_bits(cert.public_key())
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return 0


_HASH_BITS = {
    "md5": 39, "sha1": 63, "sha224": 112, "sha256": 128, "sha384": 192, "sha512": 256,
    "sha512-224": 112, "sha512-256": 128, "sha3-224": 112, "sha3-256": 128,
    "sha3-384": 192, "sha3-512": 256,
}


def signature_security_bits(obj: x509.Certificate | x509.CertificateRevocationList) -> int:
    """Security of the signature's digest (EdDSA: of the curve)."""
    oid = obj.signature_algorithm_oid
    if oid == x509.SignatureAlgorithmOID.ED25519:
        return 128
    if oid == x509.SignatureAlgorithmOID.ED448:
        return 224
    try:
        algorithm = obj.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return 0
    if algorithm is None:
        return 0
    return _HASH_BITS.get(algorithm.name, 0)


def signature_name(obj: x509.Certificate | x509.CertificateRevocationList) -> str:
    return obj.signature_algorithm_oid._name or obj.signature_algorithm_oid.dotted_string


_DSA_OIDS = ("1.2.840.10040.4.3", "2.16.840.1.101.3.4.3.")  # dsa-with-sha1, dsa-with-sha2


def _verify(key: Any, signature: bytes, data: bytes,
            obj: x509.Certificate | x509.CertificateRevocationList) -> bool:
    params = obj.signature_algorithm_parameters
    algorithm = obj.signature_hash_algorithm
    if isinstance(key, rsa.RSAPublicKey):
        if not isinstance(params, padding.PKCS1v15 | padding.PSS) or algorithm is None:
            return False
        key.verify(signature, data, params, algorithm)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(params, ec.ECDSA):
            return False
        key.verify(signature, data, params)
    elif isinstance(key, dsa.DSAPublicKey):
        if params is not None or not isinstance(algorithm, hashes.HashAlgorithm) \
                or not obj.signature_algorithm_oid.dotted_string.startswith(_DSA_OIDS):
            return False
        key.verify(signature, data, algorithm)
    elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        if obj.signature_algorithm_oid not in (x509.SignatureAlgorithmOID.ED25519,
                                               x509.SignatureAlgorithmOID.ED448):
            return False
        key.verify(signature, data)
    else:
        return False
    return True


def algorithms_consistent(raw: bytes, is_certificate: bool) -> bool:
    """Is the AlgorithmIdentifier inside the signed part (certificate: after version and
    serial; CRL: after the optional version) byte-identical to the outer one?"""
    try:
        _, body, _ = read_tlv(raw, 0)
        _, tbs_start, tbs_end = read_tlv(raw, body)
        _, _, outer_end = read_tlv(raw, tbs_end)
        outer = raw[tbs_end:outer_end]
        pos = tbs_start
        tag, _, end = read_tlv(raw, pos)
        if is_certificate:
            if tag == CONTEXT_0:  # version
                pos = end
            _, _, pos = read_tlv(raw, pos)  # serial number
        elif tag == INTEGER:  # version
            pos = end
        _, _, inner_end = read_tlv(raw, pos)
    except FormatError:
        return False
    return raw[pos:inner_end] == outer


def signature_bits_whole(raw: bytes) -> bool:
    """Does the signature BIT STRING have no unused bits?

    A signature is a whole number of bytes; a non-zero "unused bits" count changes the
    encoded object but not the bytes a verifier checks, so such an object is refused.
    """
    try:
        _, body, _ = read_tlv(raw, 0)
        _, _, tbs_end = read_tlv(raw, body)
        _, _, outer_end = read_tlv(raw, tbs_end)
        tag, start, end = read_tlv(raw, outer_end)
    except FormatError:
        return False
    return tag == 0x03 and end > start and raw[start] == 0


_SIGNATURE_CACHE: dict[tuple[bytes, x509.Certificate], bool] = {}
_SIGNATURE_CACHE_SIZE = 256


def signed_by(obj: x509.Certificate | x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    """Does ``issuer``'s public key verify the signature of ``obj``?  Names are NOT compared.

    As OpenSSL's X509_verify / X509_CRL_verify, the signature algorithm inside the
    signed part must equal the outer one.  Memoised on (the whole DER of ``obj``,
    issuer) — the outer signature algorithm is not part of the signed bytes, so the key
    must cover it: the chain and CRL checks ask the same question more than once.
    """
    data = obj.tbs_certificate_bytes if isinstance(obj, x509.Certificate) else obj.tbs_certlist_bytes
    raw = obj.public_bytes(serialization.Encoding.DER)
    key = (raw, issuer)
    known = _SIGNATURE_CACHE.get(key)
    if known is not None:
        return known
    try:
        result = algorithms_consistent(raw, isinstance(obj, x509.Certificate)) and \
            signature_bits_whole(raw) and _verify(issuer.public_key(), obj.signature, data, obj)
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        result = False
    if len(_SIGNATURE_CACHE) >= _SIGNATURE_CACHE_SIZE:
        _SIGNATURE_CACHE.clear()
    _SIGNATURE_CACHE[key] = result
    return result


def not_before(cert: x509.Certificate) -> dt.datetime:
    return cert.not_valid_before_utc


def not_after(cert: x509.Certificate) -> dt.datetime:
    return cert.not_valid_after_utc


def aware_utc(now: dt.datetime) -> dt.datetime:
    """``now`` in UTC; a naive datetime is refused (its meaning would be a guess)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("the verification time must be timezone-aware (e.g. datetime.now(UTC))")
    return now.astimezone(dt.UTC)


def fmt_time(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def is_ca(cert: x509.Certificate) -> bool:
    ext = extension(cert, x509.BasicConstraints)
    return ext is not None and ext.value.ca


def key_usage(cert: x509.Certificate) -> x509.KeyUsage | None:
    ext = extension(cert, x509.KeyUsage)
    return None if ext is None else ext.value


def self_issued(cert: x509.Certificate) -> bool:
    return names_equal(cert.subject, cert.issuer)


def distribution_points(cert: x509.Certificate) -> list[str]:
    """Every URI of every CRL distribution point's full name, in order."""
    try:
        ext = extension(cert, x509.CRLDistributionPoints)
    except ValueError:
        return []
    if ext is None:
        return []
    uris = []
    for point in ext.value:
        for general_name in point.full_name or ():
            if isinstance(general_name, x509.UniformResourceIdentifier):
                uris.append(general_name.value)
    return uris
