"""Plaintext (PCF) and secret (SCF) control flags of the SE header: defaults and options.

The bits are wire facts (:mod:`secexkit.formats.se_header`), their display texts
live in :mod:`secexkit.formats.names`; both are re-exported here.  This module
adds what ``pvimg create`` does with them: defaults and the
``--enable-X``/``--disable-X`` pairs.
"""

from __future__ import annotations

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
