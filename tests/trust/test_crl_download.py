"""CRL downloads against a real HTTP server on 127.0.0.1: good CRLs, garbage then a
good CRL, a server that stalls or drips past the deadline, oversized responses, 404,
redirects, and a complete online verification through the fetcher."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from cryptography import x509

from secexkit.cli._hostkeys import cli_message
from secexkit.trust import FetchError, HttpCrlFetcher, TrustError
from secexkit.trust._chain import AnchorList
from secexkit.trust._load import parse_crls
from secexkit.trust._x509 import SourcedCert
from secexkit.trust.verifier import CrlDownloads, TrustInputs, establish_trust
from tests.support import pki
from tests.support.http_server import QuietServer, Server, respond
from tests.support.pki import NOW, CertSpec, Entity, host_spec
from tests.support.threads import BOUND, bounded

TIMEOUT = 0.5  # the fetcher's deadline in these tests

pytestmark = pytest.mark.usefixtures("no_proxy_environment")




def fetch_bounded(fetcher: HttpCrlFetcher, url: str) -> bytes | FetchError:
    """One fetch that must end within BOUND seconds: the body or the FetchError."""
    def work() -> bytes | FetchError:
        try:
            return fetcher.fetch(url)
        except FetchError as exc:
            return exc

    return bounded(work, f"download of {url}")


def test_good_crl_der_and_pem(server: Server, pki_set: pki.PkiSet) -> None:
    server.routes["/good.crl"] = respond(pki.der(pki_set.signing_crl))
    server.routes["/good.pem"] = respond(pki.pem(pki_set.signing_crl, pki_set.inter_crl))
    fetcher = HttpCrlFetcher(timeout=5)
    body = fetch_bounded(fetcher, server.base + "/good.crl")
    assert isinstance(body, bytes) and parse_crls(body) == [pki_set.signing_crl]
    body = fetch_bounded(fetcher, server.base + "/good.pem")
    assert isinstance(body, bytes) and parse_crls(body) == [pki_set.signing_crl, pki_set.inter_crl]


def test_redirect_is_followed(server: Server, pki_set: pki.PkiSet) -> None:
    server.routes["/good.crl"] = respond(pki.der(pki_set.signing_crl))

    def redirect(h: BaseHTTPRequestHandler) -> None:
        h.send_response(302)
        h.send_header("Location", "/good.crl")
        h.send_header("Content-Length", "0")
        h.end_headers()

    server.routes["/moved"] = redirect
    assert fetch_bounded(HttpCrlFetcher(timeout=5), server.base + "/moved") == pki.der(pki_set.signing_crl)


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
    server.routes["/big"] = respond(big)

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


def test_garbage_first_then_good(server: Server, pki_set: pki.PkiSet) -> None:
    server.routes["/garbage.crl"] = respond(b"this is not a CRL")
    server.routes["/empty.crl"] = respond(b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    server.routes["/good.crl"] = respond(pki.der(pki_set.signing_crl))
    uris = [server.base + u for u in ("/missing.crl", "/garbage.crl", "/empty.crl", "/good.crl")]
    cert = _with_dps(pki_set.signing, pki_set.host, uris)
    downloads = CrlDownloads(HttpCrlFetcher(timeout=5))
    found = bounded(lambda: downloads.first_for(cert))
    assert [c.crl for c in found] == [pki_set.signing_crl] and found[0].source == uris[3]
    assert set(downloads.failures) == set(uris[:3])
    assert "404" in downloads.failures[uris[0]]
    assert "not a CRL" in downloads.failures[uris[1]] or "no CRL" in downloads.failures[uris[1]]


def test_online_verification_end_to_end(server: Server, pki_set: pki.PkiSet) -> None:
    base = server.base
    server.routes.update({
        "/root.crl": respond(pki.der(pki_set.root_crl)),
        "/inter.crl": respond(pki.pem(pki_set.inter_crl)),
        "/ibm.crl": respond(pki.der(pki_set.signing_crl)),
        "/garbage.crl": respond(b"garbage"),
    })
    inter = Entity(_with_dps(pki_set.root, pki_set.inter, [base + "/garbage.crl", base + "/root.crl"]),
                   pki_set.inter.key)
    signing = Entity(_with_dps(inter, pki_set.signing, [base + "/inter.crl"]), pki_set.signing.key)
    host = pki.issue(signing, pki.HOST_SUBJECT, host_spec(dist_points=[base + "/ibm.crl"]),
                     key=pki_set.host_key)
    host_404 = pki.issue(signing, pki.HOST_SUBJECT, host_spec(dist_points=[base + "/gone.crl"]),
                         key=pki_set.host_key)
    inputs = TrustInputs([SourcedCert(signing.cert, "signing.crt"),
                          SourcedCert(inter.cert, "inter.crt")], [],
                         AnchorList([SourcedCert(pki_set.root.cert, "root.crt")]))
    v = bounded(lambda: establish_trust(inputs, fetcher=HttpCrlFetcher(timeout=5), now=NOW))
    bounded(lambda: v.verify(host.cert, "host.crt"))
    with pytest.raises(TrustError) as info:
        bounded(lambda: v.verify(host_404.cert, "host404.crt"))
    assert info.value.check == "no-crl"
    assert base + "/gone.crl" in str(info.value)
    assert any("404" in line for line in info.value.details)
    # offline, the same inputs lack every CRL
    with pytest.raises(TrustError) as info:
        establish_trust(inputs, fetcher=None, now=NOW)
    assert (info.value.level, info.value.code) == (0, 3)


def test_chain_download_failure_names_the_url(server: Server, pki_set: pki.PkiSet) -> None:
    base = server.base
    server.routes["/root.crl"] = respond(pki.der(pki_set.root_crl))
    inter = Entity(_with_dps(pki_set.root, pki_set.inter, [base + "/root.crl"]), pki_set.inter.key)
    signing = Entity(_with_dps(inter, pki_set.signing, [base + "/nothing-here.crl"]), pki_set.signing.key)
    inputs = TrustInputs([SourcedCert(signing.cert, "signing.crt"),
                          SourcedCert(inter.cert, "inter.crt")], [],
                         AnchorList([SourcedCert(pki_set.root.cert, "root.crt")]))
    with pytest.raises(TrustError) as info:
        bounded(lambda: establish_trust(inputs, fetcher=HttpCrlFetcher(timeout=5), now=NOW))
    err = info.value
    assert (err.level, err.code) == (0, 3)
    assert base + "/nothing-here.crl" in str(err) and "--crl" in cli_message(err)
    assert any("HTTP status 404" in line for line in err.details)



# --- redirects, name resolution, headers, HTTPS (audit, ADR 0015) ------------------------------

def _redirect_to(location: str, status: int = 302) -> Callable[[BaseHTTPRequestHandler], None]:
    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Location", location)
        h.send_header("Content-Length", "0")
        h.end_headers()
    return handle


@pytest.mark.parametrize("target", [
    "file:///etc/passwd", "ftp://127.0.0.1/ibm.crl", "data:,x", "ldap://127.0.0.1/cn=crl",
    "gopher://127.0.0.1:70/", "mailto:crl@example.test",
])
def test_redirect_to_another_scheme_is_refused(server: Server, target: str) -> None:
    server.routes["/to-other-scheme"] = _redirect_to(target, 301)
    result = fetch_bounded(HttpCrlFetcher(timeout=5), server.base + "/to-other-scheme")
    assert isinstance(result, FetchError), result
    assert "unsupported URI" in str(result)


def test_redirect_loop_is_bounded(server: Server) -> None:
    server.routes["/loop"] = _redirect_to("/loop", 307)
    before = len(server.hits)
    result = fetch_bounded(HttpCrlFetcher(timeout=5, max_redirects=3), server.base + "/loop")
    assert isinstance(result, FetchError) and "more than 3 redirects" in str(result)
    assert server.hits[before:] == ["/loop"] * 4


def _resolver(mapping: dict[str, str], calls: list[str] | None = None,
              ) -> Callable[[str, int], list[tuple[object, ...]]]:
    def resolve(host: str, port: int) -> list[tuple[object, ...]]:
        if calls is not None:
            calls.append(host)
        if host not in mapping:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (mapping[host], port))]
    return resolve


def test_host_names_go_through_the_resolver(server: Server, pki_set: pki.PkiSet) -> None:
    server.routes["/named.crl"] = respond(pki.der(pki_set.signing_crl))
    port = server.base.rsplit(":", 1)[1]
    calls: list[str] = []
    fetcher = HttpCrlFetcher(timeout=5, resolve=_resolver({"crl.example.test": "127.0.0.1"}, calls))
    assert fetch_bounded(fetcher, f"http://crl.example.test:{port}/named.crl") == pki.der(pki_set.signing_crl)
    assert calls == ["crl.example.test"]
    result = fetch_bounded(fetcher, f"http://unknown.example.test:{port}/named.crl")
    assert isinstance(result, FetchError)
    assert "cannot resolve host 'unknown.example.test'" in str(result)


def test_stuck_name_resolution_hits_the_deadline(server: Server) -> None:
    def stuck(host: str, port: int) -> list[tuple[object, ...]]:
        server.stop.wait(BOUND * 2)  # a resolver that never answers while the test runs
        return []

    result = fetch_bounded(HttpCrlFetcher(timeout=TIMEOUT, resolve=stuck),
                           "http://slow-dns.example.test/ibm.crl")
    assert isinstance(result, FetchError)
    assert "timed out" in str(result) and "resolving host 'slow-dns.example.test'" in str(result)


def test_dripping_headers_hit_the_deadline(server: Server) -> None:
    def drip_headers(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.flush_headers()  # the status line, without the blank line that ends the headers
        for index in range(1000):  # one header every 50 ms, never the end of the headers
            if server.stop.is_set():
                return
            try:
                h.wfile.write(f"X-Drip-{index}: x\r\n".encode())
                h.wfile.flush()
            except OSError:
                return
            time.sleep(0.05)

    server.routes["/drip-headers"] = drip_headers
    result = fetch_bounded(HttpCrlFetcher(timeout=TIMEOUT), server.base + "/drip-headers")
    assert isinstance(result, FetchError) and "timed out" in str(result)


def test_oversized_header_is_refused(server: Server) -> None:
    def huge_header(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        with contextlib.suppress(OSError):
            h.wfile.write(b"X-Huge: " + b"a" * 200_000 + b"\r\n\r\n")
        h.close_connection = True

    server.routes["/huge-header"] = huge_header
    result = fetch_bounded(HttpCrlFetcher(timeout=5), server.base + "/huge-header")
    assert isinstance(result, FetchError) and "line" in str(result).lower()


# --- HTTPS ----------------------------------------------------------------------------------

@dataclass
class TlsServer:
    base_port: int
    ca_file: str


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory, pki_set: pki.PkiSet) -> Iterator[TlsServer]:
    import ipaddress
    import ssl

    from cryptography.hazmat.primitives import serialization

    d = tmp_path_factory.mktemp("tls")
    ca = pki.root_ca("TLS Test CA")
    san = x509.SubjectAlternativeName([x509.DNSName("crl.example.test"),
                                       x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    leaf = pki.issue(ca, pki.ibm_name("TLS Server"), CertSpec(extra_extensions=[(san, False)]))
    cert_file = pki.write(d / "server.pem", leaf, ca)
    key_file = d / "server.key"
    key_file.write_bytes(leaf.key.private_bytes(serialization.Encoding.PEM,
                                                serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, str(key_file))
    crl = pki.der(pki_set.signing_crl)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            respond(crl)(self) if self.path == "/ibm.crl" else respond(b"", 404)(self)

        def log_message(self, format: str, *args: object) -> None:
            pass

    class TlsHttpServer(QuietServer):
        def get_request(self) -> tuple[socket.socket, Any]:
            sock, address = self.socket.accept()
            sock.settimeout(BOUND)
            try:
                return context.wrap_socket(sock, server_side=True), address
            except (OSError, ssl.SSLError):
                sock.close()
                raise

    httpd = TlsHttpServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield TlsServer(httpd.server_address[1], pki.write(d / "ca.pem", ca))
    finally:
        httpd.shutdown()
        httpd.server_close()


def _tls_fetcher(tls: TlsServer, **kwargs: object) -> HttpCrlFetcher:
    import ssl

    return HttpCrlFetcher(timeout=5, ssl_context=ssl.create_default_context(cafile=tls.ca_file),
                          **kwargs)  # type: ignore[arg-type]


def test_https_with_a_trusted_server(tls_server: TlsServer, pki_set: pki.PkiSet) -> None:
    url = f"https://127.0.0.1:{tls_server.base_port}/ibm.crl"
    assert fetch_bounded(_tls_fetcher(tls_server), url) == pki.der(pki_set.signing_crl)
    named = _tls_fetcher(tls_server, resolve=_resolver({"crl.example.test": "127.0.0.1"}))
    url = f"https://crl.example.test:{tls_server.base_port}/ibm.crl"
    assert fetch_bounded(named, url) == pki.der(pki_set.signing_crl)


def test_https_server_certificate_is_verified(tls_server: TlsServer) -> None:
    # the system trust store does not know the test CA
    result = fetch_bounded(HttpCrlFetcher(timeout=5),
                           f"https://127.0.0.1:{tls_server.base_port}/ibm.crl")
    assert isinstance(result, FetchError) and "CERTIFICATE_VERIFY_FAILED" in str(result)
    # a trusted certificate for another name: the URI's host name is what is checked
    wrong = _tls_fetcher(tls_server, resolve=_resolver({"other.example.test": "127.0.0.1"}))
    result = fetch_bounded(wrong, f"https://other.example.test:{tls_server.base_port}/ibm.crl")
    assert isinstance(result, FetchError) and "CERTIFICATE_VERIFY_FAILED" in str(result)
    assert "other.example.test" in str(result) or "mismatch" in str(result).lower()


def test_https_to_a_plain_http_server_fails(server: Server) -> None:
    result = fetch_bounded(HttpCrlFetcher(timeout=5), server.base.replace("http:", "https:") + "/x")
    assert isinstance(result, FetchError) and "SSL" in str(result)


def test_server_text_in_errors_is_one_line(server: Server) -> None:
    def bad_status(h: BaseHTTPRequestHandler) -> None:
        h.wfile.write(b"HTTP/1.1 2OO Okay\r\nInjected: line\r\n\r\n")
        h.close_connection = True

    server.routes["/bad-status"] = bad_status
    result = fetch_bounded(HttpCrlFetcher(timeout=5), server.base + "/bad-status")
    assert isinstance(result, FetchError)
    assert "\n" not in str(result) and "\r" not in str(result)


# --- proxies (as libcurl: http_proxy / https_proxy / all_proxy / no_proxy) ------------------------

def _recording(data: bytes, seen: list[str | None]) -> Callable[[BaseHTTPRequestHandler], None]:
    def handle(h: BaseHTTPRequestHandler) -> None:
        seen.append(h.headers.get("Proxy-Authorization"))
        respond(data)(h)
    return handle


def test_http_through_a_proxy(server: Server, pki_set: pki.PkiSet) -> None:
    seen: list[str | None] = []
    server.routes["http://crl.example.test/ibm.crl"] = _recording(pki.der(pki_set.signing_crl), seen)
    calls: list[str] = []
    resolve = _resolver({"127.0.0.1": "127.0.0.1"}, calls)  # crl.example.test is not resolvable
    fetcher = HttpCrlFetcher(timeout=5, resolve=resolve, proxies={"http": server.base})
    assert fetch_bounded(fetcher, "http://crl.example.test/ibm.crl") == pki.der(pki_set.signing_crl)
    assert calls == ["127.0.0.1"] and seen == [None]
    with_user = server.base.replace("http://", "http://user:p%40ss@")
    fetcher = HttpCrlFetcher(timeout=5, resolve=resolve, proxies={"all": with_user})
    assert fetch_bounded(fetcher, "http://crl.example.test/ibm.crl") == pki.der(pki_set.signing_crl)
    assert seen[1] == "Basic dXNlcjpwQHNz"  # user:p@ss


def test_proxy_from_the_environment(server: Server, pki_set: pki.PkiSet,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    server.routes["http://crl.example.test/env.crl"] = respond(pki.der(pki_set.signing_crl))
    monkeypatch.setenv("http_proxy", server.base.removeprefix("http://"))  # scheme optional
    resolve = _resolver({"127.0.0.1": "127.0.0.1"})
    fetcher = HttpCrlFetcher(timeout=5, resolve=resolve)
    assert fetch_bounded(fetcher, "http://crl.example.test/env.crl") == pki.der(pki_set.signing_crl)
    monkeypatch.setenv("no_proxy", "localhost,.example.test")  # now a direct connection
    result = fetch_bounded(fetcher, "http://crl.example.test/env.crl")
    assert isinstance(result, FetchError) and "cannot resolve host 'crl.example.test'" in str(result)


def test_unsupported_proxy(server: Server) -> None:
    for proxy in ("socks5://127.0.0.1:1080", "https://user:secret@127.0.0.1:3128"):
        result = fetch_bounded(HttpCrlFetcher(timeout=5, proxies={"http": proxy}),
                               "http://crl.example.test/ibm.crl")
        assert isinstance(result, FetchError) and "unsupported proxy" in str(result)
        assert "127.0.0.1" in str(result) and "secret" not in str(result)


def test_https_through_a_connect_proxy(server: Server, tls_server: TlsServer,
                                       pki_set: pki.PkiSet) -> None:
    calls: list[str] = []
    fetcher = _tls_fetcher(tls_server, resolve=_resolver({"127.0.0.1": "127.0.0.1"}, calls),
                           proxies={"https": server.base})
    url = f"https://crl.example.test:{tls_server.base_port}/ibm.crl"
    assert fetch_bounded(fetcher, url) == pki.der(pki_set.signing_crl)
    assert f"CONNECT crl.example.test:{tls_server.base_port}" in server.hits
    assert calls == ["127.0.0.1"]
    # the TLS name is still the URI's host: a certificate for another name is refused
    url = f"https://other.example.test:{tls_server.base_port}/ibm.crl"
    result = fetch_bounded(fetcher, url)
    assert isinstance(result, FetchError) and "CERTIFICATE_VERIFY_FAILED" in str(result)


def test_stalled_tls_handshake_hits_the_deadline() -> None:
    with socket.socket() as listener:  # accepts (backlog) but never speaks TLS
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        result = fetch_bounded(HttpCrlFetcher(timeout=TIMEOUT), f"https://127.0.0.1:{port}/x.crl")
        assert isinstance(result, FetchError) and "timed out" in str(result)
