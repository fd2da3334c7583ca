"""Helpers for testing Secure Execution pipelines without IBM Z: a generated test PKI."""

from __future__ import annotations

from .pki import PkiFiles, TestPki, generate_pki

__all__ = ["PkiFiles", "TestPki", "generate_pki"]
