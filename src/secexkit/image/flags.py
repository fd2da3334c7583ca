"""Plaintext (PCF) and secret (SCF) control flags of the SE header: defaults and options.

The bits are wire facts (:mod:`secexkit.formats.se_header`), their display texts
live in :mod:`secexkit.formats.names`; both are re-exported here.  This module
adds what ``pvimg create`` does with them: defaults and the
``--enable-X``/``--disable-X`` pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..formats.names import PCF_NAMES, SCF_NAMES, describe_flags
from ..formats.se_header import (
    PCF_ALLOW_DUMPING,
    PCF_BACKUP_TARGET_KEYS,
    PCF_NO_COMPONENT_ENCRYPTION,
    PCF_PCKMO_AES,
    PCF_PCKMO_DEA_TDEA,
    PCF_PCKMO_ECC,
    PCF_PCKMO_HMAC,
    SCF_CCK_EXTENSION_SECRET,
    SCF_CCK_UPDATE,
)

__all__ = [
    "FLAG_OPTIONS",
    "PCF_ALLOW_DUMPING",
    "PCF_BACKUP_TARGET_KEYS",
    "PCF_DEFAULT",
    "PCF_NAMES",
    "PCF_NO_COMPONENT_ENCRYPTION",
    "PCF_PCKMO",
    "PCF_PCKMO_AES",
    "PCF_PCKMO_DEA_TDEA",
    "PCF_PCKMO_ECC",
    "PCF_PCKMO_HMAC",
    "SCF_CCK_EXTENSION_SECRET",
    "SCF_CCK_UPDATE",
    "SCF_DEFAULT",
    "SCF_NAMES",
    "ImageFlags",
    "apply_flag_options",
    "describe_flags",
]

PCF_PCKMO: Final = PCF_PCKMO_DEA_TDEA | PCF_PCKMO_AES | PCF_PCKMO_ECC
#: what ``pvimg create`` writes without flags: PCKMO DEA/AES/ECC on, dumping off
PCF_DEFAULT: Final = PCF_PCKMO
SCF_DEFAULT: Final = 0

#: (CLI suffix, PCF/SCF, bits, enable sets the bits?) for every enable/disable pair
FLAG_OPTIONS: Final[tuple[tuple[str, str, int, bool], ...]] = (
    ("dump", "pcf", PCF_ALLOW_DUMPING, True),
    ("pckmo", "pcf", PCF_PCKMO, True),
    ("pckmo-hmac", "pcf", PCF_PCKMO_HMAC, True),
    ("backup-keys", "pcf", PCF_BACKUP_TARGET_KEYS, True),
    # the bit says "no encryption": enabling encryption clears it
    ("image-encryption", "pcf", PCF_NO_COMPONENT_ENCRYPTION, False),
    ("cck-extension-secret", "scf", SCF_CCK_EXTENSION_SECRET, True),
    ("cck-update", "scf", SCF_CCK_UPDATE, True),
)


def apply_flag_options(pcf: int, scf: int, enabled: dict[str, bool]) -> tuple[int, int]:
    """Apply ``{suffix: True for --enable-X, False for --disable-X}`` to base values."""
    values = {"pcf": pcf, "scf": scf}
    for suffix, word, bits, enable_sets in FLAG_OPTIONS:
        if suffix not in enabled:
            continue
        if enabled[suffix] == enable_sets:
            values[word] |= bits
        else:
            values[word] &= ~bits
    return values["pcf"], values["scf"]


@dataclass(frozen=True)
class ImageFlags:
    """The header flags of an SE image as booleans (``pvimg create --enable-X/--disable-X``).

    The defaults are those of ``pvimg create``: PCKMO for DEA/TDEA, AES and ECC keys and
    component encryption on, everything else off.

    ``allow_dump``: the hypervisor may take (encrypted) dumps of the guest, decrypted
    with the CCK (needs a CCK or ``cck_update``); ``pckmo``: PCKMO for DEA/TDEA, AES and
    ECC keys; ``pckmo_hmac``: PCKMO for HMAC keys; ``backup_keys``: the image may also run
    on the backup target keys; ``encrypt_components``: encrypt kernel, ramdisk and command
    line; ``cck_extension_secret``: every add-secret request must carry the extension
    secret derived from the CCK (needs a CCK); ``cck_update``: ``pvsecret create
    update-cck`` may replace the CCK (z17 or later).
    """

    allow_dump: bool = False
    pckmo: bool = True
    pckmo_hmac: bool = False
    backup_keys: bool = False
    encrypt_components: bool = True
    cck_extension_secret: bool = False
    cck_update: bool = False

    def _choices(self) -> dict[str, bool]:
        return {"dump": self.allow_dump, "pckmo": self.pckmo, "pckmo-hmac": self.pckmo_hmac,
                "backup-keys": self.backup_keys, "image-encryption": self.encrypt_components,
                "cck-extension-secret": self.cck_extension_secret,
                "cck-update": self.cck_update}

    def to_pcf_scf(self) -> tuple[int, int]:
        """The plaintext (PCF) and secret (SCF) control flags of the SE header."""
        return apply_flag_options(0, 0, self._choices())

    @classmethod
    def from_pcf_scf(cls, pcf: int, scf: int) -> ImageFlags:
        """Decode header flags (e.g. those ``pvimg info`` shows); other bits are ignored."""
        return cls(allow_dump=bool(pcf & PCF_ALLOW_DUMPING),
                   pckmo=pcf & PCF_PCKMO == PCF_PCKMO,
                   pckmo_hmac=bool(pcf & PCF_PCKMO_HMAC),
                   backup_keys=bool(pcf & PCF_BACKUP_TARGET_KEYS),
                   encrypt_components=not pcf & PCF_NO_COMPONENT_ENCRYPTION,
                   cck_extension_secret=bool(scf & SCF_CCK_EXTENSION_SECRET),
                   cck_update=bool(scf & SCF_CCK_UPDATE))

    def check(self, *, has_cck: bool) -> None:
        """The combinations ``pvimg create`` refuses; ``has_cck``: a CCK is given."""
        from ..errors import UsageError

        if self.allow_dump and not has_cck and not self.cck_update:
            raise UsageError("allow_dump needs a CCK or cck_update (the dump is encrypted for "
                             "the owner of the CCK)")
        if self.cck_extension_secret and not has_cck:
            raise UsageError("cck_extension_secret needs a CCK")
        if self.cck_extension_secret and self.cck_update:
            raise UsageError("cck_extension_secret and cck_update exclude each other")
