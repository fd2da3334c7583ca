"""``pvsecret``: create and verify add-secret requests; talk to the ultravisor.

Thin layer: parse, call the library, print.  Options of ``create`` may come
before or after the secret type (the product documentation puts them after;
the reference only accepts them before).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .. import __version__, fileio
from ..errors import InputError, UsageError
from ._common import (
    ArgumentParser,
    IntermixedParser,
    StoreOnce,
    add_list_option,
    add_verbosity,
    dispatch,
    examples_epilog,
    positional_or_option,
    read_file,
    run,
)
from ._hostkeys import add_host_key_options

log = logging.getLogger("secexkit.cli")

# Where the ultravisor lives; tests point these at a fake (see tests/support/fake_uv.py).
UV_DEVICE: str = "/dev/uv"
SE_GUEST_FLAG: str = "/sys/firmware/uv/prot_virt_guest"
UV_IOCTL: Any = None  # None: fcntl.ioctl
MACHINE: str | None = None  # None: platform.machine()

_AFTER = "after__"
SECRET_KINDS = ("plain", "aes", "aes-xts", "hmac-sha", "ec")


def _add_create_options(parser: argparse._ActionsContainer, prefix: str = "",
                        suppress: bool = False) -> None:
    """Options of ``create`` itself; repeated on every secret type with ``prefix``."""
    def d(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    def once(*flags: str, dest: str, metavar: str, help: str) -> None:
        parser.add_argument(*flags, action=StoreOnce, dest=prefix + dest, metavar=metavar,
                            default=d(None), help=help)

    def switch(*flags: str, dest: str, help: str) -> None:
        parser.add_argument(*flags, action="store_true", dest=prefix + dest, default=d(False),
                            help=help)

    add_host_key_options(parser, prefix=prefix, default=argparse.SUPPRESS if suppress else None)
    once("--hdr", dest="hdr", metavar="FILE",
         help="The SE image (or its SE header, extracted with pvextract-hdr) the request is "
              "bound to. Required. Only a guest booted from that image can add the request; "
              "its key slots should name the host keys of -k (a warning says which do not).")
    once("-o", "--output", dest="output", metavar="FILE",
         help="Where to write the request. Required; - writes it to standard output. "
              "Named secrets also write NAME.yaml next to it (see --stdout).")
    switch("-f", "--force", dest="force",
           help="Create a request even on an SE guest. Default: refuse, because a secret "
                "should never be prepared on the machine that is to use it.")
    once("--extension-secret", dest="extension_secret", metavar="FILE",
         help="Add this extension secret (a file of exactly 32 bytes). Needed when the image "
              "was built with --enable-cck-extension-secret. Conflicts with --cck.")
    once("--cck", dest="cck", metavar="FILE",
         help="Derive the extension secret from the customer communication key (CCK) of the "
              "image (a file of exactly 32 bytes, as given to pvimg create --cck; "
              "HKDF-SHA512). Conflicts with --extension-secret.")
    once("--cuid-hex", dest="cuid_hex", metavar="HEX",
         help="Bind the request to the one guest with this configuration unique ID (CUID): "
              "32 hex digits, optionally after 0x (pvattest shows it). Conflicts with --cuid.")
    once("--cuid", dest="cuid", metavar="FILE",
         help="Bind the request to one guest: its CUID as a 16-byte file, or a YAML file "
              "with a cuid entry (as pvattest writes). Conflicts with --cuid-hex.")
    add_list_option(parser, "--flags", dest=prefix + "flags", metavar="FLAG", default=d([]),
                    help="Flags of the request; repeatable or comma-separated. Only value: "
                         "disable-dump: once the request is added, the ultravisor no longer "
                         "provides the dump keys for this guest, so the hypervisor cannot take "
                         "an (encrypted) dump of it any more; cannot be undone until the guest "
                         "reboots. Default: no flags.")
    parser.add_argument("--disable-dump", dest=prefix + "flags", action="append_const",
                        const="disable-dump", default=d([]),
                        help="The same as --flags disable-dump (the product documentation's "
                             "wording).")
    once("--pcf", dest="pcf", metavar="HEX", help=argparse.SUPPRESS)
    once("--user-data", dest="user_data", metavar="FILE",
         help="Embed this file as user data, which pvsecret verify shows again. At most 512 "
              "bytes unsigned; signed (--user-sign-key): 256 bytes with EC P-521 or RSA 2048, "
              "128 bytes with RSA 3072. Conflicts with --policy.")
    once("--user-sign-key", dest="user_sign_key", metavar="FILE",
         help="Sign the user data with this private key (PEM or DER): EC secp521r1, RSA 2048 "
              "or RSA 3072 bits. pvsecret verify --user-cert checks the signature.")
    once("--policy", dest="policy", metavar="FILE",
         help="Embed a reference to this policy file (its SHA-256 and path) as unsigned user "
              "data, and print the SHA-256 on standard output. Conflicts with --user-data.")
    once("--toc-policy", dest="toc_policy", metavar="FILE",
         help="Append the request tag (32 hex digits and a newline) to this file, once every "
              "other output is written; created if missing.")
    switch("--use-name", dest="use_name",
           help="Use the name itself (at most 31 bytes, zero-padded) as the secret ID instead "
                "of its SHA-256. Association and retrievable secrets only.")


#: create options that take a value (to find the secret type before parsing)
_VALUE_OPTIONS = frozenset({
    "-k", "--host-key-document", "-C", "--cert", "--crt", "--crl", "--root-ca", "--hdr", "-o",
    "--output", "--extension-secret", "--cck", "--cuid-hex", "--cuid", "--flags", "--pcf",
    "--user-data", "--user-sign-key", "--policy", "--toc-policy", "--input-secret",
    "--output-secret", "--secret", "--type",
})
_COMMAND_NAMES = frozenset({"create", "verify", "add", "lock", "list", "retrieve", "retr",
                            "version", "plan"})
_SECRET_TYPES = frozenset({"meta", "association", "retrievable", "retr", "update-cck", "cck"})


def _selected(argv: Sequence[str] | None) -> tuple[str | None, str | None]:
    """(command, secret type) named on the command line, so only their parsers are built.

    ``None`` means "not recognisable": then every parser is built (e.g. for ``--help``).
    """
    if argv is None:
        return None, None
    tokens = list(argv)
    position = next((i for i, tok in enumerate(tokens) if not tok.startswith("-")), None)
    if position is None or tokens[position] not in _COMMAND_NAMES:
        return None, None
    command = tokens[position]
    if command != "create":
        return command, None
    rest = iter(tokens[position + 1:])
    for token in rest:
        if token == "--":
            break
        if token.startswith("-"):
            if "=" not in token and token in _VALUE_OPTIONS:
                next(rest, None)
            continue
        return command, token if token in _SECRET_TYPES else None
    return command, None


def _add_late_verbosity(parser: argparse.ArgumentParser) -> None:
    add_verbosity(parser, dest_prefix=_AFTER, default=argparse.SUPPRESS)


def build_parser(argv: Sequence[str] | None = None) -> ArgumentParser:
    """The pvsecret parser; given ``argv``, only the sub-parsers it names are built.

    argparse spends most of its time constructing parsers, and a command line
    uses one command (and one secret type) only; ``--help`` builds everything.
    """
    command, secret_type = _selected(argv)
    parser = ArgumentParser(
        prog="pvsecret",
        description="Create, verify and manage add-secret requests for IBM Secure Execution "
                    "for Linux. Requests are created on a trusted machine and added in the "
                    "guest. Exit codes: 0 success, 1 error, 2 usage error.",
        epilog=examples_epilog(EXAMPLES["pvsecret"]),
    )
    add_verbosity(parser)
    parser.add_argument("--version", action="store_true", help="Print the version and exit.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND",
                                     parser_class=ArgumentParser)
    for name, (aliases, help_text, fill) in _COMMANDS.items():
        if command is None or command in (name, *aliases):
            sub = commands.add_parser(name, aliases=list(aliases), help=help_text,
                                      description=help_text,
                                      epilog=examples_epilog(EXAMPLES.get(name, ())))
            _add_late_verbosity(sub)
            if name == "create":
                _fill_create(sub, secret_type)
            else:
                fill(sub)
    return parser


def _fill_create(create: ArgumentParser, secret_type: str | None) -> None:
    _add_create_options(create)
    kinds = create.add_subparsers(dest="secret_type", metavar="SECRET-TYPE",
                                  parser_class=ArgumentParser)
    for name, (aliases, help_text, fill) in _SECRET_TYPE_PARSERS.items():
        if secret_type is None or secret_type in (name, *aliases):
            sub = kinds.add_parser(name, aliases=list(aliases), help=help_text,
                                   description=help_text,
                                   epilog=examples_epilog(EXAMPLES.get(name, ())))
            _add_create_options(sub, prefix=_AFTER, suppress=True)
            _add_late_verbosity(sub)
            fill(sub)


def _fill_meta(parser: ArgumentParser) -> None:
    del parser  # no options of its own


_NAME_HELP = ("The secret's name; its SHA-256 is the secret ID (see --use-name). The "
              "description is written to NAME.yaml next to --output: whitespace and / become _, "
              "and what follows the name's last dot is replaced (db.primary -> db.yaml).")
_STDOUT_HELP = "Print the NAME.yaml description on standard output instead of writing the file."


def _fill_association(parser: ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help=_NAME_HELP)
    parser.add_argument("--stdout", action="store_true", help=_STDOUT_HELP)
    parser.add_argument("--input-secret", action=StoreOnce, metavar="FILE",
                        help="Use this secret (a file of exactly 32 bytes). Default: a random "
                             "one. Conflicts with --output-secret.")
    parser.add_argument("--output-secret", action=StoreOnce, metavar="FILE",
                        help="Write the random secret to FILE (mode 0600), e.g. for the "
                             "second guest of the association. Conflicts with --input-secret.")


def _fill_retrievable(parser: ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help=_NAME_HELP)
    parser.add_argument("--secret", metavar="FILE",
                        help="The secret: the file described by --type. Required.")
    parser.add_argument("--type", dest="kind", choices=SECRET_KINDS,
                        help="What --secret holds (required); its size or curve picks the "
                             "secret type. Values: plain (any data of at most 8190 bytes); aes "
                             "(an AES key of 16, 24 or 32 bytes: AES-128/192/256); aes-xts (two "
                             "AES keys of equal size, 32 or 64 bytes in all: XTS-128/256); "
                             "hmac-sha (an HMAC key already pre-processed to the hash's block "
                             "size as FIPS 198-1 K0, i.e. a longer key hashed and a shorter one "
                             "zero-padded: 64 bytes for HMAC-SHA-256, 128 bytes for "
                             "HMAC-SHA-512); ec (a private key, PEM or DER, on secp256r1, "
                             "secp384r1, secp521r1, ed25519 or ed448).")
    parser.add_argument("--stdout", action="store_true", help=_STDOUT_HELP)


def _fill_update_cck(parser: ArgumentParser) -> None:
    parser.add_argument("--secret", metavar="FILE",
                        help="The new customer communication key: a file of exactly 32 "
                             "bytes. Required. The image must have been built with pvimg "
                             "create --enable-cck-update (z17 or later).")


def _intermixed(parser: ArgumentParser) -> None:
    parser.__class__ = IntermixedParser


def _fill_verify(parser: ArgumentParser) -> None:
    _intermixed(parser)
    parser.add_argument("input_pos", nargs="?", metavar="INPUT",
                        help="The add-secret request to check; - reads standard input.")
    parser.add_argument("output_pos", nargs="?", metavar="OUTPUT",
                        help="Where to write the user data (512 bytes, zero-padded). Default: "
                             "standard output, but never a terminal (the data is binary).")
    parser.add_argument("-i", "--input", metavar="FILE", help="The same as INPUT.")
    parser.add_argument("-o", "--output", metavar="FILE", help="The same as OUTPUT.")
    parser.add_argument("--user-cert", metavar="FILE",
                        help="Certificate (PEM or DER) whose key signed the user data; "
                             "required when the user data is signed, refused when it is not.")


def _fill_add(parser: ArgumentParser) -> None:
    _intermixed(parser)
    parser.add_argument("input_pos", nargs="?", metavar="INPUT",
                        help="The add-secret request; - reads standard input.")
    parser.add_argument("-i", "--input", metavar="FILE", help="The same as INPUT.")
    parser.add_argument("-f", "--force", action="store_true",
                        help="Add the request even if the store holds a secret with this ID.")


def _fill_list(parser: ArgumentParser) -> None:
    _intermixed(parser)
    parser.add_argument("output_pos", nargs="?", metavar="OUTPUT",
                        help="Where to write the list. Default: standard output.")
    parser.add_argument("-o", "--output", metavar="FILE", help="The same as OUTPUT.")
    parser.add_argument("--format", choices=("human", "yaml", "bin"), default="human",
                        help="Output format: human (default), yaml, or bin (the ultravisor's "
                             "binary list).")


def _fill_retrieve(parser: ArgumentParser) -> None:
    _intermixed(parser)
    parser.add_argument("input_pos", nargs="?", metavar="INPUT",
                        help="The secret: its NAME.yaml, hex ID, name or index (see --inform).")
    parser.add_argument("output_pos", nargs="?", metavar="OUTPUT",
                        help="Where to write the secret (mode 0600). Default: standard output.")
    parser.add_argument("-i", "--input", metavar="ID", help="The same as INPUT.")
    parser.add_argument("-o", "--output", metavar="FILE", help="The same as OUTPUT.")
    parser.add_argument("--inform", choices=("yaml", "hex", "name", "idx"), default="yaml",
                        help="How INPUT names the secret: yaml (default; the NAME.yaml of "
                             "pvsecret create), hex (the 32-byte ID), name, or idx (its index "
                             "in pvsecret list).")
    parser.add_argument("--outform", choices=("pem", "bin"), default="pem",
                        help="Output format: pem (default; labelled by the secret's kind) or "
                             "bin (the raw secret).")


def _fill_plan(parser: ArgumentParser) -> None:
    from ._fleet import fill_plan  # the fleet command lives in its own module (ADR 0121)

    fill_plan(parser)


def cmd_plan(args: argparse.Namespace) -> int:
    """``pvsecret plan``: every guest's requests from a plan file (``cli/_fleet.py``)."""
    from ._fleet import cmd_plan as run_plan

    return run_plan(args)


_Fill = Callable[[ArgumentParser], None]
#: name -> (aliases, help, what to add); "create" is filled by _fill_create
_COMMANDS: dict[str, tuple[tuple[str, ...], str, _Fill]] = {
    "create": ((), "Create an add-secret request for one or more IBM Z host keys. Run it on a "
                   "trusted machine; the request is bound to one SE image (--hdr).", _fill_meta),
    "verify": ((), "Check an add-secret request's structure and user-data signature, and write "
                   "its user data.", _fill_verify),
    "add": ((), "Add a request to the ultravisor's secret store. Only in an SE guest (s390x, "
                "/dev/uv).", _fill_add),
    "lock": ((), "Lock the secret store: no more secrets can be added until the guest "
                 "reboots. Only in an SE guest.", _fill_meta),
    "list": ((), "List the secrets in the store. Only in an SE guest.", _fill_list),
    "retrieve": (("retr",), "Retrieve a retrievable secret from the store. Only in an SE "
                            "guest on z17 or later.", _fill_retrieve),
    "version": ((), "Print the version and exit.", _fill_meta),
    "plan": ((), "Create the requests of every guest of a plan file (see pvsecret plan --help).",
             _fill_plan),
}
_SECRET_TYPE_PARSERS: dict[str, tuple[tuple[str, ...], str, _Fill]] = {
    "meta": ((), "A request that carries no secret, only flags (e.g. --flags disable-dump).",
             _fill_meta),
    "association": ((), "An association secret: 32 bytes (random unless --input-secret) with a "
                        "name, e.g. for IBM Hyper Protect or a guest pair.", _fill_association),
    "retrievable": (("retr",), "A secret the guest can retrieve (plaintext or a key, see "
                               "--type). z17 or later.", _fill_retrievable),
    "update-cck": (("cck",), "Replace the image's customer communication key (CCK). The "
                             "image must be built with pvimg create --enable-cck-update.",
                   _fill_update_cck),
}

_DOC_FILES = ("-k z16.crt --hdr se.hdr", "--crt DigiCertCA.crt --crt ibm-sign.crt")
#: examples from IBM's product documentation (Secure Execution for Linux), per sub-command
EXAMPLES: dict[str, tuple[tuple[str, str], ...]] = {
    "meta": (
        ("Prevent dumps of the guest (\"Preventing SEL guest dumps\"):",
         "pvsecret create meta -k z16.crt --hdr se.hdr -o addNoDumpReq \\\n"
         "    --crt DigiCertCA.crt --crt ibm-sign.crt --flags disable-dump"),
    ),
    "association": (
        ("An association secret named myConfidentialSecret, dumps disabled:",
         "pvsecret create association -k z16.crt --hdr se.hdr -o addSecretReq \\\n"
         "    --crt DigiCertCA.crt --crt ibm-sign.crt --flags disable-dump \\\n"
         "    \"myConfidentialSecret\""),
    ),
    "retrievable": (
        ("A retrievable AES key MyRetrSecret for one image (\"Creating and retrieving "
         "retrievable secrets\"):",
         "pvsecret create retr -k z17.crt --hdr se.hdr -o addRetrReq \\\n"
         "    -C DigiCertCA.crt -C ibm-sign.crt --secret aes.key --type aes \\\n"
         "    --extension-secret ext.secret MyRetrSecret"),
    ),
    "update-cck": (
        ("Replace the CCK of an image built with --enable-cck-update:",
         "pvsecret create update-cck -k z17.crt --hdr se.hdr -o updateCckReq \\\n"
         "    --crt DigiCertCA.crt --crt ibm-sign.crt --cck old.cck --secret new.cck"),
    ),
    "create": (
        ("Prevent dumps of the guest:",
         "pvsecret create meta -k z16.crt --hdr se.hdr -o addNoDumpReq \\\n"
         "    --crt DigiCertCA.crt --crt ibm-sign.crt --flags disable-dump"),
        ("An association secret:",
         "pvsecret create association -k z16.crt --hdr se.hdr -o addSecretReq \\\n"
         "    --crt DigiCertCA.crt --crt ibm-sign.crt \"myConfidentialSecret\""),
    ),
    "verify": (
        ("Check a request and write its user data to a file:",
         "pvsecret verify addSecretReq userdata.bin"),
        ("Check signed user data:",
         "pvsecret verify --user-cert signer.crt addSecretReq userdata.bin"),
    ),
    "add": (
        ("In the SE guest, add the request (\"Adding secrets to a guest\"):",
         "pvsecret add addSecretReq"),
    ),
    "lock": (("In the SE guest, after the last secret was added:", "pvsecret lock"),),
    "list": (("In the SE guest, show the secrets in the store:", "pvsecret list"),),
    "plan": (
        ("Create every guest's requests of a plan, verified once, on all cores:",
         "pvsecret plan fleet.yaml -o requests --summary summary.json"),
        ("Check the plan and the host-key documents without writing:",
         "pvsecret plan fleet.yaml -o requests --dry-run"),
    ),
    "retrieve": (
        ("In the SE guest, retrieve a secret through the NAME.yaml of pvsecret create:",
         "pvsecret retrieve -o MyRetrSecret.pem MyRetrSecret.yaml"),
    ),
    "pvsecret": (
        ("Prevent dumps of the guest (on the trusted machine, then in the guest):",
         "pvsecret create meta -k z16.crt --hdr se.hdr -o addNoDumpReq \\\n"
         "    --crt DigiCertCA.crt --crt ibm-sign.crt --flags disable-dump\n"
         "pvsecret add addNoDumpReq"),
    ),
}



def merge_late_options(args: argparse.Namespace) -> None:
    """Fold options given after a sub-command into the main namespace."""
    for key in [k for k in vars(args) if k.startswith(_AFTER)]:
        late = getattr(args, key)
        delattr(args, key)
        name = key[len(_AFTER):]
        early = getattr(args, name, None)
        if isinstance(late, list):
            setattr(args, name, (early or []) + late)
        elif isinstance(late, bool):
            setattr(args, name, bool(early) or late)
        elif isinstance(late, int):
            setattr(args, name, (early or 0) + late)
        elif early is not None:
            flag = "--" + name.replace("_", "-")
            raise UsageError(f"the argument '{flag}' cannot be used multiple times")
        else:
            setattr(args, name, late)


# ---------------------------------------------------------------------------- create

def _parse_flags(args: argparse.Namespace) -> int:
    from ..addsecret.request import ADD_SECRET_FLAGS

    if args.pcf is not None:
        if args.flags:
            raise UsageError("the argument '--pcf <HEX>' cannot be used with '--flags'")
        digits = args.pcf.removeprefix("0x")
        if not digits or len(digits) > 16:
            raise UsageError(f"pcf hexstring {digits} must be 1 to 16 hex digits")
        if any(c not in "0123456789abcdefABCDEF" for c in digits):
            raise UsageError(f"invalid value '{args.pcf}' for '--pcf': not hex")
        return int(digits, 16)
    flags = 0
    for flag in args.flags:
        if flag not in ADD_SECRET_FLAGS:
            raise UsageError(f"invalid value '{flag}' for '--flags <FLAG>' "
                             f"[possible values: {', '.join(ADD_SECRET_FLAGS)}]")
        flags |= ADD_SECRET_FLAGS[flag]
    return flags


def _read_se_header(path: str) -> Any:
    from ..errors import FormatError
    from ..formats.se_header import read_se_header

    if path == "-":
        raise InputError("Cannot open `-`: --hdr needs a seekable file, not stdin")
    # an SE image can be large: it is searched at a few offsets, never read whole
    stream, _ = fileio.open_regular(path, "")
    try:
        with stream:
            return read_se_header(stream)
    except OSError as exc:
        raise InputError(f"Cannot open `{path}`: {exc.strerror or exc}") from None
    except FormatError as exc:
        raise InputError(f"Provided SE-header in '{path}' is malformed: {exc}",
                         *exc.details) from None


def _same_file(a: str, b: str) -> bool:
    import os.path

    return a != "-" and b != "-" and os.path.realpath(a) == os.path.realpath(b)


def _host_key_inputs(args: argparse.Namespace) -> list[tuple[str, str | None]]:
    """(option, path) of the host-key, certificate and CRL inputs."""
    found: list[tuple[str, str | None]] = []
    found += [("--host-key-document", path) for path in args.host_key_document or ()]
    found += [("--cert", path) for path in args.cert or ()]
    found += [("--crl", path) for path in args.crl or ()]
    found.append(("--root-ca", args.root_ca))
    return found


def _create_inputs(args: argparse.Namespace) -> list[tuple[str, str | None]]:
    """(option, path) of every file ``create`` reads."""
    found = _host_key_inputs(args)
    for dest in ("hdr", "cuid", "extension_secret", "cck", "user_data", "user_sign_key", "policy",
                 "input_secret", "secret"):
        found.append(("--" + dest.replace("_", "-"), getattr(args, dest, None)))
    return found


def _check_create_args(args: argparse.Namespace) -> None:
    if args.secret_type is None:
        raise UsageError("the following required arguments were not provided: <SECRET-TYPE>")
    missing = [flag for flag, value in (("--hdr <FILE>", args.hdr), ("--output <FILE>", args.output))
               if value is None]
    if missing:
        raise UsageError(f"the following required arguments were not provided: {' '.join(missing)}")
    for a, b in (("cck", "extension_secret"), ("cuid", "cuid_hex"), ("policy", "user_data")):
        if getattr(args, a) is not None and getattr(args, b) is not None:
            raise UsageError(f"the argument '--{a.replace('_', '-')}' cannot be used with "
                             f"'--{b.replace('_', '-')}'")
    if args.secret_type in ("retrievable", "retr", "update-cck", "cck"):
        # checked here, not by argparse: a mistyped option (-aes) gets "did you mean" first
        missing = [flag for flag, dest in (("--secret <FILE>", "secret"), ("--type <TYPE>", "kind"))
                   if getattr(args, dest, "") is None]
        if missing:
            raise UsageError("the following required arguments were not provided: "
                             f"{' '.join(missing)}",
                             f"For more information, try 'pvsecret create {args.secret_type} "
                             "--help'.")
    if args.secret_type == "association" and None not in (args.input_secret, args.output_secret):
        raise UsageError("the argument '--input-secret' cannot be used with '--output-secret'")


def _secret(args: argparse.Namespace) -> Any:
    from ..addsecret import secrets as guest_secret

    kind = args.secret_type
    if kind == "meta":
        return guest_secret.meta_secret()
    if kind == "association":
        given = (fileio.read_exact(args.input_secret, 32, "Association secret")
                 if args.input_secret else None)
        return guest_secret.association_secret(args.name, given, use_name=args.use_name)
    if kind in ("update-cck", "cck"):
        return guest_secret.update_cck_secret(fileio.read_exact(args.secret, 32, "CCK file"))
    if kind in ("retrievable", "retr"):
        from ..addsecret.retrievable import RetrievableKind, retrievable_secret

        retr_kind = RetrievableKind(args.kind)
        data = read_file(args.secret, f"retrievable {retr_kind.display}",
                         limit=fileio.MAX_DOCUMENT_FILE)
        return retrievable_secret(args.name, retr_kind, data, source=args.secret,
                                  use_name=args.use_name)
    raise UsageError(f"unknown secret type '{kind}'")


def _user_data(args: argparse.Namespace) -> tuple[Any, bytes]:
    """(UserData, text for stdout): --user-data, --user-sign-key and --policy.

    ``--toc-policy`` is checked here too, with the other policy option, so a
    file that cannot be appended to stops ``create`` before any output exists.
    """
    from ..addsecret.request import NO_USER_DATA

    if args.user_data is None and args.policy is None and args.user_sign_key is None:
        return NO_USER_DATA, b""
    # signing and policy support (cryptography.x509 and friends) only when asked for
    import os

    from ..addsecret.request import UserData
    from ..addsecret.user_data import load_signing_key, make_user_data, policy_reference_from_stream
    from ..formats.request import UserDataType

    data = None
    if args.user_data is not None:
        data = read_file(args.user_data, "user-data", limit=fileio.MAX_DOCUMENT_FILE)
        if not data:
            log.warning("Added empty user-data file.")
    stdout = b""
    reference = None
    if args.policy is not None:
        # hashed in chunks, never read whole; a regular file of at most MAX_POLICY_FILE
        # bytes (a FIFO or /dev/zero would never end)
        stream, _ = fileio.open_regular(args.policy, "policy file", fileio.MAX_POLICY_FILE,
                                        capped=True)
        try:
            with stream:
                digest, reference = policy_reference_from_stream(stream, os.fsencode(args.policy))
        except OSError as exc:
            raise InputError(f"Cannot read policy file at `{args.policy}`: "
                             f"{exc.strerror or exc}") from None
        stdout = (digest.hex() + "\n").encode("ascii")
    key = None
    if args.user_sign_key is not None:
        key = load_signing_key(read_file(args.user_sign_key, "User-signing key",
                                         limit=fileio.MAX_KEY_FILE), args.user_sign_key)
        if reference is not None:
            log.warning("The policy reference is not embedded: signed user data has no room "
                        "for it (the request carries signed empty user data)")
    if data is not None or key is not None:
        try:
            return make_user_data(data, key), stdout
        except InputError as exc:  # too large: say which file
            raise InputError(f"{exc} (`{args.user_data}` has {len(data or b'')} bytes)",
                             *exc.details) from None
    if reference is not None:
        return UserData(UserDataType.UNSIGNED, reference), stdout
    return NO_USER_DATA, stdout


def _refuse_on_se_guest(force: bool) -> None:
    from ..errors import SecexError
    from ..uv.se_guest import is_se_guest

    if not is_se_guest(SE_GUEST_FLAG, machine=MACHINE):
        return
    log.warning("The system seems to be a Secure Execution guest")
    if not force:
        raise SecexError("Do NOT generate Add-secret requests on a machine where you want to use "
                         "the secret! Overwrite with '-f'")
    log.warning("WARNING: Enforcing of generating a request on a Secure Execution guest")


def _check_toc_policy(path: str) -> None:
    """--toc-policy must be appendable (checked before anything is written)."""
    import os

    if os.path.isdir(path):
        raise InputError(f"Cannot append the request tag to `{path}`: it is a directory")
    if os.path.exists(path):
        if not os.path.isfile(path):  # a FIFO would block, a device swallow the tag
            raise InputError(f"Cannot append the request tag to `{path}`: not a regular file")
        if not os.access(path, os.W_OK):
            raise InputError(f"Cannot append the request tag to `{path}`: Permission denied")
        return
    parent = os.path.dirname(path) or "."
    if not os.path.isdir(parent):
        raise InputError(f"Cannot append the request tag to `{path}`: "
                         f"the directory `{parent}` does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"Cannot append the request tag to `{path}`: "
                         f"no permission to create it in `{parent}`")


def _warn_hosts_not_in_image(documents: Sequence[str], host_keys: Sequence[Any], se_header: Any,
                             hdr: str) -> None:
    """Warn per host-key document whose key has no key slot in the image (the hashes are
    plaintext in the SE header); the request is built all the same."""
    in_image = {slot.host_key_hash for slot in se_header.key_slots}
    warned = set()
    for document, key in zip(documents, host_keys, strict=True):
        if key.hash not in in_image and document not in warned:
            warned.add(document)
            log.warning("WARNING: The host key of '%s' (hash %s) is in none of the key slots of "
                        "the SE image '%s': that image cannot run on this host, so the request "
                        "cannot be added there (check -k and --hdr)", document, key.hash.hex(),
                        hdr)


def _warn_replaced_secret_info(yaml_path: str, name: str) -> None:
    """Say so when NAME.yaml already describes another secret (e.g. ``db.a`` then ``db.b``)."""
    from ..addsecret.name_yaml import described_secret_name

    previous = described_secret_name(yaml_path)
    if previous is not None and previous != name:
        log.warning("WARNING: '%s' describes the secret '%s'; it is replaced by the description "
                    "of '%s' (the file name drops everything after the name's last dot: use "
                    "--stdout or another --output folder to keep both)", yaml_path, previous,
                    name)


def cmd_create(args: argparse.Namespace) -> int:
    """``pvsecret create``: build one add-secret request (and NAME.yaml for named secrets)."""
    _check_create_args(args)
    _refuse_on_se_guest(args.force)
    from ..addsecret.request import AddSecretRequest, extension_secret_from_cck
    from ..secret import SecretBytes
    from ._hostkeys import load_host_keys

    secret = _secret(args)
    flags = _parse_flags(args)
    se_header = _read_se_header(args.hdr)
    tags = se_header.boot_tags
    cuid = None
    if args.cuid_hex is not None or args.cuid is not None:
        from ..addsecret.cuid import parse_cuid_file, parse_cuid_hex

        cuid = (parse_cuid_hex(args.cuid_hex) if args.cuid_hex is not None else
                parse_cuid_file(read_file(args.cuid, "CUID file", limit=fileio.MAX_SMALL_FILE),
                                args.cuid))
    extension = None
    if args.extension_secret is not None:
        extension = SecretBytes(fileio.read_exact(args.extension_secret, 32, "extension secret"))
    elif args.cck is not None:
        extension = extension_secret_from_cck(SecretBytes(fileio.read_exact(args.cck, 32, "CCK")), tags)
    user_data, policy_line = _user_data(args)

    stdout_yaml = getattr(args, "stdout", False)
    yaml_path = None
    if secret.is_named:
        from ..addsecret.name_yaml import secret_yaml, secret_yaml_path
    if secret.is_named and not stdout_yaml:
        yaml_path = str(secret_yaml_path(secret.name, args.output))
        clash = [flag for flag, path in (("--output", args.output),
                                          ("--output-secret", getattr(args, "output_secret", None)))
                 if path is not None and _same_file(path, yaml_path)]
        if clash:
            raise UsageError(f"{clash[0]} and the secret info file '{yaml_path}' are the same: "
                             "choose another output or use --stdout")

    output_secret = getattr(args, "output_secret", None)
    # no output may be an input or another output (e.g. the plaintext secret over the request)
    fileio.check_distinct([("--output", args.output), ("the secret info file", yaml_path),
                           ("--output-secret", output_secret), ("--toc-policy", args.toc_policy)],
                          _create_inputs(args))
    for target in (args.output, yaml_path, output_secret):
        if target is not None:
            fileio.check_output(target)  # before verification and downloads
    if args.toc_policy is not None:
        _check_toc_policy(args.toc_policy)
    host_keys = load_host_keys(args, "secret")
    if yaml_path is not None:
        _warn_replaced_secret_info(yaml_path, secret.name)
    request = AddSecretRequest(secret, tags, flags=flags, cuid=cuid, extension_secret=extension,
                               user_data=user_data).build(host_keys)
    _warn_hosts_not_in_image(args.host_key_document, host_keys, se_header, args.hdr)
    with fileio.OutputTransaction() as outputs:
        if policy_line:
            outputs.add("-", policy_line)
        outputs.add(args.output, request)
        if secret.is_named:
            text = secret_yaml(secret).encode("utf-8")
            if stdout_yaml:
                outputs.add("-", text + b"\n")
            else:
                assert yaml_path is not None
                outputs.add(yaml_path, text)
        if output_secret:
            outputs.add(output_secret, secret.payload.reveal(), secret=True)
        if args.toc_policy is not None:  # appended only once every other output is in place
            outputs.append(args.toc_policy, (request[-16:].hex() + "\n").encode("ascii"))
    log.warning("Successfully generated the request")
    log.info("Successfully wrote the request to '%s'", args.output)
    if yaml_path is not None:
        log.warning("Successfully wrote secret info to '%s'", yaml_path)
    return 0


# ---------------------------------------------------------------------------- verify

def _stdout_is_terminal() -> bool:
    """Is standard output a terminal (binary data would garble it)?"""
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def cmd_verify(args: argparse.Namespace) -> int:
    """``pvsecret verify``: check a request's structure and user-data signature."""
    from ..addsecret.user_data import load_verification_certificate, verify_request_user_data
    from ..errors import VerificationError
    from ..formats.request import MAX_REQUEST_SIZE

    source = positional_or_option(args, "input_pos", "input", "input")
    assert source is not None
    output = positional_or_option(args, "output_pos", "output", "output", required=False) or "-"
    fileio.check_distinct([("OUTPUT", output)], [("INPUT", source), ("--user-cert", args.user_cert)])
    # OUTPUT is not checked early: without user data nothing is written (as the reference)
    data = read_file(source, "add-secret request", allow_stdin=True, limit=MAX_REQUEST_SIZE)
    key = None
    if args.user_cert is not None:
        key = load_verification_certificate(
            read_file(args.user_cert, "user-verification certificate",
                      limit=fileio.MAX_CERTIFICATE_FILE), args.user_cert)
    try:
        result = verify_request_user_data(data, key)
    except (InputError, VerificationError) as exc:
        raise type(exc)(f"Could not verify the add-secret request in '{source}': {exc}",
                        *exc.details) from None
    log.warning("Successfully verified the request.")
    if result.data is not None and output == "-" and _stdout_is_terminal():
        # as compressors do: binary data (zero-padded) would garble the terminal
        raise InputError("Not writing the binary user data to a terminal: name an OUTPUT file "
                         "(pvsecret verify INPUT OUTPUT) or redirect standard output",
                         "use '-' only with a pipe or a redirection, e.g. "
                         "'pvsecret verify INPUT - | xxd'")
    if result.data is not None:
        with fileio.OutputTransaction() as outputs:
            outputs.add(output, result.data)
    return 0


# ---------------------------------------------------------------------------- device

def _open_device(args: argparse.Namespace) -> Any:
    from ..uv.device import UvDevice

    return UvDevice.open(UV_DEVICE, what=f"pvsecret {args.command}", ioctl=UV_IOCTL,
                         machine=MACHINE)


def cmd_add(args: argparse.Namespace) -> int:
    """``pvsecret add``: add a request to the ultravisor's secret store."""
    from ..formats.request import MAX_REQUEST_SIZE
    from ..uv.device import add_secret

    source = positional_or_option(args, "input_pos", "input", "input")
    assert source is not None
    with _open_device(args) as device:
        data = read_file(source, "add-secret request", allow_stdin=True, limit=MAX_REQUEST_SIZE)
        add_secret(device, data, force=args.force, source=f"'{source}'")
    log.warning("Successfully added the secret")
    return 0


def cmd_lock(args: argparse.Namespace) -> int:
    """``pvsecret lock``: lock the secret store until the guest reboots."""
    from ..uv.device import lock_secret_store

    with _open_device(args) as device:
        lock_secret_store(device)
    log.warning("Successfully locked secret store")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """``pvsecret list``: show the secrets in the store."""
    from ..uv.device import list_secrets

    output = positional_or_option(args, "output_pos", "output", "output", required=False) or "-"
    fileio.check_output(output)
    with _open_device(args) as device:
        secrets = list_secrets(device)
    if args.format == "bin":
        data = secrets.to_bytes()
    else:
        data = (secrets.yaml() if args.format == "yaml" else secrets.human()).encode("utf-8")
    with fileio.OutputTransaction() as outputs:
        outputs.add(output, data)
    if output != "-":
        log.warning("Successfully wrote the list of secrets to '%s'", output)
    return 0


def cmd_retrieve(args: argparse.Namespace) -> int:
    """``pvsecret retrieve``: fetch a retrievable secret from the store."""
    from ..uv.retrieve import retrieve, selector_from_input

    value = positional_or_option(args, "input_pos", "input", "input")
    assert value is not None
    output = positional_or_option(args, "output_pos", "output", "output", required=False) or "-"
    if args.inform == "yaml":
        fileio.check_distinct([("OUTPUT", output)], [("INPUT", value)])
    fileio.check_output(output)  # before the secret leaves the ultravisor
    with _open_device(args) as device:
        yaml_text = (read_file(value, "secret description", limit=fileio.MAX_DOCUMENT_FILE)
                     if args.inform == "yaml" else None)
        selector = selector_from_input(args.inform, value, yaml_text)
        secret = retrieve(device, selector)
    data = secret.to_pem() if args.outform == "pem" else secret.data.reveal()
    with fileio.OutputTransaction() as outputs:
        outputs.add(output, data, secret=True)
    return 0


def cmd_version(_: argparse.Namespace) -> int:
    """``pvsecret version``: print the version."""
    print(f"pvsecret (secexkit) version {__version__}")
    return 0


COMMANDS = {
    "create": cmd_create,
    "verify": cmd_verify,
    "add": cmd_add,
    "list": cmd_list,
    "lock": cmd_lock,
    "retrieve": cmd_retrieve,
    "retr": cmd_retrieve,
    "version": cmd_version,
    "plan": cmd_plan,
}


def _main(args: argparse.Namespace) -> int:
    return dispatch(args, COMMANDS, cmd_version, build_parser)


class _Parser(ArgumentParser):
    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: None = None) -> argparse.Namespace:
        parsed = super().parse_args(args)
        merge_late_options(parsed)
        return parsed


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``pvsecret`` with ``argv``; returns the exit code."""
    parser = build_parser(sys.argv[1:] if argv is None else argv)
    parser.__class__ = _Parser
    return run(_main, parser, argv)


if __name__ == "__main__":
    sys.exit(main())
