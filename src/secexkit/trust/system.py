"""The system's trusted roots, found like OpenSSL's default verify paths.

The CA file is ``$SSL_CERT_FILE`` or OpenSSL's compiled-in default (every
certificate and CRL in it is loaded); the CA directories are ``$SSL_CERT_DIR``
(a ``:``-separated list) or the compiled-in default, searched lazily for
``<subject hash>.<n>`` certificate and ``<hash>.r<n>`` CRL files as OpenSSL does.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from cryptography import x509

from ._crl import CrlPool
from ._load import parse_pem
from ._names import CanonicalName, canonical_name, subject_hash
from ._x509 import SourcedCert, SourcedCrl

log = logging.getLogger(__name__)

MAX_HASH_COLLISIONS = 100


class SystemTrustStore:
    """Trust anchors from a CA file and hashed CA directories."""

    def __init__(self, cafile: str | None, capaths: Sequence[str]) -> None:
        self.cafile = cafile
        self.capaths = [p for p in capaths if p]
        where = [p for p in (cafile, *self.capaths) if p]
        self.description = "the system trust store (" + (", ".join(where) or "none") + ")"
        self._certs: dict[CanonicalName, list[SourcedCert]] = {}
        self._crls = CrlPool()
        self._hashes_done: set[int] = set()
        if cafile:
            try:
                with open(cafile, "rb") as stream:
                    found = parse_pem(stream.read())
            except OSError as exc:
                log.debug("Cannot read CA file %s: %s", cafile, exc)
            else:
                for cert in found.certificates:
                    self._add(SourcedCert(cert, cafile))
                for crl in found.crls:
                    self._crls.add(SourcedCrl(crl, cafile))

    @classmethod
    def from_environment(cls) -> SystemTrustStore:
        import ssl

        paths = ssl.get_default_verify_paths()
        cafile = os.environ.get(paths.openssl_cafile_env) or paths.openssl_cafile
        capath = os.environ.get(paths.openssl_capath_env) or paths.openssl_capath
        return cls(cafile, capath.split(os.pathsep) if capath else [])

    def _add(self, cert: SourcedCert) -> None:
        bucket = self._certs.setdefault(canonical_name(cert.cert.subject), [])
        if all(known.cert != cert.cert for known in bucket):
            bucket.append(cert)

    def _load_hash(self, name: x509.Name) -> None:
        value = subject_hash(name)
        if value in self._hashes_done:
            return
        self._hashes_done.add(value)
        for directory in self.capaths:
            for prefix, is_crl in ((f"{value:08x}.", False), (f"{value:08x}.r", True)):
                for index in range(MAX_HASH_COLLISIONS):
                    path = os.path.join(directory, f"{prefix}{index}")
                    try:
                        with open(path, "rb") as stream:
                            data = stream.read()
                    except OSError:
                        break
                    found = parse_pem(data)
                    if is_crl:
                        for crl in found.crls:
                            self._crls.add(SourcedCrl(crl, path))
                    else:
                        for cert in found.certificates:
                            self._add(SourcedCert(cert, path))

    def issuers(self, name: x509.Name) -> Sequence[SourcedCert]:
        self._load_hash(name)
        return list(self._certs.get(canonical_name(name), ()))

    def crls(self, issuer: x509.Name) -> Sequence[SourcedCrl]:
        self._load_hash(issuer)
        return self._crls.by_issuer(issuer)
