"""Secured components of an SE image: their kinds and the XTS tweak of their pages.

Kept apart from :mod:`secexkit.formats.image` (which uses dataclasses): the
display names in :mod:`secexkit.formats.names` need the kinds, and ``pvsecret``
imports those names on its start-up path (ADR 0006).
"""

from __future__ import annotations

import enum
from typing import Final

from ._layout import Layout, raw, u

__all__ = ["COMPONENT_TWEAK", "TWEAK_PREFIX_SIZE", "ComponentKind"]


class ComponentKind(enum.IntEnum):
    """Image components; the value is the tweak prefix (first two tweak bytes)."""

    SHORT_PSW = 10
    IMAGE_METADATA = 20
    STAGE3A = 30
    KERNEL = 40
    RAMDISK = 50
    CMDLINE = 60
    STAGE3B = 70
    SE_HEADER = 80
    IPIB = 90

    @property
    def label(self) -> str:
        """How messages name the component (:data:`secexkit.formats.names.COMPONENT_LABELS`)."""
        from .names import COMPONENT_LABELS

        return COMPONENT_LABELS[self]


#: The 16-byte XTS tweak of a secured component's first page; page ``i`` adds
#: ``i * 4096`` to the whole tweak (128-bit big-endian).  The IPIB lists the
#: first 8 bytes (kind and random part) as the component's tweak prefix.
COMPONENT_TWEAK = Layout(
    "component tweak",
    16,
    [
        u("kind", 0x00, 2),
        raw("random", 0x02, 6),
        u("page_offset", 0x08, 8),
    ],
)
TWEAK_PREFIX_SIZE: Final = COMPONENT_TWEAK.offset("page_offset")
