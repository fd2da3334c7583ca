"""Host-key document options shared by ``pvsecret create`` and ``pvimg create``.

``-k/--host-key-document`` (required, repeatable, comma lists), and exactly one
of ``--no-verify`` / ``-C/--cert/--crt``; ``--crl``, ``--offline``, ``--root-ca``.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from ..errors import InputError, UsageError
from ..hostkeys import HostKey, HostKeyDocument, parse_host_key_document
from ._common import add_list_option, read_file

log = logging.getLogger("secexkit.cli")

def add_host_key_options(parser: argparse._ActionsContainer, *, prefix: str = "",
                         default: Any = None) -> None:
    """Add the options; ``prefix``/``default`` let a sub-parser repeat them (see pvsecret)."""
    def dflt(value: Any) -> Any:
        return value if default is None else default

    add_list_option(parser, "-k", "--host-key-document", dest=prefix + "host_key_document",
                    metavar="FILE", default=dflt([]),
                    help="host-key document (X.509, PEM or DER); repeatable, comma lists")
    parser.add_argument("--no-verify", dest=prefix + "no_verify", action="store_true",
                        default=dflt(False),
                        help="do not verify the host-key documents (not recommended)")
    add_list_option(parser, "-C", "--cert", "--crt", dest=prefix + "cert", metavar="FILE",
                    default=dflt([]),
                    help="IBM Z signing-key and intermediate CA certificates; repeatable")
    add_list_option(parser, "--crl", dest=prefix + "crl", metavar="FILE", default=dflt([]),
                    help="certificate revocation lists (PEM or DER); repeatable")
    parser.add_argument("--offline", dest=prefix + "offline", action="store_true",
                        default=dflt(False), help="do not download CRLs")
    parser.add_argument("--root-ca", dest=prefix + "root_ca", metavar="FILE",
                        default=dflt(None),
                        help="trusted root CA (default: the system's trusted roots)")


def check_host_key_options(args: argparse.Namespace) -> None:
    if not args.host_key_document:
        raise UsageError("the following required arguments were not provided: "
                         "--host-key-document <FILE>")
    if args.no_verify and args.cert:
        raise UsageError("the argument '--no-verify' cannot be used with '--cert <FILE>'")
    if not args.no_verify and not args.cert:
        raise UsageError("the following required arguments were not provided: "
                         "<--no-verify|--cert <FILE>>")
    if not args.no_verify and args.root_ca is not None and not args.root_ca.strip():
        raise UsageError("the value of '--root-ca <FILE>' is empty: name the trusted root CA "
                         "file, or leave the option out to use the system's trusted roots")


def verified_host_key(verifier: Any, document: HostKeyDocument) -> HostKey:
    """Verify ``document`` with a :class:`~secexkit.trust.HostKeyVerifier` and return its
    host key, making sure the key is the one of the certificate that was verified."""
    from ..trust._load import quiet_parsing

    with quiet_parsing():  # e.g. a non-positive serial: cryptography warns while loading
        certificate = document.certificate
    verifier.verify(certificate, document.source)
    key = document.host_key
    if not _same_key(key, certificate):
        raise InputError(f"The host-key document {document.source} is ambiguous: its key "
                         "differs between the certificate parsers")
    return key


def _same_key(key: HostKey, certificate: Any) -> bool:
    from cryptography.hazmat.primitives import serialization

    def point(public_key: Any) -> bytes:
        raw: bytes = public_key.public_bytes(serialization.Encoding.X962,
                                             serialization.PublicFormat.UncompressedPoint)
        return raw

    try:
        return point(key.public_key) == point(certificate.public_key())
    except (ValueError, TypeError, AttributeError):
        return False


def read_host_key_documents(paths: list[str]) -> list[HostKeyDocument]:
    documents = []
    for path in paths:
        data = read_file(path, "host-key document")
        documents.append(parse_host_key_document(data, path))
    return documents


def load_host_keys(args: argparse.Namespace, protectee: str) -> list[HostKey]:
    """Read (and unless ``--no-verify`` verify) every ``-k`` document, in order."""
    check_host_key_options(args)
    if args.no_verify:
        log.warning("Host-key document verification is disabled. The %s may not be protected.",
                    protectee)
        documents = read_host_key_documents(args.host_key_document)
        for document in documents:
            log.info("Use host-key document at '%s'", document.source)
        return [document.host_key for document in documents]
    return _verified_host_keys(args)


def _verified_host_keys(args: argparse.Namespace) -> list[HostKey]:
    """Establish trust in the IBM Z signing key, then verify every document in order.

    The trust package is imported here only, so ``--no-verify`` never pays for it.
    Raises :class:`~secexkit.errors.VerificationError` (one line naming the document
    and the check, details for ``-v``) before anything is written.
    """
    import datetime as dt

    from .. import trust

    now = dt.datetime.now(dt.UTC)
    inputs = trust.load_trust_inputs(args.cert, args.crl, args.root_ca)
    fetcher = None if args.offline else trust.HttpCrlFetcher()
    verifier = trust.establish_trust(inputs, fetcher=fetcher, now=now)
    keys = []
    for path in args.host_key_document:
        document = parse_host_key_document(read_file(path, "host-key document"), path)
        keys.append(verified_host_key(verifier, document))
        log.info("Use host-key document at '%s'", document.source)
    return keys
