"""``pvimg`` (create, info, test) and ``genprotimg`` (= ``pvimg create``).

Thin layer: parse, read the small inputs, call :mod:`secexkit.image`, print.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import __version__, fileio
from ..errors import InputError, NotAvailableError, UsageError
from ..hostkeys import parse_host_key_document
from ..image import flags as image_flags
from ..image import info as image_info
from ..image.bootloader import DEFAULT_DIRECTORIES, ENVIRONMENT_VARIABLE, find_boot_loaders
from ..image.builder import ImageInputs, ImageOptions, check_components, create_image
from ..image.header import (
    CCK_SIZE,
    IMAGE_KEY_SIZE,
    PROTECTION_KEY_SIZE,
    decrypt_se_header,
    header_contains,
)
from ..secret import SecretBytes
from ._common import (
    EXIT_ERROR,
    EXIT_OK,
    ArgumentParser,
    StoreOnce,
    add_list_option,
    add_verbosity,
    examples_epilog,
    read_file,
    run,
    write_stdout,
)
from ._hostkeys import add_host_key_options, check_host_key_options, load_host_keys

log = logging.getLogger("secexkit.cli")

SYS_UV_KEYS_ALL = "/sys/firmware/uv/keys/all"
UV_KEY_HASH_COUNT = 15
#: show a progress bar on a terminal when the inputs are larger than this
PROGRESS_THRESHOLD = 4 << 20


def _merge_verbosity(args: argparse.Namespace) -> argparse.Namespace:
    args.verbose = getattr(args, "verbose", 0) + getattr(args, "sub_verbose", 0)
    args.quiet = getattr(args, "quiet", 0) + getattr(args, "sub_quiet", 0)
    return args


class _Parser(ArgumentParser):
    """Adds the -v/-q counts given after the sub-command to those before it."""

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: None = None) -> argparse.Namespace:
        return _merge_verbosity(super().parse_args(args, namespace))


def _late_verbosity(parser: argparse.ArgumentParser) -> None:
    """-v/-q/-V after the sub-command too (counts add to those before it)."""
    add_verbosity(parser, dest_prefix="sub_", default=argparse.SUPPRESS)


def add_create_options(parser: argparse.ArgumentParser) -> None:
    """The options of ``pvimg create`` (shared with ``genprotimg``'s legacy names)."""
    inputs = parser.add_argument_group("components")
    inputs.add_argument("-i", "--kernel", "--image", dest="kernel", metavar="FILE",
                        action=StoreOnce,
                        help="The raw s390x Linux kernel (e.g. /boot/vmlinuz on s390x; not an "
                             "ELF file). Required.")
    inputs.add_argument("-r", "--ramdisk", metavar="FILE", action=StoreOnce,
                        help="The initial ramdisk. Optional.")
    inputs.add_argument("-p", "--parmfile", metavar="FILE", action=StoreOnce,
                        help="The kernel command line (a text file; it must fit the kernel's "
                             "command-line size). Optional.")
    parser.add_argument("-o", "--output", metavar="FILE", action=StoreOnce,
                        help="The Secure Execution image to write. Required; an existing file "
                             "is kept unless --overwrite.")
    add_host_key_options(parser)
    parser.add_argument("--no-component-check", action="store_true",
                        help="Do not check that the kernel is a raw s390x kernel and that the "
                             "command line fits it.")
    parser.add_argument("--overwrite", action="store_true",
                        help="Replace an existing output file.")
    keys = parser.add_argument_group("keys")
    keys.add_argument("--cck", "--comm-key", dest="cck", metavar="FILE", action=StoreOnce,
                      help="The customer communication key (CCK): a file of exactly 32 bytes. "
                           "Default: random. Needed to decrypt dumps (--enable-dump) and to "
                           "derive extension secrets (pvsecret create --cck).")
    keys.add_argument("--hdr-key", "--x-header-key", dest="hdr_key", metavar="FILE",
                      action=StoreOnce,
                      help="The SE header protection key: a file of exactly 32 bytes. "
                           "Default: random. Lets pvimg info --hdr-key authenticate the header.")
    keys.add_argument("--image-key", "--x-comp-key", dest="image_key", metavar="FILE",
                      action=StoreOnce,
                      help="The AES-XTS key of the components: a file of exactly 64 bytes "
                           "(two different halves). Default: random.")
    flags = parser.add_argument_group("header flags (dumping is disabled by default)")
    for suffix, _, _, _ in image_flags.FLAG_OPTIONS:
        pair = flags.add_mutually_exclusive_group()
        dest = "flag_" + suffix.replace("-", "_")
        enable_help, disable_help = _FLAG_HELP[suffix]
        pair.add_argument(f"--enable-{suffix}", dest=dest, action="store_const",
                          const=True, default=None, help=enable_help)
        pair.add_argument(f"--disable-{suffix}", dest=dest, action="store_const",
                          const=False, default=None, help=disable_help)
    parser.add_argument("--bootloader-dir", dest="bootloader_dir", metavar="DIR",
                        action=StoreOnce,
                        help="folder holding the s390x boot loaders stage3a.bin and "
                             "stage3b_reloc.bin of s390-tools (default: "
                             f"${ENVIRONMENT_VARIABLE}, then the s390-tools data folders "
                             f"{', '.join(DEFAULT_DIRECTORIES)})")
    hidden = argparse.SUPPRESS
    # the reference's hidden name of --bootloader-dir
    parser.add_argument("--x-bootloader-directory", dest="bootloader_dir", metavar="DIR",
                        action=StoreOnce, help=hidden)
    for name, metavar in (("--x-psw", "ADDRESS"), ("--x-pcf", "HEX"), ("--x-scf", "HEX")):
        parser.add_argument(name, metavar=metavar, action=StoreOnce, help=hidden)


#: examples from IBM's product documentation (Secure Execution for Linux)
EXAMPLES: dict[str, tuple[tuple[str, str], ...]] = {
    "create": (
        ("Build an SE image for a z16 (\"Preparing the guest image\"):",
         "pvimg create -i /boot/vmlinuz -r /boot/initrd.img -p parmfile \\\n"
         "    -k z16.crt -C DigiCertCA.crt -C ibm-sign.crt -o /boot/secure-linux"),
        ("Allow encrypted dumps, decrypted later with the CCK:",
         "pvimg create -i vmlinuz -r initrd.img -p parmfile -k z16.crt \\\n"
         "    -C DigiCertCA.crt -C ibm-sign.crt --enable-dump --cck cck.bin -o se.img"),
    ),
    "info": (
        ("Show the header of an image, authenticated with its header key:",
         "pvimg info --format text --hdr-key hdr.key se.img"),
    ),
    "test": (
        ("Is the image built for this host key document?", "pvimg test -k z16.crt se.img"),
        ("In an SE guest: is the image built for the machine it runs on?",
         "pvimg test --key-hashes se.img"),
    ),
    "genprotimg": (
        ("Build an SE image (the older command of the documentation):",
         "genprotimg -i /boot/vmlinuz -r /boot/initrd.img -p parmfile \\\n"
         "    -k z16.crt -C DigiCertCA.crt -C ibm-sign.crt -o /boot/secure-linux"),
    ),
}

#: suffix -> (--enable-X help, --disable-X help); "(default)" marks the default
_FLAG_HELP = {
    "dump": ("Allow the hypervisor to take encrypted dumps of the guest (needs --cck or "
             "--enable-cck-update: the dump is decrypted with the CCK).",
             "Do not allow dumps of the guest (default)."),
    "pckmo": ("Allow PCKMO for DEA/TDEA, AES and ECC keys (default).",
              "Do not allow PCKMO for DEA/TDEA, AES and ECC keys."),
    "pckmo-hmac": ("Allow PCKMO for HMAC keys.", "Do not allow PCKMO for HMAC keys (default)."),
    "backup-keys": ("Allow the image to run on the backup target keys too.",
                    "Do not allow backup target keys (default)."),
    "image-encryption": ("Encrypt the components (default).",
                         "Do not encrypt the components: the kernel, ramdisk and command line "
                         "are readable by anyone (integrity is still protected)."),
    "cck-extension-secret": ("Require the extension secret derived from the CCK in every "
                             "add-secret request (needs --cck; pvsecret create --cck).",
                             "Do not require a CCK-derived extension secret (default)."),
    "cck-update": ("Allow replacing the CCK with pvsecret create update-cck (z17 or later).",
                   "Do not allow replacing the CCK (default)."),
}


def build_parser() -> ArgumentParser:
    """The ``pvimg`` parser with its subcommands (also used for man pages and docs)."""
    parser = _Parser(prog="pvimg",
                     description="Create and inspect IBM Secure Execution boot images. Exit "
                                 "codes: 0 success, 1 error (pvimg test: not included), 2 "
                                 "usage error.",
                     epilog=examples_epilog(EXAMPLES["create"]))
    add_verbosity(parser)
    parser.add_argument("--version", action="store_true", help="Print the version and exit.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND",
                                     parser_class=ArgumentParser)
    create = commands.add_parser("create", help="Create a Secure Execution boot image.",
                                 description="Create a Secure Execution boot image from a "
                                             "kernel, an optional ramdisk and command line, "
                                             "for the machines of the host-key documents. "
                                             "Dumps are disabled unless --enable-dump.",
                                 epilog=examples_epilog(EXAMPLES["create"]))
    add_create_options(create)
    _late_verbosity(create)

    info = commands.add_parser("info", help="Show the SE header of an image.",
                               description="Show the Secure Execution header of an image: "
                                           "flags, key slots (host-key hashes), tags.",
                               epilog=examples_epilog(EXAMPLES["info"]))
    info.add_argument("input", nargs="?", metavar="INPUT",
                      help="The SE image or an extracted SE header.")
    info.add_argument("--format", metavar="FORMAT", action=StoreOnce,
                      help="Output format: text, text:full, json, json:pretty or json:minify. "
                           "Default: text on a terminal, else json.")
    info.add_argument("--hdr-key", "--key", dest="hdr_key", metavar="FILE", action=StoreOnce,
                      help="The header protection key (32 bytes, pvimg create --hdr-key): "
                           "authenticate and decrypt the header. Without it the output is "
                           "not verified (a warning says so).")
    info.add_argument("--show-secrets", action="store_true",
                      help="Show the decrypted secrets (CCK, image key). Needs --hdr-key.")
    info.add_argument("--print-schema", metavar="FORMAT", choices=("json", "text"), action=StoreOnce,
                      type=str.lower,
                      help="Print the JSON schema of the json output and exit (json or text).")
    _late_verbosity(info)

    test = commands.add_parser("test", help="Test whether an image is made for a host.",
                               description="Test whether an SE image carries a key slot "
                                           "for the given host keys. Exit 0 if at least one "
                                           "is included, 1 if none is.",
                               epilog=examples_epilog(EXAMPLES["test"]))
    test.add_argument("input", metavar="IMAGE", help="The SE image or an extracted SE header.")
    add_list_option(test, "-k", "--host-key-document", dest="host_key_document",
                    metavar="FILE", default=[],
                    help="Host-key documents to look for (not verified); repeatable.")
    test.add_argument("--key-hashes", metavar="FILE", action=StoreOnce,
                      help="A file of host-key hashes to look for, one hex line each (15 lines, "
                           "as the ultravisor lists them); --key-hashes alone reads "
                           f"{SYS_UV_KEYS_ALL} (in an SE guest or on its host).")
    _late_verbosity(test)
    commands.add_parser("version", help="Print the version and exit.",
                        description="Print the version and exit.")
    return parser


def build_genprotimg_parser() -> ArgumentParser:
    """The ``genprotimg`` parser: ``pvimg create`` with the legacy option names."""
    parser = _Parser(prog="genprotimg",
                     description="Create a Secure Execution boot image (= pvimg create).",
                     epilog=examples_epilog(EXAMPLES["genprotimg"]))
    add_verbosity(parser)
    parser.add_argument("--version", action="store_true", help="Print the version and exit.")
    # the reference's deprecated help options
    parser.add_argument("--help-all", "--help-experimental", action="help",
                        help=argparse.SUPPRESS)
    add_create_options(parser)
    return parser


# ---------------------------------------------------------------- create


_HEX_U64 = re.compile(r"(?:0[xX])?([0-9a-fA-F]{1,16})")


def _parse_u64(value: str, option: str) -> int:
    """1 to 16 ASCII hex digits, optionally after ``0x`` (no sign, space or ``_``)."""
    match = _HEX_U64.fullmatch(value)
    if match is None:
        raise UsageError(f"invalid value '{value}' for '--{option}': "
                         "expected up to 16 hex digits")
    return int(match.group(1), 16)


def _check_create_options(args: argparse.Namespace) -> dict[str, bool]:
    """Usage errors first (exit 2), before any file is read; parses the hidden hex values."""
    if args.kernel is None or args.output is None:
        missing = [o for o, v in (("--kernel <FILE>", args.kernel), ("--output <FILE>", args.output))
                   if v is None]
        raise UsageError(f"the following required arguments were not provided: {' '.join(missing)}")
    chosen = {suffix: getattr(args, f"flag_{suffix.replace('-', '_')}")
              for suffix, _, _, _ in image_flags.FLAG_OPTIONS}
    chosen = {k: v for k, v in chosen.items() if v is not None}
    if chosen and (args.x_pcf is not None or args.x_scf is not None):
        raise UsageError("the header flag options cannot be used with '--x-pcf' or '--x-scf'")
    if chosen.get("dump") and args.cck is None and not chosen.get("cck-update"):
        raise UsageError("--enable-dump requires --cck <FILE> or --enable-cck-update "
                         "(the dump is encrypted for the owner of the CCK)")
    if chosen.get("cck-extension-secret") and args.cck is None:
        raise UsageError("--enable-cck-extension-secret requires --cck <FILE>")
    if chosen.get("cck-extension-secret") and chosen.get("cck-update"):
        raise UsageError("the argument '--enable-cck-extension-secret' cannot be used with "
                         "'--enable-cck-update'")
    if args.image_key is not None and chosen.get("image-encryption") is False:
        raise UsageError("the argument '--image-key' cannot be used with "
                         "'--disable-image-encryption'")
    check_host_key_options(args)
    args.x_pcf = None if args.x_pcf is None else _parse_u64(args.x_pcf, "x-pcf")
    args.x_scf = None if args.x_scf is None else _parse_u64(args.x_scf, "x-scf")
    args.x_psw = None if args.x_psw is None else _parse_u64(args.x_psw, "x-psw")
    return chosen


def _read_key(path: str | None, size: int, what: str) -> SecretBytes | None:
    if path is None:
        return None
    data = read_file(path, what, limit=max(size, fileio.MAX_EXACT_KEY_FILE))
    if len(data) != size:
        raise InputError(f"Failed to use '{path}' as the {what}: it has {len(data)} bytes, "
                         f"{size} are needed")
    if size == IMAGE_KEY_SIZE and data[:32] == data[32:]:
        raise InputError(f"Failed to use '{path}' as the {what}: both AES-XTS key halves are "
                         "equal")
    return SecretBytes(data)


class _ProgressBar:
    def __init__(self, total: int) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.last = 0.0
        self.drawn = False
        self.last_fraction = 0.0

    def __call__(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self.last < 0.1 and self.done < self.total:
            return
        if self.drawn and self.done >= self.total and self.last_fraction >= 1.0:
            return  # 100 % is shown once
        self.last = now
        self.drawn = True
        fraction = self.last_fraction = min(self.done / self.total, 1.0)
        filled = int(fraction * 30)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {fraction * 100:5.1f}% "
                         f"{self.done >> 20}/{self.total >> 20} MiB")
        sys.stderr.flush()

    def close(self) -> None:
        if self.drawn:  # end the bar's line; nothing to end if it was never drawn
            sys.stderr.write("\n")
            sys.stderr.flush()


def _check_create_files(args: argparse.Namespace) -> None:
    """Before any work: the output can be written and is none of the inputs."""
    inputs: list[tuple[str, str | None]] = [
        ("--kernel", args.kernel), ("--ramdisk", args.ramdisk), ("--parmfile", args.parmfile),
        ("--cck", args.cck), ("--hdr-key", args.hdr_key), ("--image-key", args.image_key),
        ("--root-ca", args.root_ca)]
    inputs += [("--host-key-document", path) for path in args.host_key_document or ()]
    inputs += [("--cert", path) for path in args.cert or ()]
    inputs += [("--crl", path) for path in args.crl or ()]
    fileio.check_distinct([("--output", args.output)], inputs)
    fileio.check_output(args.output, overwrite=args.overwrite,
                        hint=" (use --overwrite to replace it)")


def _create(args: argparse.Namespace) -> int:
    chosen = _check_create_options(args)
    if args.bootloader_dir is not None:
        log.warning("Use bootloader directory: %s", args.bootloader_dir)
    _check_create_files(args)
    inputs = ImageInputs(Path(args.kernel), Path(args.ramdisk) if args.ramdisk else None,
                         Path(args.parmfile) if args.parmfile else None)
    if not args.no_component_check:  # a wrong kernel is reported as such, before the rest
        check_components(inputs)
    host_keys = load_host_keys(args, "Secure Execution image")
    cck = _read_key(args.cck, CCK_SIZE, "customer communication key (CCK)")
    header_key = _read_key(args.hdr_key, PROTECTION_KEY_SIZE,
                           "Secure Execution header protection key")
    image_key = _read_key(args.image_key, IMAGE_KEY_SIZE, "image components key")
    pcf = image_flags.PCF_DEFAULT if args.x_pcf is None else args.x_pcf
    scf = image_flags.SCF_DEFAULT if args.x_scf is None else args.x_scf
    pcf, scf = image_flags.apply_flag_options(pcf, scf, chosen)
    if pcf & image_flags.PCF_NO_COMPONENT_ENCRYPTION:
        log.warning("The components encryption is disabled, make sure that the components do "
                    "not contain any confidential content.")
    psw = args.x_psw
    loaders = find_boot_loaders(args.bootloader_dir, option="--bootloader-dir DIR")
    options = ImageOptions(host_keys=host_keys, pcf=pcf, scf=scf, cck=cck,
                           header_key=header_key, image_key=image_key, psw_address=psw,
                           component_check=not args.no_component_check,
                           overwrite=args.overwrite)
    total = 0
    for path in (inputs.kernel, inputs.ramdisk, inputs.parmfile):
        if path is not None:
            with contextlib.suppress(OSError):
                total += os.stat(path).st_size
    bar = _ProgressBar(total) if total > PROGRESS_THRESHOLD and sys.stderr.isatty() else None
    try:
        create_image(args.output, inputs, options, loaders, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    log.warning("Successfully generated the Secure Execution image.")
    return EXIT_OK


# ---------------------------------------------------------------- info


def _parse_format(value: str | None) -> tuple[str, str]:
    if value is None:
        return ("text" if sys.stdout.isatty() else "json"), "default"
    kind, _, variant = value.lower().partition(":")
    variant = variant or "default"
    allowed = {"text": ("default", "full"), "json": ("default", "pretty", "minify")}
    if kind not in allowed or variant not in allowed[kind]:
        raise UsageError(f"invalid value '{value}' for '--format'",
                         "possible values: text, text:full, json, json:pretty, json:minify")
    return kind, variant


def _open_header(path: str) -> Any:
    # an SE image can be large: the header is searched at a few offsets, never read whole
    stream, _ = fileio.open_regular(path, "")
    with stream:
        try:
            return image_info.load_se_header(stream, path)
        except OSError as exc:
            raise InputError(f"Cannot read `{path}`: {exc.strerror or exc}") from None


def _info(args: argparse.Namespace) -> int:
    if args.print_schema is not None:
        if args.input is not None or args.format is not None or args.hdr_key is not None \
                or args.show_secrets:
            raise UsageError("--print-schema cannot be used with INPUT, --format, --hdr-key "
                             "or --show-secrets")
        if args.print_schema == "json":
            write_stdout(image_info.schema_text())
        else:
            write_stdout("No schema for human-readable format available!\n")
        return EXIT_OK
    if args.input is None:
        raise UsageError("the following required arguments were not provided: "
                         "<INPUT|--print-schema <FORMAT>>")
    if args.show_secrets and args.hdr_key is None:
        raise UsageError("--show-secrets requires --hdr-key <FILE>")
    kind, variant = _parse_format(args.format)
    header = _open_header(args.input)
    secrets = None
    verified = False
    if args.hdr_key is not None:
        key = read_file(args.hdr_key, "SE header protection key",
                        limit=fileio.MAX_EXACT_KEY_FILE)
        if len(key) != PROTECTION_KEY_SIZE:
            raise InputError(f"Invalid Secure Execution header protection key '{args.hdr_key}': "
                             f"{len(key)} bytes, {PROTECTION_KEY_SIZE} are needed")
        decrypted = decrypt_se_header(header, SecretBytes(key))
        verified = True
        if args.show_secrets:
            secrets = decrypted
    else:
        log.warning("WARNING: The Secure Execution header integrity and authenticity was not "
                    "verified. Specify '--hdr-key' to authenticate it. Do not trust the data "
                    "without verification.")
    if kind == "text":
        write_stdout(image_info.text(header, verified=verified, secrets=secrets,
                                     full=variant == "full"))
    else:
        data = image_info.header_document(header, verified=verified, secrets=secrets)
        write_stdout(image_info.json_text(data, minify=variant == "minify"))
    return EXIT_OK


# ---------------------------------------------------------------- test


def _read_key_hashes(path: str) -> list[bytes]:
    if path == SYS_UV_KEYS_ALL:
        from ..uv.device import simulated_keys_all

        path = simulated_keys_all() or path  # SECEXKIT_UV: the software ultravisor's hashes
    if path == SYS_UV_KEYS_ALL and not os.path.exists(path):
        raise NotAvailableError("Support for query UV host key hashes is not available")
    content = read_file(path, "key hashes", limit=fileio.MAX_SMALL_FILE)
    hashes = []
    for number, line in enumerate(content.decode("ascii", "replace").splitlines(), 1):
        try:
            value = bytes.fromhex(line.strip())
        except ValueError:
            value = b""
        if len(value) != 32:
            raise InputError(f"Invalid host key hash in `{path}` line {number}")
        hashes.append(value)
    if len(hashes) != UV_KEY_HASH_COUNT:
        raise InputError(f"`{path}` must list {UV_KEY_HASH_COUNT} key hashes, "
                         f"not {len(hashes)}")
    return hashes


def _test(args: argparse.Namespace) -> int:
    if not args.host_key_document and args.key_hashes is None:
        raise UsageError("the following required arguments were not provided: "
                         "<--host-key-document <FILE>|--key-hashes[=<FILE>]>")
    if args.host_key_document and args.key_hashes is not None:
        raise UsageError("the argument '--key-hashes' cannot be used with "
                         "'--host-key-document <FILE>'")
    header = _open_header(args.input)
    success = False
    for path in args.host_key_document:
        document = parse_host_key_document(read_file(path, "host-key document"), path)
        if header_contains(header, document.host_key.hash):
            success = True
            log.warning(" \u2713 Host key document '%s' is included", path)
        else:
            log.warning(" \u2718 Host key document '%s' is not included", path)
    if args.key_hashes is not None:
        hashes = _read_key_hashes(args.key_hashes)
        labels = ["Host key hash", "Backup host key hash"] + ["Key hash"] * (len(hashes) - 2)
        for label, value in zip(labels, hashes, strict=True):
            if any(value) and header_contains(header, value):
                success = True
                log.warning(" \u2713 %s 0x%s is included", label, value.hex())
        if not success:
            log.warning(" \u2718 None of the key hashes is included")
    return EXIT_OK if success else EXIT_ERROR


# ---------------------------------------------------------------- entry points


def _print_version() -> int:
    write_stdout(f"pvimg (secexkit) version {__version__}\n")
    return EXIT_OK


def _main(args: argparse.Namespace) -> int:
    if args.version or args.command == "version":
        return _print_version()
    if args.command == "create":
        return _create(args)
    if args.command == "info":
        return _info(args)
    if args.command == "test":
        return _test(args)
    raise UsageError("a command is required: create, info or test")


def _fix_key_hashes(argv: list[str]) -> list[str]:
    """``--key-hashes`` takes its value only as ``--key-hashes=FILE`` (as the reference)."""
    return [f"--key-hashes={SYS_UV_KEYS_ALL}" if a == "--key-hashes" else a for a in argv]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``pvimg`` with ``argv``; returns the exit code."""
    args = _fix_key_hashes(list(sys.argv[1:] if argv is None else argv))
    return run(_main, build_parser(), args)


def _genprotimg(args: argparse.Namespace) -> int:
    if args.version:
        if not args.version_alone:
            raise UsageError("the argument '--version' cannot be used with other arguments")
        return _print_version()
    return _create(args)


def genprotimg_main(argv: Sequence[str] | None = None) -> int:
    """Run ``genprotimg`` with ``argv``; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    parser = build_genprotimg_parser()
    parser.set_defaults(version_alone=args == ["--version"])
    return run(_genprotimg, parser, args)


if __name__ == "__main__":
    sys.exit(main())
