"""Display names of wire values: secret types, user-data types, header control flags.

The texts are the reference's (list output, PEM ``kind:`` headers, NAME.yaml,
``pvsecret verify`` messages, ``pvimg info``); every renderer takes them from here.
"""

from __future__ import annotations

from typing import Final

from .request import SecretType, UserDataType
from .se_header import (
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
from .tweak import ComponentKind

__all__ = [
    "COMPONENT_LABELS",
    "PCF_NAMES",
    "RETRIEVABLE_KIND_NAMES",
    "SCF_NAMES",
    "SECRET_TYPE_NAMES",
    "USER_DATA_TYPE_NAMES",
    "describe_flags",
    "secret_type_name",
    "user_data_type_name",
]

#: Display names of the listable secret types, as in the reference (list, PEM, YAML).
SECRET_TYPE_NAMES: Final[dict[int, str]] = {
    SecretType.ASSOCIATION: "Association",
    SecretType.PLAINTEXT: "PLAINTEXT",
    SecretType.AES_128: "AES-128-KEY",
    SecretType.AES_192: "AES-192-KEY",
    SecretType.AES_256: "AES-256-KEY",
    SecretType.AES_XTS_128: "AES-XTS-128-KEY",
    SecretType.AES_XTS_256: "AES-XTS-256-KEY",
    SecretType.HMAC_SHA_256: "HMAC-SHA-256-KEY",
    SecretType.HMAC_SHA_512: "HMAC-SHA-512-KEY",
    SecretType.EC_SECP256R1: "EC-SECP256R1-PRIVATE-KEY",
    SecretType.EC_SECP384R1: "EC-SECP384R1-PRIVATE-KEY",
    SecretType.EC_SECP521R1: "EC-SECP521R1-PRIVATE-KEY",
    SecretType.EC_ED25519: "EC-ED25519-PRIVATE-KEY",
    SecretType.EC_ED448: "EC-ED448-PRIVATE-KEY",
}


def secret_type_name(secret_type: int) -> str:
    """Name of a secret type as the reference displays it."""
    if secret_type in SECRET_TYPE_NAMES:
        return SECRET_TYPE_NAMES[secret_type]
    if secret_type in (0x0000, SecretType.META, SecretType.UPDATE_CCK):
        return f"Invalid({secret_type:#06x})"
    return f"Unknown({secret_type:#06x})"


#: how ``pvsecret verify`` names the user-data types in its messages
USER_DATA_TYPE_NAMES: Final[dict[UserDataType, str]] = {
    UserDataType.NULL: "None",
    UserDataType.UNSIGNED: "unsigned",
    UserDataType.SIGNED_EC_SECP521R1: "ECDSA signed",
    UserDataType.SIGNED_RSA_2048: "RSA 2048 signed",
    UserDataType.SIGNED_RSA_3072: "RSA 3072 signed",
}


def user_data_type_name(kind: UserDataType) -> str:
    """Name of a user-data type as the reference displays it."""
    return USER_DATA_TYPE_NAMES[kind]


#: display order and texts of the plaintext control flags (``pvimg info``)
PCF_NAMES: Final[tuple[tuple[int, str], ...]] = (
    (PCF_ALLOW_DUMPING, "allow dumping"),
    (PCF_NO_COMPONENT_ENCRYPTION, "no component encryption"),
    (PCF_PCKMO_DEA_TDEA, "DEA and TDEA PCKMO support"),
    (PCF_PCKMO_AES, "AES PCKMO support"),
    (PCF_PCKMO_ECC, "ECC PCKMO support"),
    (PCF_PCKMO_HMAC, "HMAC PCKMO support"),
    (PCF_BACKUP_TARGET_KEYS, "backup target keys support"),
)
#: display order and texts of the secret control flags (``pvimg info --show-secrets``)
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


#: how messages name the secured components of an image
COMPONENT_LABELS: Final[dict[ComponentKind, str]] = {
    ComponentKind.SHORT_PSW: "short PSW",
    ComponentKind.IMAGE_METADATA: "Image metadata",
    ComponentKind.STAGE3A: "stage3a",
    ComponentKind.KERNEL: "Linux kernel",
    ComponentKind.RAMDISK: "ramdisk",
    ComponentKind.CMDLINE: "kernel cmdline",
    ComponentKind.STAGE3B: "stage3b",
    ComponentKind.SE_HEADER: "Secure Execution header",
    ComponentKind.IPIB: "IPIB",
}

#: how the reference names each ``pvsecret create retrievable --type`` value when it
#: reads the input file (keys: the ``--type`` values)
RETRIEVABLE_KIND_NAMES: Final[dict[str, str]] = {
    "plain": "PLAINTEXT",
    "aes": "AES KEY",
    "aes-xts": "AES-XTS KEY",
    "hmac-sha": "HMAC-SHA KEY",
    "ec": "EC PRIVATE KEY",
}
