"""secexkit-testpki: generate a complete test PKI (root CA, intermediate CA, an IBM-Z-like
signing key, CRLs, host-key documents with their private keys) for testing pipelines
with full host-key verification instead of ``--no-verify``."""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import InputError, UsageError
from ..testing.pki import generate_pki
from ._common import ArgumentParser, run, whole_number, write_stdout

#: the longest validity --days accepts (certificate dates end in the year 9999)
MAX_DAYS = 36525


def build_parser() -> ArgumentParser:
    """The secexkit-testpki command line."""
    parser = ArgumentParser(
        prog="secexkit-testpki",
        description="Generate a test PKI into OUTDIR: root CA, intermediate CA, an "
                    "IBM-Z-like host-key signing certificate, a CRL for each issuer and N "
                    "host-key documents (host-N.crt) with their private keys (host-N.key, "
                    "mode 0600). For tests only. Prints the pvverify command line that "
                    "verifies the first document offline.",
    )
    parser.add_argument("outdir", metavar="OUTDIR", help="Output folder (created if missing).")
    parser.add_argument("--hosts", type=whole_number(1), default=1, metavar="N",
                        help="Number of host-key documents (default: 1).")
    parser.add_argument("--days", type=whole_number(1, MAX_DAYS, "days"), default=365, metavar="D",
                        help="Validity of certificates and CRLs in days (default: 365; at most "
                             f"{MAX_DAYS}, a hundred years).")
    parser.add_argument("--force", action="store_true",
                        help="Write into a folder that is not empty (the PKI's files are "
                             "replaced, host-key documents beyond N removed, other files kept).")
    parser.add_argument("--crl-url-base", metavar="URL",
                        help="Name URL/<crl file> as CRL distribution point in the "
                             "certificates (e.g. http://127.0.0.1:8000).")
    return parser


def _main(args: argparse.Namespace) -> int:
    if args.crl_url_base is not None and not args.crl_url_base.startswith(
            ("http://", "https://")):
        raise UsageError(f"--crl-url-base: not an http(s) URL: {args.crl_url_base!r}")
    out = Path(args.outdir)
    if out.is_dir() and any(out.iterdir()) and not args.force:
        raise InputError(f"`{args.outdir}` is not empty: a test PKI goes into a new or empty "
                         "folder (or use --force to replace the PKI files in it)")
    pki = generate_pki(args.hosts, days=args.days, crl_url_base=args.crl_url_base)
    try:
        files = pki.write(args.outdir)
    except OSError as exc:
        raise InputError(f"Cannot write the test PKI to {args.outdir!r}: "
                         f"{exc.strerror or exc}") from None
    stale = re.compile(r"host-(\d+)\.(crt|key)")
    for path in out.iterdir():  # documents of an earlier, larger PKI do not match this one
        match = stale.fullmatch(path.name)
        if match and int(match.group(1)) > args.hosts and path.is_file():
            path.unlink()
    write_stdout(shlex.join(["pvverify", *files.pvverify_args()]) + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run secexkit-testpki; the exit code."""
    return run(_main, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
