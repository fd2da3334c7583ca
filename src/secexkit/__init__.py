"""secexkit: IBM Secure Execution for Linux tooling (pvsecret, pvimg, host-key verification)."""

from __future__ import annotations

__version__ = "0.1.0"
