"""A software ultravisor: the IBM Z Ultravisor's guest calls, modelled in Python (spec ultravisor.md §8).

:class:`Machine` holds the host private keys and the profile (query values and
the modelling choices); :meth:`Machine.boot` opens an SE header with a host key
and returns a :class:`Guest`, whose methods are the ultravisor calls a Secure
Execution guest makes (add, list, lock and retrieve secrets, attestation) and
the host-side dump calls.  Every refusal is an
:class:`~secexkit.errors.UltravisorError` with the return code the ultravisor
uses.  :mod:`.state` keeps a machine in a folder between commands and
:mod:`.kernel` puts the ``/dev/uv`` ioctl semantics on top, so the guest
commands run unchanged when ``SECEXKIT_UV`` names such a folder.
"""

from __future__ import annotations

from .machine import (
    Call,
    DumpStatus,
    Guest,
    ListPage,
    Machine,
    Profile,
    StoredSecret,
)

__all__ = ["Call", "DumpStatus", "Guest", "ListPage", "Machine", "Profile", "StoredSecret"]
