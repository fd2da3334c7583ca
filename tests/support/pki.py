"""A generated test PKI for host-key verification: root, intermediate, IBM Z signing
key, host-key documents and CRLs, with knobs for every way they can be wrong.

EC keys only (P-256 for the CAs and the signing key, P-521 for host keys) so
fixtures stay fast.  Everything is in memory; :func:`write` puts objects into
PEM or DER files.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
DAY = dt.timedelta(days=1)

PrivateKey = Any  # an EC or RSA private key


class _AnotherKey:
    """Marks "signed with a fresh key that is not the issuer's" (generated when signing,
    so test parameters need no key at import time)."""

    def __repr__(self) -> str:
        return "ANOTHER_KEY"


ANOTHER_KEY: Any = _AnotherKey()


def ibm_name(unit: str, locality: str = "Poughkeepsie", *, order: str = "C O CN ST L OU",
             extra: Sequence[x509.NameAttribute[str]] = ()) -> x509.Name:
    """An IBM-style subject in the attribute order of the reference's test PKI."""
    values = {
        "C": (NameOID.COUNTRY_NAME, "US"),
        "O": (NameOID.ORGANIZATION_NAME, "International Business Machines Corporation"),
        "CN": (NameOID.COMMON_NAME, "International Business Machines Corporation"),
        "ST": (NameOID.STATE_OR_PROVINCE_NAME, "New York"),
        "L": (NameOID.LOCALITY_NAME, locality),
        "OU": (NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
    }
    attrs = [x509.NameAttribute(*values[key]) for key in order.split()]
    return x509.Name([*attrs, *extra])


def ec_key(curve: ec.EllipticCurve | None = None) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(curve or ec.SECP256R1())


@dataclass
class Entity:
    """A certificate with its private key."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def name(self) -> x509.Name:
        return self.cert.subject


@dataclass
class CertSpec:
    """Knobs for one certificate (defaults: a valid, well-formed certificate)."""

    ca: bool = False
    not_before: dt.datetime = field(default_factory=lambda: NOW - 10 * DAY)
    not_after: dt.datetime = field(default_factory=lambda: NOW + 3650 * DAY)
    serial: int | None = None
    akid: bool = True
    skid: bool = True
    key_usage: str | None = "default"   # "default", None (absent) or comma list
    basic_constraints: bool = True
    bc_critical: bool = True
    path_length: int | None = None
    dist_points: Sequence[str] = ()
    hash_algorithm: Any = field(default_factory=hashes.SHA256)
    sign_with: PrivateKey | None = None  # a key other than the issuer's ("wrong issuer key")
    issuer_name: x509.Name | None = None  # another issuer name than the issuer's subject
    akid_from: x509.Certificate | None = None  # compute the AKID from this certificate
    extra_extensions: Sequence[tuple[x509.ExtensionType, bool]] = ()


def make_cert(subject: x509.Name, public_key: Any, issuer: Entity | None,
              spec: CertSpec | None = None, *, self_key: PrivateKey | None = None) -> x509.Certificate:
    spec = spec or CertSpec()
    issuer_cert = issuer.cert if issuer is not None else None
    signer: Any = spec.sign_with or (issuer.key if issuer is not None else self_key)
    if signer is ANOTHER_KEY:
        signer = ec_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(spec.issuer_name or (issuer_cert.subject if issuer_cert else subject))
        .public_key(public_key)
        .serial_number(spec.serial or x509.random_serial_number())
        .not_valid_before(spec.not_before)
        .not_valid_after(spec.not_after)
    )
    if spec.basic_constraints:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=spec.ca, path_length=spec.path_length), spec.bc_critical)
    usage = spec.key_usage
    if usage == "default":
        usage = "key_cert_sign,crl_sign" if spec.ca else "digital_signature"
    if usage is not None:
        flags = dict.fromkeys(
            ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"),
            False)
        for flag in filter(None, usage.split(",")):
            flags[flag] = True
        builder = builder.add_extension(x509.KeyUsage(**flags), critical=True)
    if spec.skid:
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key),
                                        critical=False)
    if spec.akid:
        source = spec.akid_from or issuer_cert
        source_key: Any = source.public_key() if source is not None else None
        akid = (x509.AuthorityKeyIdentifier.from_issuer_public_key(source_key)
                if source is not None
                else x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key))
        builder = builder.add_extension(akid, critical=False)
    if spec.dist_points:
        builder = builder.add_extension(x509.CRLDistributionPoints([
            x509.DistributionPoint([x509.UniformResourceIdentifier(uri)], None, None, None)
            for uri in spec.dist_points]), critical=False)
    for ext, critical in spec.extra_extensions:
        builder = builder.add_extension(ext, critical)
    return builder.sign(signer, spec.hash_algorithm)


@dataclass
class CrlSpec:
    """Knobs for one CRL."""

    revoked: Sequence[int] = ()
    last_update: dt.datetime = field(default_factory=lambda: NOW - DAY)
    next_update: dt.datetime | None = field(default_factory=lambda: NOW + 30 * DAY)
    sign_with: PrivateKey | None = None
    issuer_name: x509.Name | None = None
    akid: bool = True
    akid_from: x509.Certificate | None = None
    hash_algorithm: Any = field(default_factory=hashes.SHA256)
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = ()
    entry_extensions: Sequence[tuple[x509.ExtensionType, bool]] = ()  # on every entry


def make_crl(issuer: Entity, spec: CrlSpec | None = None) -> x509.CertificateRevocationList:
    spec = spec or CrlSpec()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(spec.issuer_name or issuer.cert.subject)
        .last_update(spec.last_update)
    )
    # cryptography requires a next update; "none" is emulated by the caller not using it.
    builder = builder.next_update(spec.next_update or NOW + 30 * DAY)
    if spec.akid:
        source = spec.akid_from or issuer.cert
        issuer_key: Any = source.public_key()
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key), False)
    for ext, critical in spec.extensions:
        builder = builder.add_extension(ext, critical)
    for serial in spec.revoked:
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(NOW - 2 * DAY)
        for ext, critical in spec.entry_extensions:
            entry = entry.add_extension(ext, critical)
        builder = builder.add_revoked_certificate(entry.build())
    signer: Any = spec.sign_with or issuer.key
    if signer is ANOTHER_KEY:
        signer = ec_key()
    return builder.sign(signer, spec.hash_algorithm)


def root_ca(unit: str = "Test Root CA", spec: CertSpec | None = None,
            key: PrivateKey | None = None) -> Entity:
    key = key or ec_key()
    spec = spec or CertSpec(ca=True)
    return Entity(make_cert(ibm_name(unit, "Armonk"), key.public_key(), None, spec, self_key=key),
                  key)


def issue(issuer: Entity, subject: x509.Name, spec: CertSpec | None = None,
          key: PrivateKey | None = None) -> Entity:
    key = key or ec_key()
    return Entity(make_cert(subject, key.public_key(), issuer, spec), key)


SIGNING_UNIT = "IBM Z Host Key Signing Service"
HOST_SUBJECT = ibm_name("IBM Z Host Key", "Armonk")


def host_spec(**kwargs: Any) -> CertSpec:
    kwargs.setdefault("key_usage", "key_agreement")
    kwargs.setdefault("hash_algorithm", hashes.SHA512())
    return CertSpec(**kwargs)


@dataclass
class PkiSet:
    """The standard valid PKI: root -> intermediate -> IBM Z signing key -> host keys."""

    root: Entity
    inter: Entity
    signing: Entity
    host: Entity
    host_revoked: Entity
    signing_revoked: Entity
    root_crl: x509.CertificateRevocationList
    inter_crl: x509.CertificateRevocationList
    signing_crl: x509.CertificateRevocationList
    host_key: ec.EllipticCurvePrivateKey


def build_pki() -> PkiSet:
    root = root_ca()
    inter = issue(root, ibm_name("Test Intermediate CA", "Armonk"),
                  CertSpec(ca=True, dist_points=["http://127.0.0.1:9/root.crl"]))
    signing_key = ec_key()
    signing = issue(inter, ibm_name(SIGNING_UNIT),
                    CertSpec(dist_points=["http://127.0.0.1:9/inter.crl"],
                             extra_extensions=[(x509.ExtendedKeyUsage(
                                 [ExtendedKeyUsageOID.CODE_SIGNING]), False)]),
                    key=signing_key)
    signing_revoked = issue(inter, ibm_name(SIGNING_UNIT), CertSpec(), key=signing_key)
    host_key = ec_key(ec.SECP521R1())
    host = issue(signing, HOST_SUBJECT, host_spec(dist_points=["http://127.0.0.1:9/ibm.crl"]),
                 key=host_key)
    host_revoked = issue(signing, HOST_SUBJECT, host_spec(), key=host_key)
    return PkiSet(
        root=root, inter=inter, signing=signing, host=host, host_revoked=host_revoked,
        signing_revoked=signing_revoked,
        root_crl=make_crl(root, CrlSpec(revoked=[333])),
        inter_crl=make_crl(inter, CrlSpec(revoked=[444, signing_revoked.cert.serial_number])),
        signing_crl=make_crl(signing, CrlSpec(revoked=[555, host_revoked.cert.serial_number])),
        host_key=host_key,
    )


Writable = x509.Certificate | x509.CertificateRevocationList | Entity


def pem(*objects: Writable) -> bytes:
    out = b""
    for obj in objects:
        value = obj.cert if isinstance(obj, Entity) else obj
        out += value.public_bytes(serialization.Encoding.PEM)
    return out


def der(obj: Writable) -> bytes:
    value = obj.cert if isinstance(obj, Entity) else obj
    return value.public_bytes(serialization.Encoding.DER)


def write(path: Path, *objects: Writable, as_der: bool = False) -> str:
    """Write objects as PEM (or one object as DER); returns the path as a string."""
    path.write_bytes(der(objects[0]) if as_der else pem(*objects))
    return str(path)


def extension_is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


SHA256_WITH_RSA = bytes.fromhex("06092a864886f70d01010b")
SHA1_WITH_RSA = bytes.fromhex("06092a864886f70d010105")


def resign_sha1_rsa(obj: x509.Certificate | x509.CertificateRevocationList,
                    key: Any) -> bytes:
    """``obj`` (signed sha256WithRSAEncryption by the RSA ``key``) re-signed with SHA-1:
    cryptography no longer creates such signatures, but old CAs did.  Returns DER."""
    from cryptography.hazmat.primitives.asymmetric import padding

    raw = der(obj)
    assert raw.count(SHA256_WITH_RSA) == 2  # inside the signed part and outside
    raw = raw.replace(SHA256_WITH_RSA, SHA1_WITH_RSA)  # same length: no DER length changes
    patched = (x509.load_der_x509_certificate(raw) if isinstance(obj, x509.Certificate)
               else x509.load_der_x509_crl(raw))
    tbs = (patched.tbs_certificate_bytes if isinstance(patched, x509.Certificate)
           else patched.tbs_certlist_bytes)
    signature: bytes = key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    assert len(signature) == len(patched.signature)
    return raw[:-len(signature)] + signature
