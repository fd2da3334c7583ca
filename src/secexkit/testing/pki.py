"""A complete test PKI for host-key verification, generated with ``cryptography``.

Root CA -> intermediate CA -> an IBM-Z-like host-key signing certificate -> N host-key
documents (EC P-521 keys), with a CRL for every issuer (root, intermediate, signing key).
The output passes full verification (``--root-ca ... --offline`` with the CRLs, or with
CRLs downloaded from ``crl_url_base``).  For tests only: the keys are fresh and unprotected.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..fileio import OutputTransaction

_DAY: Final = dt.timedelta(days=1)
IBM: Final = "International Business Machines Corporation"
SIGNING_UNIT: Final = "IBM Z Host Key Signing Service"

ROOT_CRT: Final = "root-ca.crt"
INTER_CRT: Final = "inter-ca.crt"
SIGNING_CRT: Final = "ibm-z-host-key-signing.crt"
ROOT_CRL: Final = "root-ca.crl"
INTER_CRL: Final = "inter-ca.crl"
HOST_CRL: Final = "ibm-z-host-key.crl"


def _name(unit: str, locality: str) -> x509.Name:
    """An IBM-style subject (the attributes the verifier checks for the signing key)."""
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, IBM),
        x509.NameAttribute(NameOID.COMMON_NAME, IBM),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "New York"),
        x509.NameAttribute(NameOID.LOCALITY_NAME, locality),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
    ])


def _usage(*flags: str) -> x509.KeyUsage:
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{name: name in flags for name in names})


def _cert(subject: x509.Name, key: ec.EllipticCurvePrivateKey,
          issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None, *, ca: bool,
          usage: x509.KeyUsage, not_before: dt.datetime, not_after: dt.datetime,
          dist_point: str | None, algorithm: hashes.SHA256 | hashes.SHA512,
          extra: tuple[x509.ExtensionType, ...] = ()) -> x509.Certificate:
    public = key.public_key()
    issuer_name = issuer[0].subject if issuer else subject
    issuer_public = issuer[0].public_key() if issuer else public
    signer = issuer[1] if issuer else key
    assert isinstance(issuer_public, ec.EllipticCurvePublicKey)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(issuer_name).public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public),
                       critical=False)
    )
    if dist_point is not None:
        builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            [x509.UniformResourceIdentifier(dist_point)], None, None, None)]), critical=False)
    for ext in extra:
        builder = builder.add_extension(ext, critical=False)
    return builder.sign(signer, algorithm)


def _crl(issuer: x509.Certificate, key: ec.EllipticCurvePrivateKey, now: dt.datetime,
         next_update: dt.datetime) -> x509.CertificateRevocationList:
    public = issuer.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject).last_update(now - _DAY).next_update(next_update)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), False)
        .add_extension(x509.CRLNumber(1), False)
        .sign(key, hashes.SHA256())
    )


def _pem(obj: x509.Certificate | x509.CertificateRevocationList) -> bytes:
    return obj.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class PkiFiles:
    """Where :meth:`TestPki.write` put each object (inside the folder it was given: relative
    paths for a relative folder)."""

    root_ca: Path
    intermediate: Path
    signing: Path
    crls: tuple[Path, ...]
    hosts: tuple[Path, ...]
    host_keys: tuple[Path, ...]

    def pvverify_args(self, host: int = 0) -> list[str]:
        """The pvverify arguments that verify host document ``host`` (0-based) offline."""
        args = ["-k", str(self.hosts[host]), "--crt", str(self.intermediate),
                "--crt", str(self.signing), "--root-ca", str(self.root_ca)]
        for crl in self.crls:
            args += ["--crl", str(crl)]
        return [*args, "--offline"]


@dataclass(frozen=True)
class TestPki:
    """A generated test PKI (certificates, CRLs and every private key), in memory."""

    __test__ = False  # not a pytest test class despite the name

    root: x509.Certificate
    root_key: ec.EllipticCurvePrivateKey = field(repr=False)
    intermediate: x509.Certificate
    intermediate_key: ec.EllipticCurvePrivateKey = field(repr=False)
    signing: x509.Certificate
    signing_key: ec.EllipticCurvePrivateKey = field(repr=False)
    root_crl: x509.CertificateRevocationList
    intermediate_crl: x509.CertificateRevocationList
    host_crl: x509.CertificateRevocationList
    hosts: tuple[x509.Certificate, ...]
    host_keys: tuple[ec.EllipticCurvePrivateKey, ...] = field(repr=False)

    def write(self, outdir: str | os.PathLike[str]) -> PkiFiles:
        """Write every object as PEM into ``outdir`` (created if missing), all or nothing.

        Host private keys (``host-N.key``, PKCS#8 PEM, unencrypted) are written 0600.
        """
        out = Path(outdir)
        out.mkdir(parents=True, exist_ok=True)
        hosts = tuple(out / f"host-{i}.crt" for i in range(1, len(self.hosts) + 1))
        keys = tuple(out / f"host-{i}.key" for i in range(1, len(self.hosts) + 1))
        files = PkiFiles(root_ca=out / ROOT_CRT, intermediate=out / INTER_CRT,
                         signing=out / SIGNING_CRT,
                         crls=(out / ROOT_CRL, out / INTER_CRL, out / HOST_CRL),
                         hosts=hosts, host_keys=keys)
        with OutputTransaction() as outputs:
            outputs.add(files.root_ca, _pem(self.root))
            outputs.add(files.intermediate, _pem(self.intermediate))
            outputs.add(files.signing, _pem(self.signing))
            for path, crl in zip(files.crls,
                                 (self.root_crl, self.intermediate_crl, self.host_crl),
                                 strict=True):
                outputs.add(path, _pem(crl))
            for path, cert in zip(hosts, self.hosts, strict=True):
                outputs.add(path, _pem(cert))
            for path, key in zip(keys, self.host_keys, strict=True):
                outputs.add(path, key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption()), secret=True)
        return files


def generate_pki(hosts: int = 1, *, days: int = 365, crl_url_base: str | None = None,
                 now: dt.datetime | None = None) -> TestPki:
    """A fresh test PKI with ``hosts`` host-key documents, valid for ``days`` days from ``now``.

    With ``crl_url_base`` (e.g. ``http://127.0.0.1:8000``), the intermediate, signing and
    host certificates name ``<base>/root-ca.crl``, ``<base>/inter-ca.crl`` and
    ``<base>/ibm-z-host-key.crl`` as CRL distribution points (the file names
    :meth:`TestPki.write` uses, so serving the output folder over HTTP works).
    """
    if hosts < 1:
        raise ValueError("hosts must be at least 1")
    if days < 1:
        raise ValueError("days must be at least 1")
    start = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    not_before = start - _DAY
    not_after = start + days * _DAY
    base = crl_url_base.rstrip("/") if crl_url_base else None

    def point(name: str) -> str | None:
        return f"{base}/{name}" if base else None

    ca_usage = _usage("key_cert_sign", "crl_sign")
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _cert(_name("Test Root CA", "Armonk"), root_key, None, ca=True, usage=ca_usage,
                 not_before=not_before, not_after=not_after, dist_point=None,
                 algorithm=hashes.SHA256())
    inter_key = ec.generate_private_key(ec.SECP256R1())
    inter = _cert(_name("Test Intermediate CA", "Armonk"), inter_key, (root, root_key),
                  ca=True, usage=ca_usage, not_before=not_before, not_after=not_after,
                  dist_point=point(ROOT_CRL), algorithm=hashes.SHA256())
    signing_key = ec.generate_private_key(ec.SECP256R1())
    signing = _cert(_name(SIGNING_UNIT, "Poughkeepsie"), signing_key, (inter, inter_key),
                    ca=False, usage=_usage("digital_signature"), not_before=not_before,
                    not_after=not_after, dist_point=point(INTER_CRL), algorithm=hashes.SHA256(),
                    extra=(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]),))
    host_certs = []
    host_keys = []
    for _ in range(hosts):
        key = ec.generate_private_key(ec.SECP521R1())
        host_certs.append(_cert(
            _name("IBM Z Host Key", "Armonk"), key, (signing, signing_key), ca=False,
            usage=_usage("key_agreement"), not_before=not_before, not_after=not_after,
            dist_point=point(HOST_CRL), algorithm=hashes.SHA512()))
        host_keys.append(key)
    return TestPki(
        root=root, root_key=root_key, intermediate=inter, intermediate_key=inter_key,
        signing=signing, signing_key=signing_key,
        root_crl=_crl(root, root_key, start, not_after),
        intermediate_crl=_crl(inter, inter_key, start, not_after),
        host_crl=_crl(signing, signing_key, start, not_after),
        hosts=tuple(host_certs), host_keys=tuple(host_keys))
