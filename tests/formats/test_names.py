"""Display names live in one module (formats/names.py) and cover every wire value."""

from __future__ import annotations

from pathlib import Path

import pytest

import secexkit
from secexkit.addsecret.retrievable import RetrievableKind
from secexkit.formats import names, se_header
from secexkit.formats.request import SecretType, UserDataType
from secexkit.formats.retrievable import RETRIEVABLE_TYPES
from secexkit.formats.tweak import ComponentKind

SRC = Path(secexkit.__file__).resolve().parent


def test_every_value_has_a_name() -> None:
    assert set(names.USER_DATA_TYPE_NAMES) == set(UserDataType)
    assert set(names.COMPONENT_LABELS) == set(ComponentKind)
    assert set(names.RETRIEVABLE_KIND_NAMES) == {kind.value for kind in RetrievableKind}
    assert set(names.SECRET_TYPE_NAMES) == set(RETRIEVABLE_TYPES) | {SecretType.ASSOCIATION}
    for secret_type in SecretType:
        assert names.secret_type_name(secret_type)
    assert names.secret_type_name(0x0016) == "Invalid(0x0016)"
    assert names.secret_type_name(0x0042) == "Unknown(0x0042)"


def test_enum_properties_read_the_names_module() -> None:
    assert UserDataType.SIGNED_RSA_3072.display == "RSA 3072 signed"
    assert ComponentKind.KERNEL.label == "Linux kernel"
    assert RetrievableKind.AES_XTS.display == "AES-XTS KEY"


def test_every_flag_bit_has_a_text() -> None:
    pcf = {value for name, value in vars(se_header).items() if name.startswith("PCF_")}
    scf = {value for name, value in vars(se_header).items() if name.startswith("SCF_")}
    assert pcf == {bit for bit, _ in names.PCF_NAMES}
    assert scf == {bit for bit, _ in names.SCF_NAMES}


@pytest.mark.parametrize("text", ["AES-XTS-128-KEY", "EC-ED448-PRIVATE-KEY", "ECDSA signed",
                                  "RSA 2048 signed", "allow dumping", "CCK update allowed",
                                  "HMAC-SHA KEY", "kernel cmdline"])
def test_display_texts_are_written_once(text: str) -> None:
    where = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if f'"{text}"' in p.read_text()]
    assert where == ["formats/names.py"]
