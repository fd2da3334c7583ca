"""pytest fixtures for testing Secure Execution pipelines with a generated test PKI.

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
"""

from __future__ import annotations

import pytest

from .pki import PkiFiles, generate_pki

#: Host-key documents in the :func:`secexkit_pki` fixture.
PKI_HOSTS = 2


@pytest.fixture(scope="session")
def secexkit_pki(tmp_path_factory: pytest.TempPathFactory) -> PkiFiles:
    """A test PKI written once per session: root CA, intermediate CA, signing key, CRLs
    and two host-key documents with their private keys (see :class:`PkiFiles`)."""
    return generate_pki(PKI_HOSTS).write(tmp_path_factory.mktemp("secexkit-pki"))
