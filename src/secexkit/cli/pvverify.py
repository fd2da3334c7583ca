"""pvverify: verify host-key documents and print a verdict per document.

``pvverify -k HKD... (--no-verify | -C CERT...) [--crl FILE] [--offline] [--root-ca FILE]``

The chain of trust of the IBM Z signing key is established once (a failure there
is an error for all documents); then every document gets one line on stdout:
``<file>: OK, host-key hash <hex>`` or ``<file>: FAILED: <reason>; <hint>``.
Exit 0 if every document verified, 1 otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from collections.abc import Sequence

from ..errors import SecexError
from ..hostkeys import parse_host_key_document
from ._common import ArgumentParser, add_verbosity, read_file, run, write_stdout
from ._hostkeys import add_host_key_options, check_host_key_options, verified_host_key

log = logging.getLogger("secexkit.cli")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="pvverify",
        description="Verify IBM Secure Execution host-key documents against the IBM Z "
                    "signing key, its chain of trust and the CRLs.",
    )
    add_verbosity(parser)
    add_host_key_options(parser)
    return parser


def _verdict_text(exc: SecexError, source: str) -> str:
    prefix = f"Host-key verification failed for '{source}': "
    text = str(exc)
    return text[len(prefix):] if text.startswith(prefix) else text


def _main(args: argparse.Namespace) -> int:
    check_host_key_options(args)
    verify = None
    if args.no_verify:
        log.warning("Host-key document verification is disabled. The host-key documents are "
                    "only parsed.")
    else:
        from .. import trust

        inputs = trust.load_trust_inputs(args.cert, args.crl, args.root_ca)
        fetcher = None if args.offline else trust.HttpCrlFetcher()
        verify = trust.establish_trust(inputs, fetcher=fetcher, now=dt.datetime.now(dt.UTC))
    failed = 0
    for path in args.host_key_document:
        try:
            document = parse_host_key_document(read_file(path, "host-key document"), path)
            key = document.host_key if verify is None else verified_host_key(verify, document)
            key_hash = key.hash.hex()
        except SecexError as exc:
            failed += 1
            write_stdout(f"{path}: FAILED: {_verdict_text(exc, path)}\n")
            for line in exc.details:
                log.info("  %s", line)
            continue
        state = "OK" if verify is not None else "NOT VERIFIED"
        write_stdout(f"{path}: {state}, host-key hash {key_hash}\n")
    if failed:
        log.error("%d of %d host-key documents failed verification", failed,
                  len(args.host_key_document))
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
