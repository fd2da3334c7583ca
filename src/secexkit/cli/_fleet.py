"""``pvsecret plan``: the requests of every guest of a plan file (ADR 0120, 0121).

Thin layer over :func:`secexkit.addsecret.fleet.run_plan`: options, progress on a
terminal, and the JSON summary (streamed, so memory does not grow with the guests).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import IO, Any

from ..errors import UsageError
from ._common import ArgumentParser, StoreOnce

log = logging.getLogger("secexkit.cli")

#: the version of the JSON summary
SUMMARY_VERSION = 1


def fill_plan(parser: ArgumentParser) -> None:
    """The options of ``pvsecret plan``."""
    parser.add_argument("plan", metavar="PLAN", help="the plan file (YAML, see the README)")
    parser.add_argument("-o", "--output", action=StoreOnce, metavar="DIR", required=True,
                        help="where the guest folders go (created if missing)")
    parser.add_argument("-j", "--jobs", type=int, metavar="N", default=None,
                        help="worker processes (default: the number of cores)")
    parser.add_argument("--shard", metavar="I/N", default="1/1",
                        help="only the guests whose 0-based plan index i has i %% N == I-1")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing guest folders (default: leave them alone)")
    parser.add_argument("--dry-run", action="store_true",
                        help="check the plan and verify the documents; write nothing")
    parser.add_argument("--summary", action=StoreOnce, metavar="FILE",
                        help="write the JSON summary to FILE (default stdout)")
    parser.add_argument("--no-sync", action="store_true",
                        help="do not flush the output to disk before a guest folder appears (by "
                             "default each batch of guests is flushed once, then renamed into "
                             "place)")
    parser.add_argument("-f", "--force", action="store_true",
                        help="create requests even inside an SE guest")


def _shard(text: str) -> tuple[int, int]:
    number, _, count = text.partition("/")
    try:
        shard = int(number), int(count)
    except ValueError:
        raise UsageError(f"invalid value '{text}' for '--shard <I/N>': expected e.g. 2/4") from None
    if not 1 <= shard[0] <= shard[1]:
        raise UsageError(f"invalid value '{text}' for '--shard <I/N>': 1 <= I <= N")
    return shard


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class _Progress:
    """``[####....] done/total guests, N failed`` on one line of standard error.

    Shown only when standard error is a terminal, ``-q`` was not given, and the JSON
    summary does not go to that terminal too (then its lines are the progress).  Other
    messages clear the line first (:meth:`clear`); :meth:`end` finishes it with a newline.
    """

    def __init__(self, on: bool) -> None:
        self.on = on
        self.total = 0
        self.done = 0
        self.failed = 0
        self.shown = False

    def update(self, failed: bool) -> None:
        self.done += 1
        self.failed += failed
        if self.on and (self.done == self.total or self.done % 10 == 0 or failed):
            self.draw()

    def draw(self) -> None:
        width = 30
        filled = width * min(self.done, self.total) // max(self.total, 1)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] "
                         f"{self.done}/{self.total} guests, {self.failed} failed")
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        """Erase the progress line (before another message is written)."""
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self.shown = False

    def end(self) -> None:
        """End the progress line (also when the run stops early)."""
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.shown = False


def cmd_plan(args: argparse.Namespace) -> int:
    """Run the plan; exit 0 if every guest was written (or existed), 1 if any failed."""
    from .. import fileio
    from ..addsecret.fleet import PlanSummary, run_plan
    from ._hostkeys import cli_error, download_limits
    from .pvsecret import _refuse_on_se_guest

    shard = _shard(args.shard)
    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    if jobs < 1:
        raise UsageError(f"invalid value '{jobs}' for '--jobs <N>': at least 1")
    _refuse_on_se_guest(args.force)
    if args.summary is not None:
        fileio.check_distinct([("--summary", args.summary)], [("PLAN", args.plan)])
        fileio.check_output(args.summary)
    summary = PlanSummary()
    progress = _Progress(_is_terminal(sys.stderr) and not getattr(args, "quiet", 0)
                         and (args.summary is not None or not _is_terminal(sys.stdout)))

    def checked(done: PlanSummary) -> None:
        progress.total = done.guests
        for source, error in done.failed_documents.items():
            log.warning("The host-key document %s was refused: %s", source, error)

    results = run_plan(args.plan, args.output, jobs=jobs, overwrite=args.overwrite,
                       dry_run=args.dry_run, shard=shard, sync=not args.no_sync,
                       limits=download_limits(), summary=summary, on_checked=checked)
    try:
        first = next(results, None)  # plan and trust errors raise here, before any output
    except Exception as exc:
        from ..errors import SecexError

        if isinstance(exc, SecexError):
            raise cli_error(exc) from None
        raise
    stopped: list[Exception] = []
    try:
        with fileio.OutputTransaction() as outputs:
            stream: IO[bytes] = (outputs.open(args.summary) if args.summary is not None
                                 else sys.stdout.buffer)
            failed = _write_summary(stream, args, summary, first, results=results,
                                    progress=progress, stopped=stopped)
            stream.flush()
    finally:  # the error message of an interrupted run starts on a line of its own
        progress.end()
    log.warning("%d %s: %s", summary.guests, "guest" if summary.guests == 1 else "guests",
                ", ".join(f"{n} {status}" for status, n in sorted(summary.counts.items()))
                or "nothing to do")
    if stopped:
        from ..errors import SecexError

        error = stopped[0]
        raise cli_error(error) if isinstance(error, SecexError) else error
    return 1 if failed else 0


def _write_summary(stream: IO[bytes], args: argparse.Namespace, summary: Any, first: Any, *,
                   results: Any, progress: _Progress, stopped: list[Exception]) -> int:
    """Stream ``{"version", "plan", ..., "guests": [...], "counts"}``; the number failed.

    A run stopped by a dead worker still gets its summary (with ``"stopped"``: why) and
    the :class:`~secexkit.addsecret.fleet.WorkerError` is appended to ``stopped``.
    """
    from ..addsecret.fleet import WorkerError

    def put(text: str) -> None:
        stream.write(text.encode("utf-8"))

    head = {"distinct": summary.documents, "refused": summary.failed_documents}
    put(f'{{"version": {SUMMARY_VERSION}, "plan": {json.dumps(args.plan)}, '
        f'"output": {json.dumps(args.output)}, "dry_run": {json.dumps(args.dry_run)}, '
        f'"shard": {json.dumps(args.shard)},\n "documents": {json.dumps(head)},\n "guests": [')
    failed = 0
    separator = "\n  "
    result = first
    while result is not None:
        failed += result.status == "failed"
        if result.status == "failed":
            progress.clear()
            log.error("guest '%s' (plan line %d): %s", result.name, result.line, result.error)
        put(separator + json.dumps(result.to_json()))
        separator = ",\n  "
        progress.update(result.status == "failed")
        try:
            result = next(results, None)
        except WorkerError as exc:  # the guests so far are complete: say so, then fail
            stopped.append(exc)
            result = None
    counts = json.dumps(dict(sorted(summary.counts.items())))
    ending = f',\n "stopped": {json.dumps(str(stopped[0]))}' if stopped else ""
    put(f'],\n "counts": {counts}{ending}}}\n')
    return failed
