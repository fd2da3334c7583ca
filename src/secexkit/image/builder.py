"""``pvimg create``: building a complete Secure Execution boot image.

File offset = memory address once the image is loaded at 0:

====================  ============================================================
0x0                   short PSW -> 0x11000 (stage3a entry)
0xC000                image metadata (SeImgLnx, header and IPIB offsets)
0x10000               stage3a (argument block patched: header and IPIB offsets)
max(next, 0x14000)    SE header (room for ``0x230 + 80 * host keys`` bytes)
next page             kernel, [ramdisk], [command line], stage3b: encrypted
next page             IPIB (not padded: the file ends there)
====================  ============================================================
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final

from ..errors import InputError, UsageError
from ..fileio import OutputTransaction, open_regular
from ..formats.image import (
    DEFAULT_PSW_MASK,
    STAGE3A_ARGS,
    STAGE3B_ARGS,
    Ipib,
    IpibComponent,
    patch_tail,
    short_psw,
)
from ..formats.se_header import IMAGE_METADATA, IMAGE_METADATA_MAGIC, IMAGE_METADATA_OFFSET
from ..formats.sizes import PAGE_SIZE
from ..hostkeys import HostKey
from ..secret import SecretBytes
from .bootloader import BootLoaders, find_boot_loaders
from .components import (
    CmdlineSource,
    ComponentEncryptor,
    ComponentKind,
    PageSource,
    SecuredComponent,
)
from .flags import PCF_DEFAULT, PCF_NO_COMPONENT_ENCRYPTION, SCF_DEFAULT, ImageFlags
from .header import (
    CCK_SIZE,
    IMAGE_KEY_SIZE,
    HeaderKeys,
    HeaderSecrets,
    build_se_header,
    check_header_host_key_count,
    expected_header_size,
)

log = logging.getLogger(__name__)

STAGE3A_ADDRESS: Final = 0x10000
STAGE3A_ENTRY: Final = STAGE3A_ADDRESS + 0x1000
KERNEL_ENTRY: Final = 0x10000
#: pvextract-hdr starts searching here; the header never goes lower
LEGACY_HEADER_ADDRESS: Final = 0x14000
IMAGE_METADATA_VERSION: Final = 1

# kernel checks (raw s390x Linux image)
ELF_MAGIC: Final = b"\x7fELF"
S390EP_OFFSET: Final = 0x10008
S390EP: Final = b"S390EP"
COMMAND_LINE_SIZE_OFFSET: Final = 0x10430
LEGACY_COMMAND_LINE_SIZE: Final = 896

# Largest component files (ADR 0051).  Components are regular files only: a FIFO
# or a device such as /dev/zero could stream forever.  A file that grows while it
# is read is refused too.
#: s390x kernels are tens of MiB; a kernel image has to fit the guest's low memory
MAX_KERNEL_SIZE: Final = 1 << 30
#: an initial ramdisk; generous, but an image must stay a file one can copy around
MAX_RAMDISK_SIZE: Final = 8 << 30
#: the s390x kernel's largest command line (CONFIG_COMMAND_LINE_SIZE: 896..1 MiB)
MAX_PARMFILE_SIZE: Final = 1 << 20
#: what limits each component, by kind
MAX_COMPONENT_SIZE: Final = {
    ComponentKind.KERNEL: MAX_KERNEL_SIZE,
    ComponentKind.RAMDISK: MAX_RAMDISK_SIZE,
    ComponentKind.CMDLINE: MAX_PARMFILE_SIZE,
}


def round_up(value: int, alignment: int = PAGE_SIZE) -> int:
    """``value`` rounded up to a multiple of ``alignment``."""
    return -(-value // alignment) * alignment


@dataclass(frozen=True)
class ImagePlan:
    """Where the fixed parts go, decided before any component is read."""

    stage3a_size: int
    header_address: int
    header_size: int
    first_component_address: int


def plan_layout(stage3a_size: int, host_key_count: int) -> ImagePlan:
    """Where each part of the image goes, for the loader size and number of host keys."""
    header_size = expected_header_size(host_key_count)
    next_address = round_up(STAGE3A_ADDRESS + stage3a_size)
    header_address = max(next_address, LEGACY_HEADER_ADDRESS)
    return ImagePlan(stage3a_size, header_address, header_size,
                     round_up(header_address + header_size))


@dataclass(frozen=True)
class ImageInputs:
    """The components of an SE image: the raw s390x kernel, an optional initial ramdisk and
    an optional kernel command line (file names; strings are turned into paths)."""

    kernel: Path
    ramdisk: Path | None = None
    parmfile: Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kernel", Path(self.kernel))
        for name in ("ramdisk", "parmfile"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value))


@dataclass(frozen=True)
class ImageOptions:
    """How to build an SE image (all keys default to random ones).

    ``host_keys``: verified host keys (one key slot each, 1..95); ``flags``: the header
    flags as booleans (:class:`~secexkit.image.flags.ImageFlags`, default: those of
    ``pvimg create``); ``pcf``/``scf``: raw header flag words instead of ``flags``
    (experts, like ``--x-pcf``; not both); ``cck``: the customer communication key (32
    bytes); ``header_key``: the SE header protection key (32 bytes); ``image_key``: the
    AES-XTS key of the components (64 bytes); ``psw_address``: entry point override;
    ``component_check``: check the kernel and command line first; ``overwrite``: replace
    an existing output.
    """

    host_keys: Sequence[HostKey]
    pcf: int | None = None
    scf: int | None = None
    cck: SecretBytes | None = None
    header_key: SecretBytes | None = None
    image_key: SecretBytes | None = None
    psw_address: int | None = None
    component_check: bool = True
    overwrite: bool = False
    #: fsync the image before renaming it into place
    sync: bool = True
    #: fixed randomness for tests: header IV/customer key/protection key, tweak bases
    header_keys: HeaderKeys | None = field(default=None, repr=False)
    tweaks: dict[ComponentKind, bytes] | None = field(default=None, repr=False)
    flags: ImageFlags | None = None

    def __post_init__(self) -> None:
        if self.flags is not None:
            if self.pcf is not None or self.scf is not None:
                raise UsageError("ImageOptions: give flags or raw pcf/scf, not both")
            self.flags.check(has_cck=self.cck is not None)

    @property
    def header_flags(self) -> tuple[int, int]:
        """The (PCF, SCF) words written into the header."""
        if self.flags is not None:
            return self.flags.to_pcf_scf()
        return (PCF_DEFAULT if self.pcf is None else self.pcf,
                SCF_DEFAULT if self.scf is None else self.scf)

    @property
    def encrypt(self) -> bool:
        """Are the components encrypted?"""
        return not self.header_flags[0] & PCF_NO_COMPONENT_ENCRYPTION


@dataclass(frozen=True)
class ImageResult:
    """What :func:`create_image` wrote: where, the layout, the secured components, the SE
    header, the IPIB address and the image size."""

    path: Path
    plan: ImagePlan
    components: tuple[SecuredComponent, ...]
    header: bytes
    ipib_address: int
    size: int


def _read_at(stream: BinaryIO, offset: int, size: int) -> bytes:
    stream.seek(offset)
    return stream.read(size)


def _open(path: Path, what: str, limit: int | None = None) -> tuple[io.BufferedReader, int]:
    """A component file: regular files only (never blocks on a FIFO), at most ``limit``."""
    return open_regular(path, what, limit)


def check_kernel(path: Path) -> int:
    """Raw s390x kernel checks; returns the kernel's maximum command-line size."""
    stream, _ = _open(path, "Linux kernel")
    with stream:
        try:
            head = _read_at(stream, 0, 4)
            limit = _read_at(stream, COMMAND_LINE_SIZE_OFFSET, 8)
            marker = _read_at(stream, S390EP_OFFSET, len(S390EP))
        except OSError as exc:  # e.g. a pipe: the check needs random access
            raise InputError(f"Check for Linux kernel component has failed: cannot read `{path}`: "
                             f"{exc.strerror or exc} (use a regular file or "
                             "--no-component-check)") from None
    if head == ELF_MAGIC:
        raise InputError(f"Check for Linux kernel component has failed: `{path}` is an ELF "
                         "file, but only raw binary kernels are supported")
    if marker != S390EP or len(limit) != 8:
        raise InputError(f"Check for Linux kernel component has failed: `{path}` is no s390x "
                         f"Linux kernel (no S390EP marker at {S390EP_OFFSET:#x})")
    return int.from_bytes(limit, "big") or LEGACY_COMMAND_LINE_SIZE


def check_cmdline(path: Path, max_size: int) -> int:
    """The command line incl. its terminating NUL must fit the kernel's limit."""
    stream, length = _open(path, "kernel command line")
    with stream:
        last = _read_at(stream, length - 1, 1) if length else b""
    size = length + (0 if last == b"\x00" else 1)
    if size > max_size:
        raise InputError(f"Check for kernel cmdline component has failed: `{path}` is too "
                         f"large: {size} > {max_size} bytes (including the final NUL)")
    return size


def check_components(inputs: ImageInputs) -> None:
    """Refuse component files that are missing, not regular, or too large (before any work)."""
    max_cmdline = check_kernel(inputs.kernel)
    if inputs.parmfile is not None:
        check_cmdline(inputs.parmfile, max_cmdline)


def _stage3b(loader: bytes, components: Sequence[SecuredComponent]) -> bytes:
    values: dict[str, int | bytes] = {name: 0 for name in STAGE3B_ARGS.by_name}
    names = {ComponentKind.KERNEL: "kernel", ComponentKind.CMDLINE: "cmdline",
             ComponentKind.RAMDISK: "initrd"}
    for component in components:
        values[f"{names[component.kind]}_address"] = component.address
        values[f"{names[component.kind]}_size"] = component.original_size
    values["psw_mask"] = DEFAULT_PSW_MASK
    values["psw_address"] = KERNEL_ENTRY
    return patch_tail(loader, STAGE3B_ARGS, values, "stage3b_reloc.bin")


def _stage3a(loader: bytes, header_address: int, header_size: int, ipib_address: int) -> bytes:
    arguments_address = STAGE3A_ADDRESS + len(loader) - STAGE3A_ARGS.size
    return patch_tail(loader, STAGE3A_ARGS, {
        "header_offset": header_address - arguments_address,
        "header_size": header_size,
        "ipib_offset": ipib_address - arguments_address,
    }, "stage3a.bin")


def _write_at(stream: BinaryIO, offset: int, data: bytes) -> None:
    stream.seek(offset)
    view = memoryview(data)
    while view:
        written = stream.write(view)
        view = view[written or 0:]


def create_image(output: str | os.PathLike[str], inputs: ImageInputs, options: ImageOptions,
                 loaders: BootLoaders | None = None, *,
                 progress: Callable[[int], None] | None = None) -> ImageResult:
    """Build the image; nothing is left at ``output`` (nor a temporary file) on failure.

    ``loaders``: the s390x boot loaders (default: :func:`find_boot_loaders`, after the
    component check).  ``progress`` is called with the number of component bytes
    written, as they are.  Component files must be regular files of at most
    :data:`MAX_COMPONENT_SIZE` bytes; ``output`` is written through
    :class:`secexkit.fileio.OutputTransaction`.  Example::

        from secexkit import ImageFlags, ImageInputs, ImageOptions, create_image
        create_image("se.img", ImageInputs("vmlinuz", "initrd.img", "parmfile"),
                     ImageOptions(host_keys=keys, flags=ImageFlags(allow_dump=True), cck=cck))
    """
    check_header_host_key_count(len(options.host_keys))
    if options.cck is not None and len(options.cck) != CCK_SIZE:
        raise InputError(f"The CCK must be {CCK_SIZE} bytes, not {len(options.cck)}")
    if options.image_key is not None and len(options.image_key) != IMAGE_KEY_SIZE:
        raise InputError(f"The image key must be {IMAGE_KEY_SIZE} bytes, not {len(options.image_key)}")
    if options.component_check:
        check_components(inputs)
    else:
        log.warning("The component check is turned off!")
    if loaders is None:
        loaders = find_boot_loaders()
    pcf, scf = options.header_flags
    image_key = options.image_key or SecretBytes(os.urandom(IMAGE_KEY_SIZE))
    header_keys = options.header_keys or HeaderKeys.generate(options.header_key)
    tweaks = options.tweaks or {}
    plan = plan_layout(len(loaders.stage3a), len(options.host_keys))

    sources: list[tuple[ComponentKind, Path]] = [(ComponentKind.KERNEL, inputs.kernel)]
    if inputs.ramdisk is not None:
        sources.append((ComponentKind.RAMDISK, inputs.ramdisk))
    if inputs.parmfile is not None:
        sources.append((ComponentKind.CMDLINE, inputs.parmfile))
    streams: list[tuple[ComponentKind, io.BufferedReader, int]] = []
    try:
        for kind, path in sources:
            stream, size = _open(path, kind.label, MAX_COMPONENT_SIZE[kind])
            streams.append((kind, stream, size))
    except InputError:  # close what was opened before the failing input
        for _, stream, _ in streams:
            stream.close()
        raise
    source: PageSource
    name = os.fspath(output)

    try:
        with OutputTransaction(sync=options.sync) as outputs:
            out = outputs.open(output, mode=0o600, overwrite=options.overwrite,
                               hint=" (use --overwrite to replace it)")
            out.seek(plan.first_component_address)
            encryptor = ComponentEncryptor(out, plan.first_component_address, image_key,
                                           encrypt=options.encrypt, progress=progress,
                                           write_behind=options.sync, name=name)
            try:
                for kind, stream, size in streams:
                    # read what the file held when opened; one that grows is refused
                    source = CmdlineSource(stream) if kind == ComponentKind.CMDLINE else stream
                    limit = size + 1 if kind == ComponentKind.CMDLINE else size
                    encryptor.add(kind, source, tweaks.get(kind), max_size=limit)
                stage3b = _stage3b(loaders.stage3b, encryptor.components)
                stage3b_component = encryptor.add(ComponentKind.STAGE3B, io.BytesIO(stage3b),
                                                  tweaks.get(ComponentKind.STAGE3B))
                digests = encryptor.finish()
            finally:
                encryptor.close()
            secured = tuple(encryptor.components)
            header = build_se_header(
                host_keys=options.host_keys,
                keys=header_keys,
                secrets=HeaderSecrets(
                    cck=options.cck or SecretBytes(os.urandom(CCK_SIZE)),
                    image_key=image_key,
                    psw_mask=DEFAULT_PSW_MASK,
                    psw_address=(stage3b_component.address if options.psw_address is None
                                 else options.psw_address),
                    scf=scf,
                ),
                digests=digests,
                pcf=pcf,
            )
            assert len(header) == plan.header_size
            ipib_address = stage3b_component.end
            ipib = Ipib(plan.header_address, len(header), tuple(
                IpibComponent(c.tweak_prefix, c.address, c.size) for c in secured))
            ipib_bytes = ipib.to_bytes()
            fixed_parts = [
                (ipib_address, ipib_bytes),
                (plan.header_address, header),
                (STAGE3A_ADDRESS, _stage3a(loaders.stage3a, plan.header_address, len(header),
                                           ipib_address)),
                (0, short_psw(DEFAULT_PSW_MASK, STAGE3A_ENTRY)),
                (IMAGE_METADATA_OFFSET, IMAGE_METADATA.pack({
                    "magic": IMAGE_METADATA_MAGIC,
                    "header_offset": plan.header_address,
                    "version": IMAGE_METADATA_VERSION,
                    "ipib_offset": ipib_address,
                })),
            ]
            try:
                for offset, data in fixed_parts:
                    _write_at(out, offset, data)
            except OSError as exc:  # e.g. the disk filled up (the file is sparse until now)
                raise InputError(f"Cannot write `{name}`: {exc.strerror or exc}") from None
    finally:
        for _, stream, _ in streams:
            stream.close()
    size = ipib_address + len(ipib_bytes)
    log.info("Secure Execution image layout: header %#x, IPIB %#x, %d bytes",
             plan.header_address, ipib_address, size)
    return ImageResult(Path(name), plan, secured, header, ipib_address, size)
