"""What every command-line tool shares: parsing, logging, errors -> exit codes, files.

All printing and every ``sys.exit`` of secexkit live in the ``cli`` package.
Exit codes: 0 success, 1 error, 2 usage error.  A user sees one line per
error; ``-v`` adds the details and, for unexpected failures, the traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import IO, Any, NoReturn

from .. import fileio
from ..errors import InputError, SecexError, UsageError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2

log = logging.getLogger("secexkit")


_help_width: int | None = None


def _terminal_width() -> int:
    """What ``shutil.get_terminal_size`` gives, without importing shutil (and bz2, lzma...)."""
    global _help_width  # noqa: PLW0603 - computed once per process
    if _help_width is None:
        try:
            columns = int(os.environ.get("COLUMNS", "0"))
        except ValueError:
            columns = 0
        if columns <= 0:
            try:
                columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
            except (AttributeError, ValueError, OSError):
                columns = 80
        _help_width = max(columns, 20) - 2
    return _help_width


class _HelpFormatter(argparse.HelpFormatter):
    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         width if width is not None else _terminal_width())


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` instead of exiting.

    Long options are not abbreviated (as in the reference tools).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, f"For more information, try '{self.prog} --help'.")


class StoreOnce(argparse.Action):
    """Store a value; giving the option twice is a usage error (as in the reference)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        if getattr(namespace, self.dest, None) is not None:
            raise argparse.ArgumentError(self, "cannot be used multiple times")
        setattr(namespace, self.dest, values)


class DeprecatedVerbose(argparse._CountAction):
    """The reference's hidden ``-V``: counts like ``-v`` and says it is deprecated."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        print("WARNING: Use of deprecated flag '-V'. Use '-v' or '--verbose' instead.",
              file=sys.stderr)
        super().__call__(parser, namespace, values, option_string)


def add_verbosity(parser: argparse.ArgumentParser, *, dest_prefix: str = "",
                  default: Any = 0) -> None:
    """``-v``/``-q`` (repeatable) and the deprecated ``-V``; a sub-parser passes a prefix."""
    group = parser.add_argument_group("output verbosity")
    group.add_argument("-v", "--verbose", dest=dest_prefix + "verbose", action="count",
                       default=default, help="more messages (repeatable)")
    group.add_argument("-V", dest=dest_prefix + "verbose", action=DeprecatedVerbose,
                       default=default, help=argparse.SUPPRESS)
    group.add_argument("-q", "--quiet", dest=dest_prefix + "quiet", action="count",
                       default=default, help="fewer messages (repeatable)")


class IntermixedParser(ArgumentParser):
    """Positionals may come before, between and after options (``check IN -k K OUT``).

    Plain argparse consumes optional positionals (``nargs="?"``) as one block; the
    reference (clap) accepts them anywhere.  (Same as pvsecret's; one of them can go.)
    """

    _busy = False

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None
                         ) -> tuple[argparse.Namespace, list[str]]:
        if self._busy or (args is not None and "--" in args):
            # parse_known_intermixed_args calls back into us; it also loses "--"
            return super().parse_known_args(args, namespace)
        self._busy = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._busy = False


def positional_or_option(args: argparse.Namespace, pos: str, opt: str, what: str,
                         required: bool = True) -> str | None:
    """The value of ``IN`` or ``-i/--input`` (one of them; both is a usage error)."""
    a: str | None = getattr(args, pos)
    b: str | None = getattr(args, opt)
    if a is not None and b is not None:
        raise UsageError(f"the {what} was given twice (positional and --{opt})")
    value = a if a is not None else b
    if value is None and required:
        raise UsageError(f"the following required arguments were not provided: <{what.upper()}>")
    return value


def split_list(value: str) -> list[str]:
    """Repeatable options may also take comma-separated lists (as the reference)."""
    return [item for item in value.split(",") if item]


def add_list_option(parser: argparse._ActionsContainer, *flags: str, **kwargs: object) -> None:
    parser.add_argument(*flags, action="extend", type=split_list, **kwargs)  # type: ignore[arg-type]


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        # one line per message: names, labels and paths from inputs are escaped
        message = fileio.printable(message)
        if record.levelno <= logging.DEBUG:
            return f"DEBUG: {message}"
        return message


def setup_logging(verbose: int, quiet: int) -> int:
    """Warnings by default; each -v one level more, each -q one less."""
    level = 2 + verbose - quiet
    numeric = {0: logging.CRITICAL + 10, 1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO}
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    root = logging.getLogger("secexkit")
    root.handlers[:] = [handler]
    root.setLevel(numeric.get(level, logging.DEBUG) if level >= 0 else logging.CRITICAL + 10)
    return level


def _print_error(error: BaseException, details: Sequence[str], verbose: bool) -> None:
    """The one place errors are printed: one line, control characters escaped."""
    print(f"error: {fileio.printable(str(error))}", file=sys.stderr)
    if verbose:
        for line in details:
            for part in str(line).splitlines() or [""]:
                print(f"  {fileio.printable(part)}", file=sys.stderr)


def run(main: Callable[[argparse.Namespace], int], parser: argparse.ArgumentParser,
        argv: Sequence[str] | None) -> int:
    """Parse, run, and map exceptions to exit codes and one-line messages."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    verbose = sum(a in ("-v", "--verbose") or (a.startswith("-v") and set(a[1:]) == {"v"})
                  for a in args_list) > 0
    logger = logging.getLogger("secexkit")
    saved = logger.handlers[:], logger.level
    try:
        with fileio.raise_on_signals():  # SIGTERM/SIGHUP unwind like Ctrl-C: outputs cleaned up
            return _run(main, parser, args_list, verbose)
    finally:  # leave the process as it was (the CLI may run in-process, e.g. in tests)
        logger.handlers[:], logger.level = saved[0], saved[1]


def _run(main: Callable[[argparse.Namespace], int], parser: argparse.ArgumentParser,
         args_list: list[str], verbose: bool) -> int:
    try:
        args = parser.parse_args(args_list)
        if getattr(args, "verbose", 0) and getattr(args, "quiet", 0):
            raise UsageError("the argument '--quiet' cannot be used with '--verbose'")
        setup_logging(getattr(args, "verbose", 0), getattr(args, "quiet", 0))
        verbose = getattr(args, "verbose", 0) > 0
        return main(args)
    except UsageError as exc:
        _print_error(exc, exc.details, True)
        return EXIT_USAGE
    except SecexError as exc:
        _print_error(exc, exc.details, verbose)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except fileio.Interrupted as exc:
        print(f"error: terminated by signal {exc.signum}", file=sys.stderr)
        return 128 + exc.signum
    except BrokenPipeError:
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the final flush
        return EXIT_ERROR
    except Exception as exc:  # a bug: say so in one line; the traceback only on request
        if verbose:
            import traceback

            traceback.print_exc()
        print(f"error: internal error ({type(exc).__name__}: {fileio.printable(str(exc))}); "
              "run with -v for details", file=sys.stderr)
        return EXIT_ERROR


def read_file(path: str, what: str, *, allow_stdin: bool = False,
              limit: int = fileio.MAX_CERTIFICATE_FILE) -> bytes:
    """Read a whole input through :func:`secexkit.fileio.read_input` (bounded by ``limit``).

    The default limit is the one of a certificate or host-key document.
    """
    return fileio.read_input(path, what, limit, allow_stdin=allow_stdin)


def read_exact(path: str, size: int, what: str) -> bytes:
    """A key or secret file that must have exactly ``size`` bytes."""
    data = fileio.read_input(path, what, max(size, fileio.MAX_EXACT_KEY_FILE))
    if len(data) != size:
        raise InputError(f"{what} must be exactly {size} bytes long",
                         f"`{path}` has {len(data)} bytes")
    return data


def write_stdout(text: str) -> None:
    """Write ``text`` to standard output and flush it."""
    stream: IO[str] = sys.stdout
    stream.write(text)
    stream.flush()
