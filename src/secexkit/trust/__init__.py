"""Host-key document verification (chain of trust, CRLs), as strict as s390-tools.

The entry points are :func:`verify_host_key_documents` (the verified host keys, or the
first failure) and :func:`check_host_key_documents` (a verdict per document).  CRLs
are downloaded only through a :class:`CrlFetcher` (subclass it and implement
:meth:`CrlFetcher.transfer` to bring your own), within :class:`FetchLimits`.
Lower-level pieces live in the submodules (``verifier``, ``sources``, ``fetch``).
This package is imported only when verification is requested.
"""

from __future__ import annotations

from ..errors import FetchError
from ._errors import Check, Term, TrustError
from .api import DocumentResult, check_host_key_documents, verify_host_key_documents
from .fetch import CrlFetcher, FetchLimits, HttpCrlFetcher, Transfer

__all__ = [
    "Check",
    "CrlFetcher",
    "DocumentResult",
    "FetchError",
    "FetchLimits",
    "HttpCrlFetcher",
    "Term",
    "Transfer",
    "TrustError",
    "check_host_key_documents",
    "verify_host_key_documents",
]
