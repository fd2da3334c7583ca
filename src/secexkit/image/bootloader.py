"""Finding and checking the s390x boot loaders ``stage3a.bin`` and ``stage3b_reloc.bin``.

They are machine code built by s390-tools; we only patch their argument
blocks.  Search order: an explicit directory (``pvimg create --bootloader-dir``,
alias ``--x-bootloader-directory``) alone if given; otherwise
``$SECEXKIT_BOOTLOADER_DIR`` if set, then the data directories where
distributions install s390-tools.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ..errors import InputError, NotAvailableError
from ..fileio import read_input
from ..formats.image import STAGE3A_ARGS, STAGE3B_ARGS

log = logging.getLogger(__name__)

STAGE3A_NAME: Final = "stage3a.bin"
STAGE3B_NAME: Final = "stage3b_reloc.bin"
ENVIRONMENT_VARIABLE: Final = "SECEXKIT_BOOTLOADER_DIR"
DEFAULT_DIRECTORIES: Final = (
    "/usr/share/s390-tools/pvimg",
    "/usr/local/share/s390-tools/pvimg",
    "/usr/lib/s390-tools",
    "/usr/lib/s390-tools/pvimg",
    "/usr/local/lib/s390-tools",
)
#: stage3a is loaded at 0x10000 and entered at 0x11000: it must reach past that
STAGE3A_MIN_SIZE: Final = 0x1000 + STAGE3A_ARGS.size
#: keep the loaders plausible: they are tens of KiB, never megabytes
MAX_LOADER_SIZE: Final = 0x100000


@dataclass(frozen=True)
class BootLoaders:
    """The two s390x boot loaders of an SE image and the folder they came from."""
    stage3a: bytes
    stage3b: bytes
    directory: Path

    def __post_init__(self) -> None:
        if not STAGE3A_MIN_SIZE <= len(self.stage3a) <= MAX_LOADER_SIZE:
            raise InputError(
                f"{self.directory / STAGE3A_NAME} is not a stage3a boot loader: "
                f"{len(self.stage3a)} bytes (expected {STAGE3A_MIN_SIZE}..{MAX_LOADER_SIZE})"
            )
        if not STAGE3B_ARGS.size < len(self.stage3b) <= MAX_LOADER_SIZE:
            raise InputError(
                f"{self.directory / STAGE3B_NAME} is not a stage3b boot loader: "
                f"{len(self.stage3b)} bytes (expected {STAGE3B_ARGS.size + 1}..{MAX_LOADER_SIZE})"
            )


def candidate_directories(explicit: str | os.PathLike[str] | None = None) -> list[Path]:
    """The folders searched for the boot loaders, in order: explicit, environment, distribution."""
    if explicit is not None:
        return [Path(explicit)]
    found = []
    env = os.environ.get(ENVIRONMENT_VARIABLE)
    if env:
        found.append(Path(env))
    found.extend(Path(d) for d in DEFAULT_DIRECTORIES)
    return found


def _read(path: Path) -> bytes:
    """A boot loader file: a regular file (or pipe) of at most :data:`MAX_LOADER_SIZE` bytes."""
    return read_input(str(path), "boot loader", MAX_LOADER_SIZE)


#: where the loaders come from (said when they are missing)
WHERE_TO_GET: Final = (
    "they are s390x binaries built by s390-tools: copy them from an s390-tools installation of "
    "the same release (pvimg's data folder, e.g. /usr/share/s390-tools/pvimg on an s390x "
    "system), or install the s390-tools data package of a distribution that ships it for x86"
)


def find_boot_loaders(explicit: str | os.PathLike[str] | None = None, *,
                      option: str = "the bootloader folder") -> BootLoaders:
    """Load both loaders from the first directory that has both of them.

    ``explicit``: the only folder searched (else ``$SECEXKIT_BOOTLOADER_DIR``, then
    :data:`DEFAULT_DIRECTORIES`); ``option``: how the caller names that setting in a
    message (the CLI passes ``--bootloader-dir DIR``).  Raises
    :class:`~secexkit.errors.NotAvailableError` naming the folders searched, the
    setting, :data:`ENVIRONMENT_VARIABLE` and where the loaders come from.
    """
    directories = candidate_directories(explicit)
    for directory in directories:
        stage3a = directory / STAGE3A_NAME
        stage3b = directory / STAGE3B_NAME
        if stage3a.is_file() and stage3b.is_file():
            log.debug("Using the boot loaders in %s", directory)
            return BootLoaders(_read(stage3a), _read(stage3b), directory)
        if explicit is not None:
            missing = [p.name for p in (stage3a, stage3b) if not p.is_file()]
            raise NotAvailableError(
                f"Boot loader {' and '.join(missing)} not found in `{directory}` (given with "
                f"{option}): {WHERE_TO_GET}",
                "pvimg create needs stage3a.bin and stage3b_reloc.bin from s390-tools",
            )
    looked = ", ".join(str(d) for d in directories)
    raise NotAvailableError(
        f"The boot loaders {STAGE3A_NAME} and {STAGE3B_NAME} were not found (looked in: "
        f"{looked}); name the folder that holds both with {option} or "
        f"${ENVIRONMENT_VARIABLE}; {WHERE_TO_GET}",
        "Searched: the folder given, else $SECEXKIT_BOOTLOADER_DIR, then the s390-tools data "
        "folders of the distributions.",
    )
