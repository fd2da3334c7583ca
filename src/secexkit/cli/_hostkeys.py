"""Host-key document options shared by ``pvsecret create``, ``pvimg create`` and ``pvverify``.

``-k/--host-key-document`` (required, repeatable, comma lists), and exactly one
of ``--no-verify`` / ``-C/--cert/--crt``; ``--crl``, ``--offline``, ``--root-ca``.
Verification is one call of the library (:func:`secexkit.trust.verify_host_key_documents`
or :func:`~secexkit.trust.check_host_key_documents`); this module only maps options to
its arguments and the library's :class:`~secexkit.trust.Term` hints to option names.
``SECEXKIT_DOWNLOAD_BUDGET`` (seconds) sets the time all CRL downloads of a run may take.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import SecexError, UsageError
from ..fileio import MAX_CERTIFICATE_FILE, read_input
from ..hostkeys import HostKey, HostKeyDocument, parse_host_key_document
from ._common import add_list_option

if TYPE_CHECKING:
    from ..trust import DocumentResult, FetchLimits, Term
    from ..trust.api import VerificationReport
    from ..trust.verifier import HostKeyVerifier

log = logging.getLogger("secexkit.cli")

BUDGET_ENV = "SECEXKIT_DOWNLOAD_BUDGET"


def add_host_key_options(parser: argparse._ActionsContainer, *, prefix: str = "",
                         default: Any = None) -> None:
    """Add the options; ``prefix``/``default`` let a sub-parser repeat them (see pvsecret)."""
    def dflt(value: Any) -> Any:
        return value if default is None else default

    add_list_option(parser, "-k", "--host-key-document", dest=prefix + "host_key_document",
                    metavar="FILE", default=dflt([]),
                    help="Host-key document of an IBM Z or LinuxONE machine (X.509, PEM or "
                         "DER). Required; repeatable or comma-separated, 1 to 255 (pvimg "
                         "create: 95) documents, one key slot each.")
    parser.add_argument("--no-verify", dest=prefix + "no_verify", action="store_true",
                        default=dflt(False),
                        help="Do not verify the host-key documents (a warning is printed); "
                             "not recommended. Exactly one of --no-verify and --cert.")
    add_list_option(parser, "-C", "--cert", "--crt", dest=prefix + "cert", metavar="FILE",
                    default=dflt([]),
                    help="The IBM Z signing-key certificate and the intermediate CA "
                         "certificate (e.g. DigiCertCA.crt and ibm-z-host-key-signing.crt), "
                         "PEM or DER; repeatable or comma-separated. Turns verification on.")
    add_list_option(parser, "--crl", dest=prefix + "crl", metavar="FILE", default=dflt([]),
                    help="Certificate revocation lists (PEM, several per file, or DER); "
                         "repeatable. Missing CRLs are downloaded from the certificates' "
                         "distribution points unless --offline.")
    parser.add_argument("--offline", dest=prefix + "offline", action="store_true",
                        default=dflt(False),
                        help="Do not download CRLs: every CRL must be given with --crl.")
    parser.add_argument("--root-ca", dest=prefix + "root_ca", metavar="FILE",
                        default=dflt(None),
                        help="The trusted root CA certificate. Default: the system's trusted "
                             "roots (SSL_CERT_FILE and SSL_CERT_DIR are honoured).")


def check_host_key_options(args: argparse.Namespace) -> None:
    """Usage errors of the host-key options (before anything is read)."""
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


def cli_terms() -> Mapping[Term, str]:
    """How the CLI names the inputs a library message points to."""
    from ..trust import Term

    return {
        Term.CERTIFICATES: "with --cert",
        Term.CRLS: "with --crl",
        Term.ROOT_CA: "with --root-ca",
        Term.ALLOW_DOWNLOADS: "drop --offline",
        Term.CERTIFICATE_INPUTS: "--cert files",
        Term.MORE_DETAILS: "see -v",
    }


def cli_error(error: SecexError) -> SecexError:
    """``error`` with the CLI's option names in place of the library's words."""
    from ..trust import TrustError

    if not isinstance(error, TrustError):
        return error
    rendered = TrustError(error.render(cli_terms()), *error.details, check=error.check,
                          reason=error.reason, level=error.level, code=error.code,
                          document=error.document)
    return rendered


def cli_message(error: SecexError) -> str:
    """The one-line message the CLI prints for ``error``."""
    return str(cli_error(error))


def download_limits() -> FetchLimits | None:
    """The download limits of this run: ``$SECEXKIT_DOWNLOAD_BUDGET`` or the defaults."""
    value = os.environ.get(BUDGET_ENV)
    if not value:
        return None
    from ..trust import FetchLimits

    try:
        budget = float(value)
        return FetchLimits(budget=budget, timeout=min(FetchLimits().timeout, budget))
    except ValueError:
        raise UsageError(f"{BUDGET_ENV} must be a positive number of seconds, "
                         f"not {value!r}") from None


def verified_host_key(verifier: HostKeyVerifier, document: HostKeyDocument) -> HostKey:
    """Verify ``document`` and return its host key (see :func:`secexkit.trust.api.verified_host_key`)."""
    from ..trust.api import verified_host_key as verify

    return verify(verifier, document)


def read_host_key_documents(paths: list[str]) -> list[HostKeyDocument]:
    """Read and parse (not verify) every document, bounded."""
    return [parse_host_key_document(read_input(path, "host-key document", MAX_CERTIFICATE_FILE),
                                    path)
            for path in paths]


def check_documents(args: argparse.Namespace) -> list[DocumentResult]:
    """A verdict per ``-k`` document (trust set-up failures raise), CLI wording."""
    from ..trust import DocumentResult, TrustError, check_host_key_documents

    try:
        results = check_host_key_documents(
            args.host_key_document, args.cert, args.crl, args.root_ca, offline=args.offline,
            limits=download_limits())
    except TrustError as exc:
        raise cli_error(exc) from None
    return [DocumentResult(r.source, r.host_key, None if r.error is None else cli_error(r.error))
            for r in results]


def verification_report(args: argparse.Namespace) -> VerificationReport:
    """:func:`check_documents` plus the dates of the chain and the CRLs (``pvverify``)."""
    from ..trust import TrustError
    from ..trust.api import VerificationReport, host_key_verification_report

    try:
        report = host_key_verification_report(
            args.host_key_document, args.cert, args.crl, args.root_ca, offline=args.offline,
            limits=download_limits())
    except TrustError as exc:
        raise cli_error(exc) from None
    for result in report.documents:
        if result.error is not None:
            result.error = cli_error(result.error)
    return VerificationReport(report.documents, report.certificates, report.crls)


def load_host_keys(args: argparse.Namespace, protectee: str) -> list[HostKey]:
    """Read (and unless ``--no-verify`` verify) every ``-k`` document, in order.

    Raises the first failure (one line naming the document and the check, details for
    ``-v``) before anything is written.
    """
    check_host_key_options(args)
    if args.no_verify:
        log.warning("Host-key document verification is disabled. The %s may not be protected.",
                    protectee)
        documents = read_host_key_documents(args.host_key_document)
        for document in documents:
            log.info("Use host-key document at '%s'", document.source)
        return [document.host_key for document in documents]
    keys = []
    for result in check_documents(args):
        if result.error is not None:
            raise result.error
        assert result.host_key is not None
        log.info("Use host-key document at '%s'", result.source)
        keys.append(result.host_key)
    return keys
