"""Getting CRLs from their distribution points.

The verification logic only sees the :class:`CrlFetcher` protocol: ``fetch(uri)``
returns the body or raises :class:`FetchError` with a one-line reason.
:class:`HttpCrlFetcher` does HTTP(S) GETs with a deadline per download (connect
resolution, connect and transfer together), a cap on the bytes read and a bounded
number of redirects (each to http or https only).  :class:`OfflineFetcher` never touches the network.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

if TYPE_CHECKING:
    import socket
    import ssl

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
MAX_REDIRECTS = 5
USER_AGENT = "secexkit-crl-fetch"


def _one_line(text: str, limit: int = 200) -> str:
    """Server- or resolver-controlled text made safe for a one-line message."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def _bypassed(host: str, no_proxy: str) -> bool:
    """curl's no_proxy: "*", or a host name / domain suffix in a comma list."""
    host = host.lower().rstrip(".")
    for raw in no_proxy.replace(" ", "").lower().split(","):
        entry = raw.strip(".")
        if entry == "*" or (entry and (host == entry or host.endswith("." + entry))):
            return True
    return False


class FetchError(Exception):
    """A download failed; ``str()`` is a one-line reason (without the URL)."""


class CrlFetcher(Protocol):
    """Something that turns a CRL distribution-point URI into bytes."""

    def fetch(self, uri: str) -> bytes:
        """The response body; :class:`FetchError` on any failure."""
        ...


class OfflineFetcher:
    """Refuses every download (``--offline``)."""

    def fetch(self, uri: str) -> bytes:
        raise FetchError("downloads are disabled (--offline)")


Resolver = Callable[[str, int], Sequence[tuple[Any, ...]]]


def _getaddrinfo(host: str, port: int) -> Sequence[tuple[Any, ...]]:
    import socket

    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


class HttpCrlFetcher:
    """HTTP/HTTPS GET with a total deadline per download and a size cap.

    The deadline covers name resolution (run in a worker thread, since the system
    resolver cannot be interrupted), connecting, the TLS handshake, the response
    headers and the body.  HTTPS verifies the server like libcurl does for the
    reference (system trust store, host name); ``ssl_context`` replaces that.
    Every redirect target must be http or https again.  Like libcurl, an HTTP proxy
    is taken from ``http_proxy`` / ``https_proxy`` / ``all_proxy`` (also upper case)
    unless ``no_proxy`` exempts the host; ``proxies`` (scheme -> proxy URL, "no" ->
    exemptions) replaces the environment.
    """

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, max_bytes: int = DEFAULT_MAX_BYTES,  # noqa: PLR0917
                 max_redirects: int = MAX_REDIRECTS, resolve: Resolver | None = None,
                 ssl_context: ssl.SSLContext | None = None,
                 proxies: Mapping[str, str] | None = None) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.resolve = resolve or _getaddrinfo
        self.ssl_context = ssl_context
        self.proxies = proxies

    def _proxy_for(self, scheme: str, host: str) -> SplitResult | None:
        """The HTTP proxy to use for ``scheme://host``, or None for a direct connection."""
        import urllib.request

        proxies = dict(self.proxies) if self.proxies is not None else \
            urllib.request.getproxies_environment()
        value = proxies.get(scheme) or proxies.get("all")
        if not value:
            return None
        if _bypassed(host, proxies.get("no", "")):
            return None
        proxy = urlsplit(value if "://" in value else "http://" + value)
        if proxy.scheme != "http" or not proxy.hostname:
            shown = f"{proxy.scheme}://{proxy.netloc.rpartition('@')[2]}"  # no credentials
            raise FetchError(_one_line(f"unsupported proxy {shown!r} (only http:// proxies)"))
        return proxy

    def fetch(self, uri: str) -> bytes:
        deadline = time.monotonic() + self.timeout
        url = uri
        for _ in range(self.max_redirects + 1):
            status, location, body = self._get_once(url, deadline)
            if status in (301, 302, 303, 307, 308):
                if not location:
                    raise FetchError(f"HTTP {status} redirect without a location")
                url = urljoin(url, location)
                log.debug("CRL download %s redirected to %s", uri, url)
                continue
            if status != 200:
                raise FetchError(f"HTTP status {status}")
            return body
        raise FetchError(f"more than {self.max_redirects} redirects")

    def _remaining(self, deadline: float) -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError(f"timed out after {self.timeout:g} s")
        return remaining

    def _addresses(self, host: str, port: int, deadline: float) -> list[tuple[Any, ...]]:
        """Resolve ``host`` within the deadline (a stuck resolver thread is abandoned)."""
        import threading

        found: list[tuple[Any, ...]] = []
        failed: list[Exception] = []

        def work() -> None:
            try:
                found.extend(self.resolve(host, port))
            except Exception as exc:  # reported below, in the caller's thread
                failed.append(exc)

        worker = threading.Thread(target=work, name="crl-resolve", daemon=True)
        worker.start()
        worker.join(self._remaining(deadline))
        if worker.is_alive():
            raise FetchError(f"timed out after {self.timeout:g} s resolving host {host!r}")
        if failed:
            exc = failed[0]
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else \
                f"{type(exc).__name__}: {exc}"
            raise FetchError(f"cannot resolve host {host!r} ({_one_line(why)})")
        if not found:
            raise FetchError(f"cannot resolve host {host!r} (no address)")
        return found

    def _connector(self, addresses: list[tuple[Any, ...]], deadline: float,
                   ) -> Callable[..., socket.socket]:
        import socket

        def connect(*_args: Any, **_kwargs: Any) -> socket.socket:
            error: OSError | None = None
            for family, kind, proto, _, address in addresses:
                sock = socket.socket(family, kind, proto)
                try:
                    sock.settimeout(self._remaining(deadline))
                    sock.connect(address)
                except OSError as exc:
                    sock.close()
                    error = exc
                    continue
                except BaseException:
                    sock.close()
                    raise
                return sock
            raise error or OSError("no address to connect to")

        return connect

    def _get_once(self, url: str, deadline: float) -> tuple[int, str | None, bytes]:
        import http.client
        import socket
        import threading

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"unsupported URI (scheme {parts.scheme or 'none'!r}); "
                             "only http and https can be downloaded")
        connection: http.client.HTTPConnection
        try:
            port = parts.port
        except ValueError:
            raise FetchError("invalid port in URI") from None
        if port is None:
            port = 443 if parts.scheme == "https" else 80
        proxy = self._proxy_for(parts.scheme, parts.hostname)
        headers = {"User-Agent": USER_AGENT, "Accept": "*/*"}
        host, host_port = parts.hostname, port
        proxy_headers: dict[str, str] = {}
        if proxy is not None:
            try:
                host, host_port = proxy.hostname or "", proxy.port or 80
            except ValueError:
                raise FetchError("invalid port in the proxy URL") from None
            if proxy.username is not None:
                import base64
                from urllib.parse import unquote

                secret = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}"
                proxy_headers["Proxy-Authorization"] = \
                    "Basic " + base64.b64encode(secret.encode()).decode("ascii")
        addresses = self._addresses(host, host_port, deadline)
        timeout = self._remaining(deadline)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        if parts.scheme == "https":
            import ssl as ssl_module

            context = self.ssl_context or ssl_module.create_default_context()
            connection = http.client.HTTPSConnection(host, host_port, timeout=timeout,
                                                     context=context)
            if proxy is not None:  # CONNECT tunnel; TLS is then checked for the URI's host
                connection.set_tunnel(parts.hostname, port, headers=proxy_headers)
        else:
            connection = http.client.HTTPConnection(host, host_port, timeout=timeout)
            if proxy is not None:  # absolute-form request to the proxy
                target = urlunsplit(("http", parts.netloc.rpartition("@")[2], target, "", ""))
                headers.update(proxy_headers)
        # connect to the addresses resolved above (the Host header and the TLS server name
        # stay the URI's host name)
        connection._create_connection = self._connector(addresses, deadline)  # type: ignore[attr-defined]

        expired = threading.Event()

        def watchdog() -> None:  # bounds the whole exchange, even a server that drips bytes
            expired.set()
            sock = connection.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

        timer = threading.Timer(timeout, watchdog)
        timer.daemon = True
        timer.start()
        try:
            connection.request("GET", target, headers=headers)
            if connection.sock is not None:
                connection.sock.settimeout(self._remaining(deadline))
            response = connection.getresponse()
            if response.status != 200:
                return response.status, response.getheader("Location"), b""
            length = response.getheader("Content-Length")
            if length is not None and length.isdigit() and int(length) > self.max_bytes:
                raise FetchError(f"response of {int(length)} bytes exceeds the limit of "
                                 f"{self.max_bytes} bytes")
            body = bytearray()
            while True:
                if connection.sock is not None:
                    connection.sock.settimeout(self._remaining(deadline))
                chunk = response.read1(65536)
                if not chunk:
                    if expired.is_set():
                        raise FetchError(f"timed out after {self.timeout:g} s")
                    break
                body += chunk
                if len(body) > self.max_bytes:
                    raise FetchError(f"response exceeds the limit of {self.max_bytes} bytes")
            return 200, None, bytes(body)
        except FetchError:
            raise
        except (OSError, http.client.HTTPException) as exc:
            if expired.is_set() or isinstance(exc, TimeoutError):
                raise FetchError(f"timed out after {self.timeout:g} s") from None
            raise FetchError(_one_line(f"{type(exc).__name__}: {exc}").rstrip(": ")) from None
        finally:
            timer.cancel()
            connection.close()
