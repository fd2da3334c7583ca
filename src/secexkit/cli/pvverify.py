"""pvverify: verify host-key documents and print a verdict per document.

``pvverify -k HKD... (--no-verify | -C CERT...) [--crl FILE] [--offline] [--root-ca FILE]
[--format text|json] [--warn-days N]``

The chain of trust of the IBM Z signing key is established once (a failure there
is an error for all documents); then every document gets one line on stdout:
``<file>: OK, host-key hash <hex>`` or ``<file>: FAILED: <reason>; <hint>``
(``--format json``: one JSON document with the verdicts and every date to watch).
Exit 0 if every document verified, 1 otherwise; 3 (:data:`EXIT_EXPIRING`) if all
verified but something expires within ``--warn-days`` days (ADR 0100).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from collections.abc import Sequence
from typing import Any

from ..errors import SecexError
from ..hostkeys import HostKey
from ._common import ArgumentParser, add_verbosity, examples_epilog, run, whole_number, write_stdout
from ._hostkeys import (
    add_host_key_options,
    check_host_key_options,
    read_host_key_documents,
    verification_report,
)

log = logging.getLogger("secexkit.cli")

#: every document verified, but a document, certificate or CRL expires within --warn-days
EXIT_EXPIRING = 3

#: examples from IBM's product documentation (verifying host-key documents)
EXAMPLES = (
    ("Verify a host-key document offline with the downloaded CRLs (\"Verifying host key "
     "documents\"):",
     "pvverify -k z16.crt --crt DigiCertCA.crt --crt ibm-z-host-key-signing.crt \\\n"
     "    --crl DigiCertCA.crl --crl ibm-z-host-key.crl --offline"),
    ("Monitoring: JSON verdicts and dates, exit 3 when anything expires within 30 days:",
     "pvverify -k z16.crt --crt DigiCertCA.crt --crt ibm-z-host-key-signing.crt \\\n"
     "    --format json --warn-days 30"),
)


def build_parser() -> ArgumentParser:
    """The pvverify command line."""
    parser = ArgumentParser(
        prog="pvverify",
        description="Verify IBM Secure Execution host-key documents against the IBM Z "
                    "signing key, its chain of trust and the CRLs, as pvsecret create and "
                    "pvimg create do, and print a verdict per document. Exit codes: 0 every "
                    "document verified, 1 a document (or the chain) failed, 2 usage error, "
                    f"{EXIT_EXPIRING} every document verified but something expires within "
                    "--warn-days.",
        epilog=examples_epilog(EXAMPLES),
    )
    add_verbosity(parser)
    add_host_key_options(parser)
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="Output format: text (default; one line per document) or json "
                             "(per document: verdict, host-key hash, not-after; the not-after "
                             "of the signing-key, intermediate and root certificates; each "
                             "CRL's next update; the --warn-days warnings).")
    parser.add_argument("--warn-days", metavar="N", type=whole_number(0, unit="days"), default=None,
                        help="Warn (one line on stderr each) about every host-key document, "
                             "certificate or CRL whose not-after or next update is within N "
                             f"days, and exit {EXIT_EXPIRING} if every document verified. "
                             "Default: no expiry warnings.")
    return parser


def _verdict_text(exc: SecexError, source: str) -> str:
    prefix = f"Host-key verification failed for '{source}': "
    text = str(exc)
    return text[len(prefix):] if text.startswith(prefix) else text


def _shown(path: str) -> str:
    """A file name safe for a one-line verdict (control characters escaped)."""
    return path if path.isprintable() else path.encode("unicode_escape").decode("ascii")


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Verdict:
    """One document: its key (if verified or parsed), error, and not-after."""

    def __init__(self, path: str, key: HostKey | None, error: SecexError | None,
                 not_after: dt.datetime | None) -> None:
        self.path = path
        self.key = key
        self.error = error
        self.not_after = not_after


def _unverified(path: str) -> _Verdict:
    try:
        document = read_host_key_documents([path])[0]
        return _Verdict(path, document.host_key, None, document.certificate.not_valid_after_utc)
    except SecexError as exc:
        return _Verdict(path, None, exc, None)


def _expiring(items: list[tuple[str, dt.datetime | None]], days: int,
              now: dt.datetime) -> list[str]:
    """A warning line per item whose date is within ``days`` days of ``now`` (or past).

    An item is ``(what, date)``; a CRL's ``what`` starts with "CRL" (its date is the
    next update, not an expiry).
    """
    limit = now + dt.timedelta(days=days)
    lines = []
    for what, when in items:
        if when is None or when > limit:
            continue
        left = (when - now).days
        in_days = f"in {left} day{'s' if left != 1 else ''}"
        if what.startswith("CRL"):
            state = (f"is past its next update ({_iso(when)})" if when <= now else
                     f"has its next update on {_iso(when)} ({in_days})")
        else:
            state = (f"expired on {_iso(when)}" if when <= now else
                     f"expires on {_iso(when)} ({in_days})")
        lines.append(f"{what} {state}")
    return lines


def _main(args: argparse.Namespace) -> int:
    check_host_key_options(args)
    now = dt.datetime.now(dt.UTC)
    certificates: list[Any] = []
    crls: list[Any] = []
    if args.no_verify:
        log.warning("Host-key document verification is disabled. The host-key documents are "
                    "only parsed.")
        verdicts = [_unverified(path) for path in args.host_key_document]
    else:
        report = verification_report(args)
        verdicts = [_Verdict(r.source, r.host_key, r.error, r.not_after)
                    for r in report.documents]
        certificates, crls = list(report.certificates), list(report.crls)
    dated: list[tuple[str, dt.datetime | None]] = [
        (f"host-key document '{_shown(v.path)}'", v.not_after) for v in verdicts
        if v.error is None]
    dated += [(f"{c.role} certificate '{c.subject}' ({_shown(c.source)})", c.not_after)
              for c in certificates]
    dated += [(f"CRL of '{c.issuer}' ({_shown(c.source)})", c.next_update)
              for c in crls]
    warnings = [] if args.warn_days is None else _expiring(dated, args.warn_days, now)
    failed = sum(v.error is not None or v.key is None for v in verdicts)
    if args.format == "json":
        _print_json(args, verdicts, certificates, crls, warnings)
    else:
        _print_text(args, verdicts)
    for line in warnings:
        log.warning("WARNING: %s", line)
    if failed:
        log.error("%d of %d host-key documents failed verification", failed,
                  len(args.host_key_document))
        return 1
    return EXIT_EXPIRING if warnings else 0


def _print_text(args: argparse.Namespace, verdicts: list[_Verdict]) -> None:
    for verdict in verdicts:
        path = _shown(verdict.path)
        if verdict.error is not None:
            write_stdout(f"{path}: FAILED: {_verdict_text(verdict.error, path)}\n")
            for line in verdict.error.details:
                log.info("  %s", line)
            continue
        assert verdict.key is not None
        state = "OK" if not args.no_verify else "NOT VERIFIED"
        write_stdout(f"{path}: {state}, host-key hash {verdict.key.hash.hex()}\n")


def _print_json(args: argparse.Namespace, verdicts: list[_Verdict], certificates: list[Any],
                crls: list[Any], warnings: list[str]) -> None:
    import json

    documents = []
    for verdict in verdicts:
        ok = verdict.error is None and verdict.key is not None
        documents.append({
            "file": verdict.path,
            "verdict": ("failed" if not ok else "not-verified" if args.no_verify else "ok"),
            "host_key_hash": verdict.key.hash.hex() if verdict.key is not None else None,
            "not_after": _iso(verdict.not_after),
            "error": (None if verdict.error is None
                      else _verdict_text(verdict.error, _shown(verdict.path))),
        })
    document = {
        "documents": documents,
        "certificates": [{"role": c.role, "subject": c.subject, "file": c.source,
                          "not_after": _iso(c.not_after)} for c in certificates],
        "crls": [{"issuer": c.issuer, "file": c.source, "next_update": _iso(c.next_update)}
                 for c in crls],
        "warn_days": args.warn_days,
        "warnings": warnings,
    }
    write_stdout(json.dumps(document, indent=2) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run pvverify; the exit code."""
    return run(_main, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
