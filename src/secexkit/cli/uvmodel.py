"""secexkit-uv: the machine side of the software ultravisor (ADR 0094).

``secexkit-uv [-d DIR] init -k HOST-KEY [--backup-key KEY] [--profile z16|z17]``
creates a simulated machine in DIR (default: ``$SECEXKIT_UV``); ``boot IMAGE``
starts a guest from an SE image or header and prints its CUID; ``dump`` exits 0
("dump allowed") or 1 with the reason; ``state`` prints the state as JSON;
``reboot`` restarts a guest.  Guest commands (``pvsecret add/list/lock/retrieve``,
``pvattest perform``, ``pvimg test --key-hashes``) use the machine when ``SECEXKIT_UV=DIR``
is set.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric import ec

from .. import __version__, fileio
from ..errors import CryptoError, FormatError, InputError, UltravisorError, UsageError
from ._common import ArgumentParser, add_verbosity, dispatch, read_file, run, write_stdout

log = logging.getLogger("secexkit.cli")

EXIT_DUMP_REFUSED = 1
_KEY_FILE_LIMIT = fileio.MAX_SMALL_FILE


def build_parser() -> ArgumentParser:
    """The secexkit-uv command line."""
    parser = ArgumentParser(
        prog="secexkit-uv",
        description="A software model of the IBM Z Ultravisor for testing Secure Execution "
                    "pipelines without IBM Z: create a machine from host private keys, boot "
                    "guests, and ask whether the host may dump them. Guest commands "
                    "(pvsecret add/list/lock/retrieve, pvattest perform, pvimg test "
                    "--key-hashes) use it when "
                    "SECEXKIT_UV names its folder.",
    )
    add_verbosity(parser)
    parser.add_argument("-d", "--dir", metavar="DIR",
                        help="the machine's state folder (default: $SECEXKIT_UV)")
    parser.add_argument("--version", action="store_true", help="print version information and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    init = commands.add_parser("init", help="create a machine from host private keys")
    init.add_argument("-k", "--host-key", metavar="FILE", required=True,
                      help="the host private key (EC secp521r1, PEM or DER)")
    init.add_argument("--backup-key", metavar="FILE", help="a backup host private key")
    init.add_argument("--profile", choices=("z17", "z16"), default="z17",
                      help="z17: every secret type and Retrieve Secret (default); z16: only "
                           "meta and association secrets")
    init.add_argument("--protected-keys", choices=("stand-in", "clear"), default="stand-in",
                      help="what Retrieve returns for key secrets: the clear key followed by a "
                           "32-byte stand-in verification pattern (default, sized like hardware) "
                           "or the clear key alone")
    init.add_argument("--max-assoc-secrets", type=int, default=32, metavar="N")
    init.add_argument("--max-retr-secrets", type=int, default=32, metavar="N")

    boot = commands.add_parser("boot", help="boot a guest from an SE image or SE header")
    boot.add_argument("image", metavar="IMAGE", help="an SE image or SE header file")
    boot.add_argument("--name", default="guest", help="the guest's name (default: guest)")
    boot.add_argument("--cuid", metavar="HEX", help="use this CUID instead of a random one")

    dump = commands.add_parser("dump", help="ask for a dump: exit 0 'dump allowed', 1 with "
                                            "the reason it is refused")
    dump.add_argument("--name", help="the guest (default: the one booted last)")

    state = commands.add_parser("state", help="print the machine state as JSON (no secrets)")
    state.add_argument("--name", help="only this guest")

    reboot = commands.add_parser("reboot", help="restart a guest: new CUID, empty secret store")
    reboot.add_argument("--name", help="the guest (default: the one booted last)")
    reboot.add_argument("--cuid", metavar="HEX", help="use this CUID instead of a random one")
    return parser


def _folder(args: argparse.Namespace) -> str:
    folder = args.dir or os.environ.get("SECEXKIT_UV")
    if not folder:
        raise UsageError("no machine state folder: pass --dir DIR or set SECEXKIT_UV")
    return str(folder)


def _host_key(path: str, what: str) -> ec.EllipticCurvePrivateKey:
    from ..addsecret.retrievable import load_private_key

    key = load_private_key(read_file(path, what, limit=_KEY_FILE_LIMIT), f"`{path}`", what)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp521r1":
        raise InputError(f"{what} `{path}` is not an EC secp521r1 private key")
    return key


def _cuid(text: str | None) -> bytes | None:
    from ..addsecret.cuid import parse_cuid_hex

    if text is None:
        return None
    try:
        return parse_cuid_hex(text)
    except InputError as exc:
        raise InputError(f"--cuid: {exc}", *exc.details) from None


def cmd_init(args: argparse.Namespace) -> int:
    """``secexkit-uv init``: a new simulated machine from host private keys."""
    from ..uv.softuv import Profile
    from ..uv.softuv.state import create_state

    folder = _folder(args)
    keys = [_host_key(args.host_key, "host private key")]
    if args.backup_key:
        keys.append(_host_key(args.backup_key, "backup host private key"))
    try:
        profile = Profile.named(args.profile, protected_keys=args.protected_keys,
                                max_assoc_secrets=args.max_assoc_secrets,
                                max_retr_secrets=args.max_retr_secrets)
    except ValueError as exc:  # "max_assoc_secrets must be ..." -> "--max-assoc-secrets must be ..."
        message = re.sub(r"\b(max_\w+|protected_keys)\b",
                         lambda m: "--" + m.group(1).replace("_", "-"), str(exc))
        raise UsageError(message) from None
    machine = create_state(folder, keys, profile)
    labels = ("host key", "backup host key")
    lines = [f"Created a software ultravisor ({profile.name}) in '{folder}'"]
    lines += [f"{label} hash: {h.hex()}" for label, h in zip(labels, machine.host_key_hashes,
                                                                   strict=False)]
    write_stdout("\n".join(lines) + "\n")
    return 0


def cmd_boot(args: argparse.Namespace) -> int:
    """``secexkit-uv boot``: start a guest from an SE image or header; prints its CUID."""
    from ..uv.softuv.state import open_state

    folder = _folder(args)
    cuid = _cuid(args.cuid)
    stream, _ = fileio.open_regular(args.image, "SE image")
    with stream, open_state(folder) as state:
        try:
            guest = state.machine.boot(stream, name=args.name, cuid=cuid)
        except (FormatError, CryptoError) as exc:
            raise type(exc)(f"{exc} (`{args.image}`)", *exc.details) from None
        state.current_guest = guest.name
        state.save()
    write_stdout(f"Booted guest '{guest.name}' from '{args.image}'\n"
                 f"CUID: 0x{guest.cuid.hex()}\n"
                 f"image host-key hash: {guest.image_phkh.hex()}\n")
    return 0


def cmd_dump(args: argparse.Namespace) -> int:
    """``secexkit-uv dump``: whether the hypervisor may dump the guest (exit 0) or not (1)."""
    from ..uv.softuv.state import open_state

    with open_state(_folder(args)) as state:
        guest = state.guest(args.name)
        status = guest.dump_status()
        try:
            guest.dump_init()
        except UltravisorError as exc:
            write_stdout(f"dump refused: {status.reason}\n")
            log.info("Dump Init: %s", exc)
            return EXIT_DUMP_REFUSED
        guest.dump_complete()
    write_stdout("dump allowed\n")
    return 0


def cmd_state(args: argparse.Namespace) -> int:
    """``secexkit-uv state``: the machine state as JSON (no secret bytes)."""
    from ..uv.softuv.state import describe, open_state

    with open_state(_folder(args)) as state:
        if args.name:
            state.guest(args.name)
        data = describe(state)
    if args.name:
        data["guests"] = {args.name: data["guests"][args.name]}
    write_stdout(json.dumps(data, indent=2) + "\n")
    return 0


def cmd_reboot(args: argparse.Namespace) -> int:
    """``secexkit-uv reboot``: restart a guest (new CUID, empty store)."""
    from ..uv.softuv.state import open_state

    cuid = _cuid(args.cuid)
    with open_state(_folder(args)) as state:
        guest = state.guest(args.name)
        guest.reboot(cuid)
        state.save()
    write_stdout(f"Rebooted guest '{guest.name}'\nCUID: 0x{guest.cuid.hex()}\n")
    return 0


COMMANDS = {"init": cmd_init, "boot": cmd_boot, "dump": cmd_dump, "state": cmd_state,
            "reboot": cmd_reboot}


def _version(_: argparse.Namespace) -> int:
    write_stdout(f"secexkit-uv (secexkit) version {__version__}\n")
    return 0


def _main(args: argparse.Namespace) -> int:
    return dispatch(args, COMMANDS, _version, build_parser)


def main(argv: Sequence[str] | None = None) -> int:
    """Run secexkit-uv; the exit code."""
    return run(_main, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
