"""A real HTTP server on 127.0.0.1 for CRL downloads, with a CONNECT proxy built in.

Tests register routes (path or absolute URL, as a proxy sees it) and read the paths that
were asked for; :func:`serve` runs the server for the length of a ``with`` block.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Route = Callable[[BaseHTTPRequestHandler], None]

UPSTREAM_TIMEOUT = 15.0  # seconds: the CONNECT proxy's limit for reaching its upstream


@dataclass
class Server:
    """A running server: its base URL, its routes, a stop flag and the requests seen."""

    base: str
    routes: dict[str, Route]
    stop: threading.Event
    hits: list[str]


def respond(data: bytes, status: int = 200, content_type: str = "application/pkix-crl") -> Route:
    """A route answering ``status`` with ``data``."""
    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
    return handle


class QuietServer(ThreadingHTTPServer):
    """Clients that give up (timeouts, refused TLS) reset connections: not worth a trace."""

    def handle_error(self, request: object, client_address: object) -> None:
        pass


@contextlib.contextmanager
def serve() -> Iterator[Server]:
    """Run a server on an ephemeral 127.0.0.1 port until the block ends."""
    routes: dict[str, Route] = {}
    stop = threading.Event()
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            hits.append(self.path)
            route = routes.get(self.path)
            if route is None:
                respond(b"not found", 404, "text/plain")(self)
            else:
                route(self)

        def do_CONNECT(self) -> None:  # a tunnelling proxy to 127.0.0.1:<port>, any host name
            hits.append(f"CONNECT {self.path}")
            port = int(self.path.rsplit(":", 1)[1])
            try:
                upstream = socket.create_connection(("127.0.0.1", port), timeout=UPSTREAM_TIMEOUT)
            except OSError:
                self.send_error(502)
                return
            self.send_response(200, "Connection established")
            self.end_headers()
            ends = [self.connection, upstream]
            with upstream:
                while not stop.is_set():
                    ready, _, _ = select.select(ends, [], [], 0.2)
                    for end in ready:
                        data = end.recv(65536)
                        if not data:
                            return
                        (upstream if end is self.connection else self.connection).sendall(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = QuietServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_address[1]}", routes, stop, hits)
    finally:
        stop.set()
        httpd.shutdown()
        httpd.server_close()


PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
