"""The system's trusted roots, found like OpenSSL's default verify paths.

The CA file is ``$SSL_CERT_FILE`` or OpenSSL's compiled-in default; its
certificates are indexed by their raw subject and parsed only when a chain asks
for that subject (parsing a whole distribution bundle costs 10-20 ms per run);
the CA directories are ``$SSL_CERT_DIR``
(a ``:``-separated list) or the compiled-in default, searched lazily for
``<subject hash>.<n>`` certificate and ``<hash>.r<n>`` CRL files as OpenSSL does.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from cryptography import x509

from ..crypto.der import certificate_subject, iter_pem
from ..errors import FormatError
from ..fileio import MAX_SYSTEM_BUNDLE, read_input
from ._crl import CrlPool
from ._load import CERT_LABELS, CRL_LABELS, parse_certificates, parse_pem
from ._names import CanonicalName, canonical_name, subject_hash
from ._x509 import SourcedCert, SourcedCrl

log = logging.getLogger(__name__)

MAX_HASH_COLLISIONS = 100


def _read_store_file(path: str, what: str) -> bytes | None:
    """A trust-store file, whole and bounded (``MAX_SYSTEM_BUNDLE``); None if it does not
    exist or cannot be examined (as OpenSSL, a missing default store is not an error).

    A device, a FIFO that never ends or a file larger than the limit is an
    :class:`~secexkit.errors.InputError`.
    """
    try:
        os.stat(path)
    except OSError as exc:
        log.debug("Cannot read %s %s: %s", what, path, exc)
        return None
    return read_input(path, what, MAX_SYSTEM_BUNDLE)


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
        #: CA-file certificates not parsed yet, by raw DER subject
        self._unparsed: dict[bytes, list[bytes]] = {}
        if cafile:
            data = _read_store_file(cafile, "system CA file")
            if data is not None:
                self._index_cafile(data)

    def _index_cafile(self, data: bytes) -> None:
        has_crls = False
        for label, body in iter_pem(data, strict=False):
            if label in CERT_LABELS and body is not None:
                try:
                    subject = certificate_subject(body)
                except FormatError:
                    continue  # not a certificate OpenSSL would load either
                self._unparsed.setdefault(subject, []).append(body)
            elif label in CRL_LABELS:
                has_crls = True
        if has_crls:  # rare in a CA file: load them all at once
            found = parse_pem(data)
            for crl in found.crls:
                self._crls.add(SourcedCrl(crl, self.cafile or ""))

    def _load_cafile(self, name: x509.Name) -> None:
        """Parse the CA-file certificates with this subject (all of them, if none matches raw)."""
        if not self._unparsed:
            return
        candidates = self._unparsed.pop(name.public_bytes(), None)
        if candidates is None:  # same name in another encoding: compare canonically
            candidates = [der for ders in self._unparsed.values() for der in ders]
            self._unparsed.clear()
        for der in candidates:
            for cert in parse_certificates(der):
                self._add(SourcedCert(cert, self.cafile or ""))

    @classmethod
    def from_environment(cls) -> SystemTrustStore:
        """The store OpenSSL would use: ``SSL_CERT_FILE``/``SSL_CERT_DIR`` or the built-in paths."""
        try:  # the C module alone: `ssl` itself costs ~5 ms more to import
            from _ssl import get_default_verify_paths
        except ImportError:  # pragma: no cover - every CPython with OpenSSL has it
            from ssl import _ssl  # type: ignore[attr-defined]

            get_default_verify_paths = _ssl.get_default_verify_paths
        cafile_env, default_cafile, capath_env, default_capath = get_default_verify_paths()
        cafile = os.environ.get(cafile_env) or default_cafile
        capath = os.environ.get(capath_env) or default_capath
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
                    data = _read_store_file(path, "system CA directory file")
                    if data is None:
                        break
                    found = parse_pem(data)
                    if is_crl:
                        for crl in found.crls:
                            self._crls.add(SourcedCrl(crl, path))
                    else:
                        for cert in found.certificates:
                            self._add(SourcedCert(cert, path))

    def issuers(self, name: x509.Name) -> Sequence[SourcedCert]:
        """The trusted certificates whose subject is ``name`` (loaded on demand)."""
        self._load_cafile(name)
        self._load_hash(name)
        return list(self._certs.get(canonical_name(name), ()))

    def crls(self, issuer: x509.Name) -> Sequence[SourcedCrl]:
        """The CRLs issued by ``issuer`` (loaded on demand from the hashed directory)."""
        self._load_hash(issuer)
        return self._crls.by_issuer(issuer)
