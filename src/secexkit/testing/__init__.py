"""Helpers for testing Secure Execution pipelines without IBM Z: a generated test PKI and a
simulated machine (software ultravisor) to run the guest commands on.

The names are imported on first use, so that the pytest plugin of this package costs
nothing in test sessions that use none of its fixtures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .machine import SimulatedMachine, write_placeholder_boot_loaders
    from .pki import PkiFiles, TestPki, generate_pki

__all__ = ["PkiFiles", "SimulatedMachine", "TestPki", "generate_pki",
           "write_placeholder_boot_loaders"]

_HOMES = {"SimulatedMachine": "machine", "write_placeholder_boot_loaders": "machine",
          "PkiFiles": "pki", "TestPki": "pki", "generate_pki": "pki"}


def __getattr__(name: str) -> Any:
    """Import the public names lazily (see the module docstring)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
