"""pvverify: verify host-key documents and print a verdict per document.

``pvverify -k HKD... (--no-verify | -C CERT...) [--crl FILE] [--offline] [--root-ca FILE]``

The chain of trust of the IBM Z signing key is established once (a failure there
is an error for all documents); then every document gets one line on stdout:
``<file>: OK, host-key hash <hex>`` or ``<file>: FAILED: <reason>; <hint>``.
Exit 0 if every document verified, 1 otherwise.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ..errors import SecexError
from ..hostkeys import HostKey
from ._common import ArgumentParser, add_verbosity, run, write_stdout
from ._hostkeys import (
    add_host_key_options,
    check_documents,
    check_host_key_options,
    read_host_key_documents,
)

log = logging.getLogger("secexkit.cli")


def build_parser() -> ArgumentParser:
    """The pvverify command line."""
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


def _shown(path: str) -> str:
    """A file name safe for a one-line verdict (control characters escaped)."""
    return path if path.isprintable() else path.encode("unicode_escape").decode("ascii")


def _unverified(path: str) -> HostKey:
    return read_host_key_documents([path])[0].host_key


def _main(args: argparse.Namespace) -> int:
    check_host_key_options(args)
    verdicts: list[tuple[str, HostKey | None, SecexError | None]] = []
    if args.no_verify:
        log.warning("Host-key document verification is disabled. The host-key documents are "
                    "only parsed.")
        for path in args.host_key_document:
            try:
                verdicts.append((path, _unverified(path), None))
            except SecexError as exc:
                verdicts.append((path, None, exc))
    else:
        verdicts = [(r.source, r.host_key, r.error) for r in check_documents(args)]
    failed = 0
    for path, key, error in verdicts:
        if error is not None or key is None:
            failed += 1
            if error is not None:
                write_stdout(f"{_shown(path)}: FAILED: {_verdict_text(error, _shown(path))}\n")
                for line in error.details:
                    log.info("  %s", line)
            continue
        state = "OK" if not args.no_verify else "NOT VERIFIED"
        write_stdout(f"{_shown(path)}: {state}, host-key hash {key.hash.hex()}\n")
    if failed:
        log.error("%d of %d host-key documents failed verification", failed,
                  len(args.host_key_document))
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run pvverify; the exit code."""
    return run(_main, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
