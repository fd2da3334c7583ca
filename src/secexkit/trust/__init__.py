"""Host-key document verification (chain of trust, CRLs), as strict as s390-tools.

Entry points: :func:`load_trust_inputs` (files), :func:`establish_trust`
(signing key + chain, once), :meth:`HostKeyVerifier.verify` (each document).
Downloads only through a :class:`CrlFetcher`; everything else is pure.
This package is imported only when verification is requested.
"""

from __future__ import annotations

from ._chain import AnchorList, ChainFailure, TrustAnchors, validate_chain
from ._crl import CrlPool
from ._errors import TrustError
from ._load import parse_certificates, parse_crls, parse_pem
from ._names import is_ibm_signing_subject, signing_key_crl_issuers, subject_hash
from ._x509 import SourcedCert, SourcedCrl, distribution_points
from .fetch import CrlFetcher, FetchError, HttpCrlFetcher, OfflineFetcher
from .sources import load_crl_file, load_root_ca, load_trust_inputs
from .verifier import (
    CrlDownloads,
    HostKeyVerifier,
    TrustInputs,
    establish_trust,
    select_signing_key,
)

__all__ = [
    "AnchorList",
    "ChainFailure",
    "CrlDownloads",
    "CrlFetcher",
    "CrlPool",
    "FetchError",
    "HostKeyVerifier",
    "HttpCrlFetcher",
    "OfflineFetcher",
    "SourcedCert",
    "SourcedCrl",
    "TrustAnchors",
    "TrustError",
    "TrustInputs",
    "distribution_points",
    "establish_trust",
    "is_ibm_signing_subject",
    "load_crl_file",
    "load_root_ca",
    "load_trust_inputs",
    "parse_certificates",
    "parse_crls",
    "parse_pem",
    "select_signing_key",
    "signing_key_crl_issuers",
    "subject_hash",
    "validate_chain",
]
