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
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any, NoReturn

from .. import fileio
from ..errors import SecexError, UsageError

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


def first_sentence(text: str) -> str:
    """The summary of a help text: its first sentence (what ``-h`` shows)."""
    import re

    match = re.search(r"\.\s+(?=[A-Z(])", text)
    return text if match is None else text[:match.start() + 1]


class _HelpFormatter(argparse.HelpFormatter):
    """Help text: paragraphs are reflowed, but indented lines (examples) are kept as written.

    ``short``: only the first sentence of each option's help (``-h``).
    """

    short = False

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         width if width is not None else _terminal_width())

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        import textwrap

        out = []
        for paragraph in text.split("\n\n"):
            lines = paragraph.splitlines()
            if not any(line.startswith(" ") for line in lines):
                lines = [" ".join(paragraph.split())]
            out.append("\n".join(
                indent + line if line.startswith(" ") else
                textwrap.fill(line, width, initial_indent=indent, subsequent_indent=indent)
                for line in lines))
        return "\n\n".join(out)

    def _expand_help(self, action: argparse.Action) -> str:
        text = super()._expand_help(action)
        return first_sentence(text) if self.short else text


class _HelpAction(argparse.Action):
    """``-h``: the summary; ``--help``: every detail and the examples (as s390-tools)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0,
                         help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        short = option_string == "-h"
        text = (parser.format_help(short=short) if isinstance(parser, ArgumentParser)
                else parser.format_help())
        parser._print_message(text, sys.stdout)
        parser.exit()


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` instead of exiting.

    Long options are not abbreviated (as in the reference tools).  ``-h`` prints a
    summary (first sentence of each help text, no examples), ``--help`` the full help
    with the ``epilog`` (examples).  An unknown option gets "did you mean ..." (see
    :func:`suggest_option`), and usage errors point to the help of the sub-command
    that was being parsed (``pvsecret create meta --help``).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", _HelpFormatter)
        add_help = kwargs.pop("add_help", True)
        kwargs["add_help"] = False
        super().__init__(*args, **kwargs)
        self._short_help = False
        if add_help:
            self.add_argument("-h", action=_HelpAction,
                              help="Print a summary of the help and exit (--help: all of it).")
            self.add_argument("--help", action=_HelpAction,
                              help="Print the help with every detail and examples, and exit.")

    def format_help(self, *, short: bool = False) -> str:
        """The help text; ``short``: the summary that ``-h`` prints."""
        saved = self.epilog
        self._short_help = short
        if short and saved:
            self.epilog = f"Run '{self.prog} --help' for details and examples."
        try:
            return super().format_help()
        finally:
            self.epilog = saved
            self._short_help = False

    def _get_formatter(self) -> argparse.HelpFormatter:
        formatter = super()._get_formatter()
        if isinstance(formatter, _HelpFormatter):
            formatter.short = self._short_help
        return formatter

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, f"For more information, try '{self.prog} --help'.")

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        tokens = list(sys.argv[1:] if args is None else args)
        masked, originals = _mask_single_dash_words(self, tokens)
        parsed, extras = self.parse_known_args(masked, namespace)
        if extras:
            extras = [originals.get(e, e) for e in extras]
            selected_parser(self, parsed).unrecognized(extras, tokens)
        return parsed

    def unrecognized(self, extras: Sequence[str], tokens: Sequence[str]) -> NoReturn:
        """The usage error for arguments nobody took, with "did you mean" where possible."""
        options = [e for e in extras if e.startswith("-") and e != "-"]
        if not options:  # surplus positional arguments
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        parts = []
        fixed = list(tokens)
        for option in options:
            suggestion = suggest_option(self, option)
            if suggestion is None:
                parts.append(f"unrecognized argument '{option}'")
                continue
            parts.append(f"unrecognized argument '{option}': did you mean "
                         f"'{' '.join(suggestion)}'?")
            if option in fixed:
                at = fixed.index(option)
                fixed[at:at + 1] = suggestion
        details = []
        if fixed != list(tokens):
            command = self.prog.split()[0]
            details.append(f"That is: {command} {' '.join(_quoted(t) for t in fixed)}")
        details.append(f"For more information, try '{self.prog} --help'.")
        raise UsageError("; ".join(parts), *details)


def _quoted(token: str) -> str:
    import shlex

    return shlex.quote(token)


_MASK = "\0"


def _words(parser: argparse.ArgumentParser) -> set[str]:
    """Long option names (without ``--``) and option choices of ``parser`` and its sub-parsers."""
    found: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in {id(p): p for p in action.choices.values()}.values():
                found |= _words(sub)
            continue
        found.update(o[2:] for o in action.option_strings if o.startswith("--"))
        if action.choices is not None and action.option_strings:
            found.update(str(choice) for choice in action.choices)
    return found


def _mask_single_dash_words(parser: argparse.ArgumentParser, tokens: Sequence[str]
                            ) -> tuple[list[str], dict[str, str]]:
    """``-cck``, ``-aes``, ``-offline``: a long option or an option value written with one dash.

    argparse would read ``-offline`` as ``-o ffline`` and ``-hmac-sha`` as ``-h``; such a
    token is made an unknown option instead, so it gets "did you mean" (ADR 0101).
    """
    words: set[str] | None = None
    masked: list[str] = []
    originals: dict[str, str] = {}
    for number, token in enumerate(tokens):
        if token == "--":
            masked.extend(tokens[number:])
            break
        if len(token) > 2 and token[0] == "-" and token[1] != "-" and "=" not in token:
            words = _words(parser) if words is None else words
            if token[1:] in words:
                stand_in = "--" + token[1:] + _MASK
                originals[stand_in] = token
                masked.append(stand_in)
                continue
        masked.append(token)
    return masked, originals


def selected_parser(parser: argparse.ArgumentParser,
                    namespace: argparse.Namespace) -> ArgumentParser:
    """The innermost sub-parser that ``namespace`` went through (e.g. ``pvsecret create meta``)."""
    current = parser
    while True:
        sub = next((a for a in current._actions if isinstance(a, argparse._SubParsersAction)),
                   None)
        chosen = None if sub is None else getattr(namespace, sub.dest, None)
        if sub is None or chosen is None or chosen not in sub.choices:
            break
        current = sub.choices[chosen]
    assert isinstance(current, ArgumentParser)
    return current


def _long_options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """The visible long options of ``parser`` (hidden ones are not suggested)."""
    found = {}
    for action in parser._actions:
        if action.help == argparse.SUPPRESS:
            continue
        for name in action.option_strings:
            if name.startswith("--"):
                found[name] = action
    return found


def suggest_option(parser: argparse.ArgumentParser, token: str) -> list[str] | None:
    """What an unknown option probably meant, as replacement tokens, or None.

    Rules (ADR 0101), in order: a long option written with one dash (``-cck`` ->
    ``--cck``); a value of an option with fixed choices written as an option
    (``-aes`` -> ``--type aes``); a close misspelling of a long option
    (``--hrd`` -> ``--hdr``, difflib ratio >= 0.8).  ``=VALUE`` is kept.
    """
    import difflib

    name, eq, value = token.lstrip("-").partition("=")
    if not name:
        return None
    options = _long_options(parser)
    tail = [value] if eq else []
    if "--" + name in options and not token.startswith("--"):
        return ["--" + name, *tail]
    if not eq:
        for option, action in options.items():
            if action.choices is not None and name in action.choices:
                return [option, name]
    close = difflib.get_close_matches("--" + name, list(options), n=1, cutoff=0.8)
    if close:
        return [close[0], *tail]
    return None


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
                       default=default, help="More messages (repeatable).")
    group.add_argument("-V", dest=dest_prefix + "verbose", action=DeprecatedVerbose,
                       default=default, help=argparse.SUPPRESS)
    group.add_argument("-q", "--quiet", dest=dest_prefix + "quiet", action="count",
                       default=default, help="Fewer messages (repeatable).")


def examples_epilog(examples: Sequence[tuple[str, str]]) -> str | None:
    """The ``--help`` epilog: each example's text, then its command indented."""
    if not examples:
        return None
    parts = ["examples:"]
    for text, command in examples:
        parts.append(text + "\n" + "\n".join("  " + line for line in command.splitlines()))
    return "\n\n".join(parts)


class IntermixedParser(ArgumentParser):
    """Positionals may come before, between and after options (``check IN -k K OUT``).

    Plain argparse consumes optional positionals (``nargs="?"``) as one block; the
    reference (clap) accepts them anywhere.
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
    """A repeatable option whose values may also be comma-separated lists."""
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


def whole_number(minimum: int, maximum: int | None = None,
                 unit: str = "") -> Callable[[str], int]:
    """An argparse ``type``: a whole number from ``minimum`` to ``maximum`` (``unit``
    names what is counted, for the message)."""
    of = f" of {unit}" if unit else ""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{value}' is not a whole number{of}") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"'{value}' is less than {minimum}")
        if maximum is not None and number > maximum:
            raise argparse.ArgumentTypeError(f"'{value}' is more than {maximum}")
        return number

    return parse


Command = Callable[[argparse.Namespace], int]


def dispatch(args: argparse.Namespace, commands: Mapping[str, Command], version: Command,
             full_parser: Callable[[], argparse.ArgumentParser]) -> int:
    """Run the sub-command ``args.command`` names: ``--version`` first, and a usage error
    with the whole help (``full_parser()``) when no command was given."""
    if args.version:
        return version(args)
    if args.command is None:
        raise UsageError("a command is required", full_parser().format_help())
    return commands[args.command](args)


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


def write_stdout(text: str) -> None:
    """Write ``text`` to standard output and flush it."""
    stream: IO[str] = sys.stdout
    stream.write(text)
    stream.flush()
