"""Getting CRLs from their distribution points.

The verification logic only sees the :class:`CrlFetcher` protocol: ``fetch(uri)``
returns the body or raises :class:`FetchError` with a one-line reason.
:class:`HttpCrlFetcher` does HTTP(S) GETs with a deadline per download (connect
and transfer together), a cap on the bytes read and a bounded number of
redirects.  :class:`OfflineFetcher` never touches the network.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Protocol
from urllib.parse import urljoin, urlsplit

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
MAX_REDIRECTS = 5
USER_AGENT = "secexkit-crl-fetch"


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


class HttpCrlFetcher:
    """HTTP/HTTPS GET with a total deadline per download and a size cap."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_redirects: int = MAX_REDIRECTS) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects

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

    def _get_once(self, url: str, deadline: float) -> tuple[int, str | None, bytes]:
        import http.client
        import socket

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"unsupported URI (scheme {parts.scheme or 'none'!r}); "
                             "only http and https can be downloaded")
        connection: http.client.HTTPConnection
        try:
            port = parts.port
        except ValueError:
            raise FetchError("invalid port in URI") from None
        timeout = self._remaining(deadline)
        if parts.scheme == "https":
            import ssl

            connection = http.client.HTTPSConnection(parts.hostname, port, timeout=timeout,
                                                     context=ssl.create_default_context())
        else:
            connection = http.client.HTTPConnection(parts.hostname, port, timeout=timeout)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        import threading

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
            connection.request("GET", target, headers={"User-Agent": USER_AGENT,
                                                       "Accept": "*/*"})
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
        except socket.gaierror as exc:
            raise FetchError(f"cannot resolve host {parts.hostname!r} ({exc.strerror})") from None
        except (OSError, http.client.HTTPException) as exc:
            if expired.is_set() or isinstance(exc, TimeoutError):
                raise FetchError(f"timed out after {self.timeout:g} s") from None
            raise FetchError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
        finally:
            timer.cancel()
            connection.close()
