"""``pvattest``: create attestation requests, perform them in an SE guest, verify and check the answers.

Thin layer over :mod:`secexkit.attest`: parse, read the inputs (bounded), call the
library, write the outputs atomically (none when a command fails, unlike the
reference, which creates its output files first), print.  Exit codes: 0 success,
1 error, 2 usage error -- and, as in the reference, 2 when ``verify`` finds a
measurement mismatch or ``check`` finds a policy that is not fulfilled (ADR 0082).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

from .. import __version__, fileio
from ..errors import InputError, MeasurementMismatchError, UsageError
from ._common import (
    ArgumentParser,
    IntermixedParser,
    StoreOnce,
    add_list_option,
    add_verbosity,
    dispatch,
    read_file,
    run,
)
from ._common import positional_or_option as _positional

if TYPE_CHECKING:
    from ..attest.check import FirmwareRequest

log = logging.getLogger("secexkit.cli")

# Where the ultravisor lives; tests point these at a fake (as pvsecret's).
UV_DEVICE: str = "/dev/uv"
UV_IOCTL: Any = None  # None: fcntl.ioctl
MACHINE: str | None = None  # None: platform.machine()

#: the firmware service's POST: ``None`` is the bounded HTTP(S) transport below; tests inject
FIRMWARE_POST: Callable[[FirmwareRequest], tuple[int, bytes]] | None = None
#: at most this many bytes of the firmware service's answer are read
FIRMWARE_MAX_RESPONSE: int = 1 << 20
#: seconds the whole POST may take; ``None``: the request's own (120 s, as the reference)
FIRMWARE_BUDGET: float | None = None

#: an exchange file holds at most a 1 MiB ARCB, 2 x 32 KiB measurement/additional data,
#: 256 bytes user data and the CUID behind its 64-byte header
MAX_EXCHANGE_FILE: Final = 0x40 + 0x100000 + 2 * 0x8000 + 0x100 + 0x10
#: ``-u`` of perform: read a little more than allowed, to say "too large" ourselves
_USER_DATA_READ_LIMIT: Final = 0x1000

HOST_KEY_CHECKS: Final = ("att-key-hash", "boot-key-hash")


def _add_io(parser: ArgumentParser, input_help: str, output_help: str) -> None:
    parser.__class__ = IntermixedParser
    parser.add_argument("input_pos", nargs="?", metavar="IN", help=input_help)
    parser.add_argument("output_pos", nargs="?", metavar="OUT", help=output_help)
    parser.add_argument("-i", "--input", action=StoreOnce, metavar="FILE", help=input_help)
    parser.add_argument("-o", "--output", action=StoreOnce, metavar="FILE", help=output_help)


def _fill_create(parser: ArgumentParser) -> None:
    from ._hostkeys import add_host_key_options  # x509 support only for create

    add_host_key_options(parser)
    parser.add_argument("-o", "--output", action=StoreOnce, metavar="FILE",
                        help="where to write the attestation request (exchange format; required)")
    parser.add_argument("-a", "--arpk", action=StoreOnce, metavar="FILE",
                        help="where to write the attestation request protection key "
                        "(32 bytes, mode 0600; required)")
    add_list_option(parser, "--add-data", dest="add_data", metavar="FLAGS", default=[],
                    help="additional data the ultravisor adds to the answer: phkh-img, "
                    "phkh-att, secret-store-hash, firmware-state (repeatable, comma lists)")


def _fill_perform(parser: ArgumentParser) -> None:
    _add_io(parser, "the attestation request (exchange format)",
            "where to write the response (exchange format)")
    parser.add_argument("-u", "--user-data", action=StoreOnce, metavar="FILE",
                        help="up to 256 bytes of user data the measurement covers")


def _fill_verify(parser: ArgumentParser) -> None:
    parser.add_argument("-i", "--input", action=StoreOnce, metavar="FILE",
                        help="the attestation response (required)")
    parser.add_argument("--hdr", action=StoreOnce, metavar="FILE",
                        help="SE image or extracted SE header the guest booted (required)")
    parser.add_argument("-a", "--arpk", action=StoreOnce, metavar="FILE",
                        help="the attestation request protection key of the request (required)")
    parser.add_argument("-o", "--output", action=StoreOnce, metavar="FILE",
                        help="write the verified result (CUID, additional and user data) as "
                        "YAML (- for stdout); `pvsecret create --cuid` reads it")
    parser.add_argument("--format", choices=("yaml",), default="yaml",
                        help="format of --output (default yaml)")
    parser.add_argument("-u", "--user-data", action=StoreOnce, metavar="FILE",
                        help="write the response's user data to FILE")


def _fill_check(parser: ArgumentParser) -> None:
    _add_io(parser, "the (verified) attestation response",
            "where to write the result (YAML, - for stdout)")
    add_list_option(parser, "-k", "--host-key-document", dest="host_key_document",
                    metavar="FILE", default=[],
                    help="exactly one of these host-key documents must match each public "
                    "host-key hash in the response (repeatable, comma lists)")
    add_list_option(parser, "--host-key-check", dest="host_key_check", metavar="CHECK",
                    default=[], help="require the hash to be present: att-key-hash, "
                    "boot-key-hash (needs -k)")
    parser.add_argument("-u", "--user-data", action=StoreOnce, metavar="FILE",
                        help="the user data the response must carry")
    parser.add_argument("--secret-store-locked", action=StoreOnce, metavar="BOOL",
                        help="check the secret-store hash: true or false (locked state)")
    add_list_option(parser, "--secret", dest="secret", metavar="FILE", default=[],
                    help="add-secret requests in the order they were added "
                    "(repeatable, comma lists; needs --secret-store-locked)")
    parser.add_argument("--firmware", action="store_true",
                        help="ask IBM's firmware service whether the firmware state is valid")
    parser.add_argument("--firmware-check-version", "--fw-ver", dest="firmware_check_version",
                        action=StoreOnce, metavar="VERSION", choices=("1", "2"),
                        help="firmware service API version: 1 or 2 (default 1; needs --firmware)")
    parser.add_argument("--firmware-verify-url", action=StoreOnce, metavar="URL",
                        help="firmware service base URL (default "
                        "https://esupport.ibm.com/eccedge/ent/z; needs --firmware)")
    parser.add_argument("--format", choices=("yaml",), default="yaml",
                        help="format of the result (yaml, the only one)")


def _fill_version(parser: ArgumentParser) -> None:
    del parser


_Fill = Callable[[ArgumentParser], None]
_COMMANDS: dict[str, tuple[str, _Fill]] = {
    "create": ("create an attestation request for one or more IBM Z host keys", _fill_create),
    "perform": ("send an attestation request to the ultravisor (s390x SE guest)", _fill_perform),
    "verify": ("verify an attestation response", _fill_verify),
    "check": ("check a verified attestation response against policies", _fill_check),
    "version": ("print the version", _fill_version),
}


def build_parser(argv: Sequence[str] | None = None) -> ArgumentParser:
    """The pvattest parser; given ``argv``, only the named command's sub-parser is built."""
    named = next((a for a in argv or () if not a.startswith("-")), None)
    parser = ArgumentParser(
        prog="pvattest",
        description="Create, perform, verify and check attestation requests for IBM Secure "
        "Execution.",
    )
    add_verbosity(parser)
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND",
                                     parser_class=ArgumentParser)
    for name, (help_text, fill) in _COMMANDS.items():
        if named not in _COMMANDS or named == name:
            sub = commands.add_parser(name, help=help_text, description=help_text)
            add_verbosity(sub, default=argparse.SUPPRESS)
            fill(sub)
    return parser


def _require(**options: Any) -> None:
    missing = [f"--{name.replace('_', '-')} <FILE>" for name, value in options.items()
               if value is None]
    if missing:
        raise UsageError(f"the following required arguments were not provided: {' '.join(missing)}")


def _read_response(path: str) -> Any:
    from ..formats.attestation import ExchangeResponse

    return ExchangeResponse.from_bytes(read_file(path, "attestation response",
                                                 limit=MAX_EXCHANGE_FILE))


# ---------------------------------------------------------------------------- create

def cmd_create(args: argparse.Namespace) -> int:
    """``pvattest create``: an attestation request for the host keys, and its ARPK (0600)."""
    from ..attest.request import add_data_flags, create_attestation_request
    from ._hostkeys import load_host_keys
    from .pvsecret import _host_key_inputs

    _require(output=args.output, arpk=args.arpk)
    # as in the reference, `-` is a file name here (the ARPK never goes to a terminal)
    args.output, args.arpk = (os.path.join(".", p) if p == "-" else p
                              for p in (args.output, args.arpk))
    flags = add_data_flags(args.add_data)
    fileio.check_distinct([("--output", args.output), ("--arpk", args.arpk)],
                          _host_key_inputs(args))
    for target in (args.output, args.arpk):
        fileio.check_output(target)  # before verification and downloads
    host_keys = load_host_keys(args, "attestation request")
    request = create_attestation_request(host_keys, flags)
    with fileio.OutputTransaction() as outputs:
        outputs.add(args.output, request.exchange_bytes())
        outputs.add(args.arpk, request.arpk.reveal(), secret=True)
    log.warning("Successfully generated the request")
    log.info("Successfully wrote the request to '%s' and its protection key to '%s'",
             args.output, args.arpk)
    return 0


# ---------------------------------------------------------------------------- perform

def cmd_perform(args: argparse.Namespace) -> int:
    """``pvattest perform``: send the request to the ultravisor (``/dev/uv``) and write the response."""
    from ..attest.perform import check_user_data_size
    from ..formats.attestation import ExchangeRequest
    from ..uv.device import UvDevice, attest

    source = _positional(args, "input_pos", "input", "input")
    output = _positional(args, "output_pos", "output", "output")
    assert source is not None and output is not None
    fileio.check_distinct([("OUT", output)], [("IN", source), ("--user-data", args.user_data)])
    fileio.check_output(output)
    with UvDevice.open(UV_DEVICE, what="pvattest perform", ioctl=UV_IOCTL,
                       machine=MACHINE) as device:
        request = ExchangeRequest.from_bytes(read_file(source, "attestation request",
                                                       limit=MAX_EXCHANGE_FILE))
        user_data = None
        if args.user_data is not None:
            user_data = read_file(args.user_data, "user data", limit=_USER_DATA_READ_LIMIT)
            check_user_data_size(user_data)
        response = attest(device, request, user_data)
    with fileio.OutputTransaction() as outputs:
        outputs.add(output, response.to_bytes())
    log.warning("Attestation request performed successfully")
    log.info("Wrote the attestation response to '%s'", output)
    return 0


# ---------------------------------------------------------------------------- verify

def _guest_tags(path: str) -> Any:
    from ..attest.measurement import read_guest_tags

    if path == "-":
        raise InputError("Cannot open `-`: --hdr needs a seekable file, not stdin")
    stream, _ = fileio.open_regular(path, "SE header")
    try:
        with stream:
            return read_guest_tags(stream)
    except OSError as exc:
        raise InputError(f"Cannot open `{path}`: {exc.strerror or exc}") from None


def cmd_verify(args: argparse.Namespace) -> int:
    """``pvattest verify``: check the response's measurement; exit 2 on a mismatch."""
    from ..attest.measurement import verify_response
    from ..attest.request import read_arpk
    from ..attest.result import verify_text, verify_yaml

    _require(input=args.input, hdr=args.hdr, arpk=args.arpk)
    fileio.check_distinct([("--output", args.output), ("--user-data", args.user_data)],
                          [("--input", args.input), ("--hdr", args.hdr), ("--arpk", args.arpk)])
    for target in (args.output, args.user_data):
        if target is not None:
            fileio.check_output(target)
    arpk = read_arpk(fileio.read_input(args.arpk, "attestation request protection key",
                                       fileio.MAX_EXACT_KEY_FILE))
    tags = _guest_tags(args.hdr)
    response = _read_response(args.input)
    try:
        result = verify_response(response, tags, arpk)
    except MeasurementMismatchError as exc:
        print(f"error: {exc}", file=sys.stderr)  # nothing is written
        return 2
    log.warning("Attestation measurement verified")
    for line in verify_text(result).split("\n"):  # the last, empty one as the reference's
        log.warning("%s", line)
    with fileio.OutputTransaction() as outputs:
        if args.output is not None:
            outputs.add(args.output, verify_yaml(result).encode("ascii"))
        if args.user_data is not None:
            if result.user_data is not None:
                outputs.add(args.user_data, result.user_data)
            else:
                log.warning("Location for `user-data` specified, but respose does not contain "
                            "any user-data")
    return 0


# ---------------------------------------------------------------------------- check

def _bool(value: str) -> bool:
    if value not in ("true", "false"):
        raise UsageError(f"invalid value '{value}' for '--secret-store-locked <BOOL>' "
                         "[possible values: true, false]")
    return value == "true"


def _check_usage(args: argparse.Namespace) -> None:
    for value in args.host_key_check:
        if value not in HOST_KEY_CHECKS:
            raise UsageError(f"invalid value '{value}' for '--host-key-check <CHECK>' "
                             f"[possible values: {', '.join(HOST_KEY_CHECKS)}]")
    if args.host_key_check and not args.host_key_document:
        raise UsageError("the following required arguments were not provided: "
                         "--host-key-document <FILE>")
    if args.secret and args.secret_store_locked is None:
        raise UsageError("the following required arguments were not provided: "
                         "--secret-store-locked <BOOL>")
    for name in ("firmware_check_version", "firmware_verify_url"):
        if getattr(args, name) is not None and not args.firmware:
            raise UsageError(f"the argument '--{name.replace('_', '-')}' requires '--firmware'")


def post_firmware_request(request: FirmwareRequest) -> tuple[int, bytes]:
    """POST to the firmware service: http(s) only, redirects followed, bounded in time and bytes.

    The whole exchange (connect, redirects, answer) must finish within
    ``request.timeout`` seconds (:data:`FIRMWARE_BUDGET` if set) and the answer may have at most
    :data:`FIRMWARE_MAX_RESPONSE` bytes; otherwise an :class:`InputError`.
    """
    import urllib.error
    import urllib.request
    from urllib.parse import urlsplit

    budget = request.timeout if FIRMWARE_BUDGET is None else FIRMWARE_BUDGET
    deadline = time.monotonic() + budget

    def remaining() -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise InputError(f"The firmware verification server did not answer within "
                             f"{budget:g} seconds", request.url)
        return left

    class _Redirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any,  # noqa: PLR0917
                             newurl: str) -> Any:
            if urlsplit(newurl).scheme not in ("http", "https"):
                raise InputError(f"The firmware verification server redirected to a "
                                 f"non-HTTP location: {newurl}")
            remaining()
            if code in (307, 308):  # the method and body stay (as reqwest, which the reference uses)
                return urllib.request.Request(  # noqa: S310 - http(s) only, checked above
                    newurl, data=req.data, headers=dict(req.header_items()), method=req.get_method())
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    if urlsplit(request.url).scheme not in ("http", "https"):
        raise UsageError(f"--firmware-verify-url must be an http or https URL, not {request.url!r}")
    opener = urllib.request.build_opener(_Redirects())
    post = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        request.url, data=request.body, headers=request.headers, method="POST")
    try:
        with opener.open(post, timeout=remaining()) as answer:
            status, body = answer.status, _read_bounded(answer, remaining)
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except OSError as exc:  # URLError and timeouts included
        reason = getattr(exc, "reason", exc)
        raise InputError(f"Cannot reach the firmware verification server: {reason}",
                         request.url) from None
    return status, body


def _read_bounded(answer: Any, remaining: Callable[[], float]) -> bytes:
    body = bytearray()
    while True:
        remaining()
        chunk = answer.read1(64 * 1024)
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > FIRMWARE_MAX_RESPONSE:
            raise InputError(f"The firmware verification server's answer is larger than "
                             f"{FIRMWARE_MAX_RESPONSE} bytes")


def cmd_check(args: argparse.Namespace) -> int:
    """``pvattest check``: apply the policies to a verified response; exit 2 if any fails."""
    from ..addsecret.name_yaml import yaml_scalar
    from ..attest.check import (
        FIRMWARE_CHECK_DEFAULT_URL,
        CheckPolicy,
        attestation_fields,
        host_key_document_hash,
        request_tag,
        run_checks,
    )
    from ..formats.request import MAX_REQUEST_SIZE

    source = _positional(args, "input_pos", "input", "input")
    output = _positional(args, "output_pos", "output", "output")
    assert source is not None and output is not None
    _check_usage(args)
    locked = None if args.secret_store_locked is None else _bool(args.secret_store_locked)
    inputs: list[tuple[str, str | None]] = [("IN", source), ("--user-data", args.user_data)]
    inputs += [("--host-key-document", p) for p in args.host_key_document]
    inputs += [("--secret", p) for p in args.secret]
    fileio.check_distinct([("OUT", output)], inputs)
    fileio.check_output(output)
    fields = attestation_fields(_read_response(source))
    documents = [(path, host_key_document_hash(
        read_file(path, "host-key document", limit=fileio.MAX_CERTIFICATE_FILE), path))
        for path in args.host_key_document]
    policy = CheckPolicy(
        host_key_documents=documents,
        enforce_image_host_key="boot-key-hash" in args.host_key_check,
        enforce_attestation_host_key="att-key-hash" in args.host_key_check,
        user_data=(read_file(args.user_data, "user data", limit=fileio.MAX_SMALL_FILE)
                   if args.user_data is not None else None),
        secret_store_locked=locked,
        secret_requests=[(path, request_tag(read_file(path, "add-secret request",
                                                      limit=MAX_REQUEST_SIZE), path))
                         for path in args.secret],
        firmware=args.firmware,
        firmware_version=int(args.firmware_check_version or 1),
        firmware_url=args.firmware_verify_url or FIRMWARE_CHECK_DEFAULT_URL,
    )
    result = run_checks(fields, policy, FIRMWARE_POST or post_firmware_request)
    for issue in result.issues:
        log.warning("✘ %s", issue)
    with fileio.OutputTransaction() as outputs:
        outputs.add(output, result.to_yaml(yaml_scalar).encode("utf-8"))
    if result.successful:
        log.warning("✓ The Attestation response fulfills all policies")
        return 0
    log.warning("✘ The Attestation response does not fulfill all policies")
    return 2


# ---------------------------------------------------------------------------- main

def cmd_version(_: argparse.Namespace) -> int:
    """Print the version."""
    print(f"pvattest (secexkit) version {__version__}")
    return 0


COMMANDS: Final[dict[str, Callable[[argparse.Namespace], int]]] = {
    "create": cmd_create,
    "perform": cmd_perform,
    "verify": cmd_verify,
    "check": cmd_check,
    "version": cmd_version,
}


def _main(args: argparse.Namespace) -> int:
    return dispatch(args, COMMANDS, cmd_version, build_parser)


def main(argv: Sequence[str] | None = None) -> int:
    """The ``pvattest`` console script."""
    return run(_main, build_parser(sys.argv[1:] if argv is None else argv), argv)


if __name__ == "__main__":
    sys.exit(main())
