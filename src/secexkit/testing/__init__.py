"""Helpers for testing Secure Execution pipelines without IBM Z: a generated test PKI and a
simulated machine (software ultravisor) to run the guest commands on."""

from __future__ import annotations

from .machine import SimulatedMachine, write_placeholder_boot_loaders
from .pki import PkiFiles, TestPki, generate_pki

__all__ = ["PkiFiles", "SimulatedMachine", "TestPki", "generate_pki",
           "write_placeholder_boot_loaders"]
