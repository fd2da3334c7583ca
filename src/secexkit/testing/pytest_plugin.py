"""pytest fixtures for testing Secure Execution pipelines: a generated test PKI and a
simulated machine (a software ultravisor) that runs the guest commands.

Registered as a pytest11 entry point named like this module (active once secexkit is
installed; disable with ``-p no:secexkit.testing.pytest_plugin``); or enable it
explicitly with ``-p secexkit.testing.pytest_plugin`` or
``pytest_plugins = ["secexkit.testing.pytest_plugin"]`` in a root ``conftest.py``.

Example::

    def test_my_pipeline(secexkit_pki):
        assert pvverify.main(secexkit_pki.pvverify_args()) == 0
        run(["pvsecret", "create", ..., "-k", str(secexkit_pki.hosts[0]),
             "--cert", str(secexkit_pki.signing), "--cert", str(secexkit_pki.intermediate),
             "--root-ca", str(secexkit_pki.root_ca),
             *(f"--crl={crl}" for crl in secexkit_pki.crls), "--offline", ...])

    def test_no_dump(secexkit_machine, tmp_path):
        cuid = secexkit_machine.boot(image)       # built for secexkit_machine.host_key_document
        ...                                       # pvsecret create meta --flags disable-dump
        with secexkit_machine.activate():         # or env=secexkit_machine.env for subprocesses
            assert pvsecret.main(["add", str(request)]) == 0
        assert not secexkit_machine.dump_allowed().allowed
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # imported by the fixtures: a session that uses none pays nothing
    from .machine import SimulatedMachine
    from .pki import PkiFiles

#: Host-key documents in the :func:`secexkit_pki` fixture.
PKI_HOSTS = 2


@pytest.fixture(scope="session")
def secexkit_pki(tmp_path_factory: pytest.TempPathFactory) -> PkiFiles:
    """A test PKI written once per session: root CA, intermediate CA, signing key, CRLs
    and two host-key documents with their private keys (see :class:`PkiFiles`)."""
    from .pki import generate_pki

    return generate_pki(PKI_HOSTS).write(tmp_path_factory.mktemp("secexkit-pki"))


@pytest.fixture
def secexkit_machine(secexkit_pki: PkiFiles, tmp_path: Path) -> Iterator[SimulatedMachine]:
    """A fresh simulated machine per test (:class:`~secexkit.testing.machine.SimulatedMachine`)
    whose host key is the private key of ``secexkit_pki.hosts[0]`` (its
    ``host_key_document``); its state folder is ``tmp_path / "secexkit-machine"``.
    ``SECEXKIT_UV`` is as before the test at its end, whatever the test activated."""
    from ..uv.device import SIMULATOR_VARIABLE
    from .machine import SimulatedMachine

    before = os.environ.get(SIMULATOR_VARIABLE)
    machine = SimulatedMachine.create(tmp_path / "secexkit-machine", [secexkit_pki.host_keys[0]],
                                      host_key_document=secexkit_pki.hosts[0])
    try:
        yield machine
    finally:
        machine.deactivate()
        if before is None:
            os.environ.pop(SIMULATOR_VARIABLE, None)
        else:
            os.environ[SIMULATOR_VARIABLE] = before
