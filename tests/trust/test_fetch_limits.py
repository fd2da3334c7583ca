"""The fetcher base class enforces the limits for every fetcher, the run has one download
budget, and only the certificates of the chain being built are downloaded for
(ADR 0041, ADR 0043).  Network: 127.0.0.1 only."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterable, Iterator

import pytest

from secexkit.errors import FetchError, InputError, SecexError
from secexkit.trust import (
    CrlFetcher,
    FetchLimits,
    Transfer,
    TrustError,
    check_host_key_documents,
)
from secexkit.trust._chain import AnchorList
from secexkit.trust._x509 import SourcedCert
from secexkit.trust.verifier import CrlDownloads, TrustInputs, establish_trust
from tests.support import pki
from tests.support.pki import NOW, CertSpec, Entity, PkiSet
from tests.support.threads import BOUND, bounded


def test_fetch_error_is_in_the_hierarchy() -> None:
    assert issubclass(FetchError, InputError) and issubclass(FetchError, SecexError)
    from secexkit.trust import FetchError as exported

    assert exported is FetchError


def test_limits_are_validated() -> None:
    for bad in ({"timeout": 0}, {"budget": -1}, {"timeout": float("nan")}, {"max_bytes": 0}):
        with pytest.raises(ValueError):
            FetchLimits(**bad)


def test_a_subclass_cannot_replace_fetch() -> None:
    with pytest.raises(TypeError, match="transfer"):
        class Sneaky(CrlFetcher):
            def fetch(self, uri: str, **_: object) -> bytes:  # type: ignore[misc]
                return b""


def test_endless_transfer_is_capped() -> None:
    class Endless(CrlFetcher):
        def transfer(self, uri: str, transfer: Transfer) -> Iterator[bytes]:
            while True:  # ignores max_bytes
                yield b"\x00" * 65536

    error = bounded(lambda: _fetch_error(Endless(FetchLimits(max_bytes=1_000_000)), "x"))
    assert "exceeds the limit of 1000000 bytes" in str(error)


def test_stalled_transfer_is_abandoned_at_its_deadline() -> None:
    release = threading.Event()

    class Stalled(CrlFetcher):
        def transfer(self, uri: str, transfer: Transfer) -> Iterable[bytes]:
            release.wait(BOUND * 2)  # ignores the deadline
            return [b""]

    try:
        error = bounded(lambda: _fetch_error(Stalled(FetchLimits(timeout=0.2)), "x"))
        assert "timed out after 0.2 s" in str(error)
    finally:
        release.set()


def test_a_fetchers_own_exception_becomes_one_line() -> None:
    class Broken(CrlFetcher):
        def transfer(self, uri: str, transfer: Transfer) -> Iterable[bytes]:
            raise RuntimeError("line one\nline two\x1b[2J")

    error = _fetch_error(Broken(), "x")
    assert "\n" not in str(error) and "\x1b" not in str(error) and "RuntimeError" in str(error)


def _fetch_error(fetcher: CrlFetcher, uri: str) -> FetchError:
    with pytest.raises(FetchError) as info:
        fetcher.fetch(uri)
    return info.value


class Recording(CrlFetcher):
    """Every URI asked for; answers nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def transfer(self, uri: str, transfer: Transfer) -> Iterable[bytes]:
        self.asked.append(uri)
        raise FetchError("nothing here")


def _with_dps(issuer: Entity, entity: Entity, uris: list[str]) -> Entity:
    spec = CertSpec(ca=pki.extension_is_ca(entity.cert), dist_points=uris)
    return Entity(pki.make_cert(entity.cert.subject, entity.key.public_key(), issuer, spec),
                  entity.key)


def test_only_the_chain_is_downloaded_for(pki_set: PkiSet) -> None:
    """A -C certificate that is not part of the chain costs no download."""
    stranger_root = pki.root_ca("Stranger Root")
    stranger = _with_dps(stranger_root, pki.issue(stranger_root, pki.ibm_name("Stranger CA"),
                                                  CertSpec(ca=True)),
                         ["http://127.0.0.1:9/stranger.crl"])
    fetcher = Recording()
    inputs = TrustInputs([SourcedCert(pki_set.signing.cert, "signing.crt"),
                          SourcedCert(stranger.cert, "stranger.crt"),
                          SourcedCert(pki_set.inter.cert, "inter.crt")], [],
                         AnchorList([SourcedCert(pki_set.root.cert, "root.crt")]))
    with pytest.raises(TrustError):
        establish_trust(inputs, fetcher=fetcher, now=NOW)
    assert "http://127.0.0.1:9/stranger.crl" not in fetcher.asked
    assert fetcher.asked == ["http://127.0.0.1:9/inter.crl", "http://127.0.0.1:9/root.crl"]


class StalledServer:
    """Accepts connections on 127.0.0.1 and never answers; counts the connections."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stop = threading.Event()
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            self.held.append(conn)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(BOUND)
        for conn in self.held:
            conn.close()
        self.sock.close()


@pytest.fixture
def stalled() -> Iterator[StalledServer]:
    server = StalledServer()
    try:
        yield server
    finally:
        server.close()


def test_six_stalled_uris_share_one_budget(pki_set: PkiSet, stalled: StalledServer,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    base = f"http://127.0.0.1:{stalled.port}"
    inter = _with_dps(pki_set.root, pki_set.inter, [f"{base}/r{i}.crl" for i in range(3)])
    signing = _with_dps(inter, pki_set.signing, [f"{base}/i{i}.crl" for i in range(3)])
    limits = FetchLimits(timeout=0.3, budget=0.8)
    inputs = TrustInputs([SourcedCert(signing.cert, "signing.crt"),
                          SourcedCert(inter.cert, "inter.crt")], [],
                         AnchorList([SourcedCert(pki_set.root.cert, "root.crt")]))
    from secexkit.trust import HttpCrlFetcher

    fetcher = HttpCrlFetcher()
    downloads: list[CrlDownloads] = []
    real = CrlDownloads.__init__

    def spy(self: CrlDownloads, *args: object, **kwargs: object) -> None:
        real(self, *args, **kwargs)  # type: ignore[arg-type]
        downloads.append(self)

    monkeypatch.setattr(CrlDownloads, "__init__", spy)
    with pytest.raises(TrustError) as info:
        bounded(lambda: establish_trust(inputs, fetcher=fetcher, now=NOW, limits=limits))
    (run,) = downloads
    # 0.8 s of budget, 0.3 s per URI: at most three transfers start, not six
    assert 1 <= run.budget.attempts <= 3
    assert stalled.accepted <= 3
    assert len(run.failures) == 6
    skipped = [why for why in run.failures.values() if "budget of 0.8 s is used up" in why]
    assert len(skipped) >= 3
    assert any(line.startswith("download ") for line in info.value.details)


def test_budget_through_the_public_api(pki_set: PkiSet, stalled: StalledServer, tmp_path: object,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    base = f"http://127.0.0.1:{stalled.port}"
    inter = _with_dps(pki_set.root, pki_set.inter, [f"{base}/r{i}.crl" for i in range(3)])
    signing = _with_dps(inter, pki_set.signing, [f"{base}/i{i}.crl" for i in range(3)])
    with pytest.raises(TrustError):
        bounded(lambda: check_host_key_documents(
            [pki.der(pki_set.host)], [signing.cert, inter.cert], root_ca=[pki_set.root.cert],
            limits=FetchLimits(timeout=0.25, budget=0.5)))
    assert stalled.accepted <= 2
