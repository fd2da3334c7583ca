"""CRL downloads against a real HTTP server on 127.0.0.1: good CRLs, garbage then a
good CRL, a server that stalls or drips past the deadline, oversized responses, 404,
redirects, and a complete online verification through the fetcher."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509

from secexkit.trust import (
    AnchorList,
    CrlDownloads,
    FetchError,
    HttpCrlFetcher,
    SourcedCert,
    TrustError,
    TrustInputs,
    establish_trust,
    parse_crls,
)
from tests import pki
from tests.pki import NOW, CertSpec, Entity, host_spec

BOUND = 15.0  # seconds: generous upper bound for "ends within a bounded time"
TIMEOUT = 0.5  # the fetcher's deadline in these tests


@dataclass
class Server:
    base: str
    routes: dict[str, Callable[[BaseHTTPRequestHandler], None]]
    stop: threading.Event
    hits: list[str]


def _body(data: bytes, status: int = 200, content_type: str = "application/pkix-crl",
          ) -> Callable[[BaseHTTPRequestHandler], None]:
    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
    return handle


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    routes: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {}
    stop = threading.Event()
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            hits.append(self.path)
            route = routes.get(self.path)
            if route is None:
                _body(b"not found", 404, "text/plain")(self)
            else:
                route(self)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_address[1]}", routes, stop, hits)
    finally:
        stop.set()
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def p() -> pki.PkiSet:
    return pki.build_pki()


def fetch_bounded(fetcher: HttpCrlFetcher, url: str) -> bytes | FetchError:
    """Run one fetch in a thread; it must end within BOUND seconds."""
    result: list[bytes | FetchError] = []

    def work() -> None:
        try:
            result.append(fetcher.fetch(url))
        except FetchError as exc:
            result.append(exc)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(BOUND)
    assert not worker.is_alive(), f"download of {url} did not end"
    return result[0]


def test_good_crl_der_and_pem(server: Server, p: pki.PkiSet) -> None:
    server.routes["/good.crl"] = _body(pki.der(p.signing_crl))
    server.routes["/good.pem"] = _body(pki.pem(p.signing_crl, p.inter_crl))
    fetcher = HttpCrlFetcher(timeout=5)
    assert parse_crls(fetcher.fetch(server.base + "/good.crl")) == [p.signing_crl]
    assert parse_crls(fetcher.fetch(server.base + "/good.pem")) == [p.signing_crl, p.inter_crl]


def test_redirect_is_followed(server: Server, p: pki.PkiSet) -> None:
    server.routes["/good.crl"] = _body(pki.der(p.signing_crl))

    def redirect(h: BaseHTTPRequestHandler) -> None:
        h.send_response(302)
        h.send_header("Location", "/good.crl")
        h.send_header("Content-Length", "0")
        h.end_headers()

    server.routes["/moved"] = redirect
    assert HttpCrlFetcher(timeout=5).fetch(server.base + "/moved") == pki.der(p.signing_crl)


def test_404(server: Server) -> None:
    result = fetch_bounded(HttpCrlFetcher(timeout=5), server.base + "/missing.crl")
    assert isinstance(result, FetchError) and "404" in str(result)


def test_stalling_server_times_out(server: Server) -> None:
    def stall(h: BaseHTTPRequestHandler) -> None:
        server.stop.wait(BOUND * 2)  # never answers while the test runs

    server.routes["/stall"] = stall
    result = fetch_bounded(HttpCrlFetcher(timeout=TIMEOUT), server.base + "/stall")
    assert isinstance(result, FetchError) and "timed out" in str(result)


def test_dripping_server_hits_the_total_deadline(server: Server) -> None:
    def drip(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "100000")
        h.end_headers()
        for _ in range(1000):  # one byte every 50 ms: each read is "fast", the total is not
            if server.stop.is_set():
                return
            try:
                h.wfile.write(b"x")
                h.wfile.flush()
            except OSError:
                return
            time.sleep(0.05)

    server.routes["/drip"] = drip
    result = fetch_bounded(HttpCrlFetcher(timeout=TIMEOUT), server.base + "/drip")
    assert isinstance(result, FetchError) and "timed out" in str(result)


def test_oversized_response(server: Server) -> None:
    big = b"0" * 5000
    server.routes["/big"] = _body(big)

    def close_delimited(h: BaseHTTPRequestHandler) -> None:  # no Content-Length
        h.send_response(200)
        h.send_header("Connection", "close")
        h.end_headers()
        h.wfile.write(big)
        h.close_connection = True

    server.routes["/big-stream"] = close_delimited
    fetcher = HttpCrlFetcher(timeout=5, max_bytes=1000)
    for path in ("/big", "/big-stream"):
        result = fetch_bounded(fetcher, server.base + path)
        assert isinstance(result, FetchError) and "exceeds the limit of 1000 bytes" in str(result)
    assert fetch_bounded(HttpCrlFetcher(timeout=5, max_bytes=5000), server.base + "/big") == big


def test_unsupported_uri() -> None:
    for uri in ("ibm.crl", "ldap://example.invalid/crl", "file:///etc/passwd"):
        result = fetch_bounded(HttpCrlFetcher(timeout=5), uri)
        assert isinstance(result, FetchError) and "unsupported URI" in str(result)


def _with_dps(issuer: Entity, entity: Entity, uris: list[str]) -> x509.Certificate:
    spec = CertSpec(ca=pki.extension_is_ca(entity.cert), dist_points=uris)
    return pki.make_cert(entity.cert.subject, entity.key.public_key(), issuer, spec)


def test_garbage_first_then_good(server: Server, p: pki.PkiSet) -> None:
    server.routes["/garbage.crl"] = _body(b"this is not a CRL")
    server.routes["/empty.crl"] = _body(b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    server.routes["/good.crl"] = _body(pki.der(p.signing_crl))
    uris = [server.base + u for u in ("/missing.crl", "/garbage.crl", "/empty.crl", "/good.crl")]
    cert = _with_dps(p.signing, p.host, uris)
    downloads = CrlDownloads(HttpCrlFetcher(timeout=5))
    found = downloads.first_for(cert)
    assert [c.crl for c in found] == [p.signing_crl] and found[0].source == uris[3]
    assert set(downloads.failures) == set(uris[:3])
    assert "404" in downloads.failures[uris[0]]
    assert "not a CRL" in downloads.failures[uris[1]] or "no CRL" in downloads.failures[uris[1]]


def test_online_verification_end_to_end(server: Server, p: pki.PkiSet) -> None:
    base = server.base
    server.routes.update({
        "/root.crl": _body(pki.der(p.root_crl)),
        "/inter.crl": _body(pki.pem(p.inter_crl)),
        "/ibm.crl": _body(pki.der(p.signing_crl)),
        "/garbage.crl": _body(b"garbage"),
    })
    inter = Entity(_with_dps(p.root, p.inter, [base + "/garbage.crl", base + "/root.crl"]),
                   p.inter.key)
    signing = Entity(_with_dps(inter, p.signing, [base + "/inter.crl"]), p.signing.key)
    host = pki.issue(signing, pki.HOST_SUBJECT, host_spec(dist_points=[base + "/ibm.crl"]),
                     key=p.host_key)
    host_404 = pki.issue(signing, pki.HOST_SUBJECT, host_spec(dist_points=[base + "/gone.crl"]),
                         key=p.host_key)
    inputs = TrustInputs([SourcedCert(signing.cert, "signing.crt"),
                          SourcedCert(inter.cert, "inter.crt")], [],
                         AnchorList([SourcedCert(p.root.cert, "root.crt")]))
    v = establish_trust(inputs, fetcher=HttpCrlFetcher(timeout=5), now=NOW)
    v.verify(host.cert, "host.crt")
    with pytest.raises(TrustError) as info:
        v.verify(host_404.cert, "host404.crt")
    assert info.value.check == "no-crl"
    assert base + "/gone.crl" in str(info.value)
    assert any("404" in line for line in info.value.details)
    # offline, the same inputs lack every CRL
    with pytest.raises(TrustError) as info:
        establish_trust(inputs, fetcher=None, now=NOW)
    assert (info.value.level, info.value.code) == (0, 3)


def test_chain_download_failure_names_the_url(server: Server, p: pki.PkiSet) -> None:
    base = server.base
    server.routes["/root.crl"] = _body(pki.der(p.root_crl))
    inter = Entity(_with_dps(p.root, p.inter, [base + "/root.crl"]), p.inter.key)
    signing = Entity(_with_dps(inter, p.signing, [base + "/nothing-here.crl"]), p.signing.key)
    inputs = TrustInputs([SourcedCert(signing.cert, "signing.crt"),
                          SourcedCert(inter.cert, "inter.crt")], [],
                         AnchorList([SourcedCert(p.root.cert, "root.crt")]))
    with pytest.raises(TrustError) as info:
        establish_trust(inputs, fetcher=HttpCrlFetcher(timeout=5), now=NOW)
    err = info.value
    assert (err.level, err.code) == (0, 3)
    assert base + "/nothing-here.crl" in str(err) and "--crl" in str(err)
    assert any("HTTP status 404" in line for line in err.details)

