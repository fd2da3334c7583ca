"""Plaintext (PCF) and secret (SCF) control flags of the SE header.

Bits are numbered MSB0 in a 64-bit word: bit ``n`` has the value ``1 << (63 - n)``.
"""

from __future__ import annotations

from typing import Final


def msb0(bit: int) -> int:
    return 1 << (63 - bit)


PCF_ALLOW_DUMPING: Final = msb0(34)
PCF_NO_COMPONENT_ENCRYPTION: Final = msb0(35)
PCF_PCKMO_DEA_TDEA: Final = msb0(56)
PCF_PCKMO_AES: Final = msb0(57)
PCF_PCKMO_ECC: Final = msb0(58)
PCF_PCKMO_HMAC: Final = msb0(59)
PCF_BACKUP_TARGET_KEYS: Final = msb0(62)
PCF_PCKMO: Final = PCF_PCKMO_DEA_TDEA | PCF_PCKMO_AES | PCF_PCKMO_ECC
#: what ``pvimg create`` writes without flags: PCKMO DEA/AES/ECC on, dumping off
PCF_DEFAULT: Final = PCF_PCKMO

SCF_CCK_EXTENSION_SECRET: Final = msb0(1)
SCF_CCK_UPDATE: Final = msb0(2)
SCF_DEFAULT: Final = 0

#: display order and texts as the reference prints them
PCF_NAMES: Final[tuple[tuple[int, str], ...]] = (
    (PCF_ALLOW_DUMPING, "allow dumping"),
    (PCF_NO_COMPONENT_ENCRYPTION, "no component encryption"),
    (PCF_PCKMO_DEA_TDEA, "DEA and TDEA PCKMO support"),
    (PCF_PCKMO_AES, "AES PCKMO support"),
    (PCF_PCKMO_ECC, "ECC PCKMO support"),
    (PCF_PCKMO_HMAC, "HMAC PCKMO support"),
    (PCF_BACKUP_TARGET_KEYS, "backup target keys support"),
)
SCF_NAMES: Final[tuple[tuple[int, str], ...]] = (
    (SCF_CCK_EXTENSION_SECRET, "CCK extension secret enforced"),
    (SCF_CCK_UPDATE, "CCK update allowed"),
)


def describe_flags(value: int, names: tuple[tuple[int, str], ...]) -> list[str]:
    """One text per set known flag, plus one ``unknown flags 0b…`` entry for the rest."""
    texts = [text for bit, text in names if value & bit]
    known = 0
    for bit, _ in names:
        known |= bit
    unknown = value & ~known
    if unknown:
        texts.append(f"unknown flags 0b{unknown:064b}")
    return texts


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
