"""Getting CRLs from their distribution points, within limits no fetcher can skip.

Every download goes through :meth:`CrlFetcher.fetch`, a final method of the base
class: it takes the per-URI timeout, the run's :class:`DownloadBudget` and the byte
cap from one :class:`FetchLimits` and enforces them around :meth:`CrlFetcher.transfer`,
the raw transfer a subclass implements (ADR 0041).  A transfer that stalls is abandoned
at its deadline (it runs in a worker thread); one that returns too much is refused.
:class:`HttpCrlFetcher` does HTTP(S) GETs (deadline over name resolution, connect,
TLS and transfer; bounded redirects to http or https only).  :class:`OfflineFetcher`
never touches the network.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, final
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

from ..errors import FetchError
from ..fileio import MAX_CRL_FILE
from ._text import one_line

if TYPE_CHECKING:
    import socket
    import ssl

log = logging.getLogger(__name__)

#: per URI, as the reference (libcurl with a 3 s timeout)
DEFAULT_TIMEOUT: Final = 3.0
#: all downloads of one verification together
DEFAULT_BUDGET: Final = 10.0
DEFAULT_MAX_BYTES: Final = MAX_CRL_FILE
MAX_REDIRECTS: Final = 5
USER_AGENT: Final = "secexkit-crl-fetch"
#: time a transfer gets past its deadline to report its own (more precise) reason
_GRACE: Final = 0.25

def _bypassed(host: str, no_proxy: str) -> bool:
    """curl's no_proxy: "*", or a host name / domain suffix in a comma list."""
    host = host.lower().rstrip(".")
    for raw in no_proxy.replace(" ", "").lower().split(","):
        entry = raw.strip(".")
        if entry == "*" or (entry and (host == entry or host.endswith("." + entry))):
            return True
    return False


class FetchLimits:
    """Every limit on downloads, in one place (ADR 0041, ADR 0043); immutable.

    ``timeout``: seconds for one URI (resolution, connect, TLS, redirects and body);
    ``budget``: seconds for all downloads of one verification run (a URI gets at most
    what is left; when nothing is left the remaining URIs are not tried);
    ``max_bytes``: the largest response accepted; ``max_redirects`` per URI.
    (A plain class, not a dataclass: it is imported on every verified run.)
    """

    __slots__ = ("budget", "max_bytes", "max_redirects", "timeout")

    timeout: float
    budget: float
    max_bytes: int
    max_redirects: int

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, budget: float = DEFAULT_BUDGET,
                 max_bytes: int = DEFAULT_MAX_BYTES, max_redirects: int = MAX_REDIRECTS) -> None:
        if not (timeout > 0 and budget > 0):  # also refuses NaN
            raise ValueError("download timeout and budget must be positive numbers of seconds")
        if max_bytes <= 0 or max_redirects < 0:
            raise ValueError("max_bytes must be positive and max_redirects not negative")
        for name, value in (("timeout", timeout), ("budget", budget), ("max_bytes", max_bytes),
                            ("max_redirects", max_redirects)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("FetchLimits is immutable; use replace()")

    def replace(self, **changes: Any) -> FetchLimits:
        """A copy with some fields changed."""
        fields = {name: getattr(self, name) for name in self.__slots__}
        fields.update(changes)
        return FetchLimits(**fields)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FetchLimits) and all(
            getattr(self, name) == getattr(other, name) for name in self.__slots__)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, name) for name in self.__slots__))

    def __repr__(self) -> str:
        return (f"FetchLimits(timeout={self.timeout!r}, budget={self.budget!r}, "
                f"max_bytes={self.max_bytes!r}, max_redirects={self.max_redirects!r})")


class DownloadBudget:
    """The time left for the downloads of one verification run, and the attempts made."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._deadline = clock() + seconds
        #: URIs for which a transfer was started
        self.attempts = 0

    def remaining(self) -> float:
        """Seconds left (0 when used up)."""
        return max(0.0, self._deadline - self._clock())


class Transfer:
    """What one raw transfer may use: its absolute deadline (``time.monotonic()``), the
    seconds that deadline stands for (for messages), the byte cap and the redirects."""

    __slots__ = ("deadline", "max_bytes", "max_redirects", "timeout")

    def __init__(self, deadline: float, timeout: float, max_bytes: int,
                 max_redirects: int) -> None:
        self.deadline = deadline
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects

    def remaining(self) -> float:
        """Seconds left; :class:`FetchError` once the deadline has passed."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise FetchError(f"timed out after {self.timeout:g} s")
        return left


class CrlFetcher:
    """Base class of every fetcher: turns a distribution-point URI into bytes, within limits.

    Subclasses implement :meth:`transfer` only.  :meth:`fetch` (final) enforces the
    deadline and the byte cap whatever :meth:`transfer` does.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "fetch" in cls.__dict__:
            raise TypeError(f"{cls.__name__}: a CrlFetcher implements transfer(); fetch() "
                            "is the base class's and enforces the limits")

    def __init__(self, limits: FetchLimits | None = None) -> None:
        self.limits = limits if limits is not None else FetchLimits()

    def transfer(self, uri: str, transfer: Transfer) -> Iterable[bytes]:
        """The raw transfer: the response body in chunks; :class:`FetchError` on failure.

        Should honour ``transfer.deadline`` and ``transfer.max_bytes``; the base class
        enforces both anyway.
        """
        raise NotImplementedError

    @final
    def fetch(self, uri: str, *, limits: FetchLimits | None = None,
              budget: DownloadBudget | None = None) -> bytes:
        """The body at ``uri``; :class:`FetchError` on any failure.

        ``limits`` replaces the fetcher's own; ``budget`` is the run's remaining time,
        which caps this URI's timeout (nothing left: no attempt is made).
        """
        limits = limits if limits is not None else self.limits
        timeout = limits.timeout
        if budget is not None:
            left = budget.remaining()
            if left <= 0:
                raise FetchError(f"not tried: the download budget of {budget.seconds:g} s "
                                 "is used up")
            budget.attempts += 1
            timeout = min(timeout, left)
        call = Transfer(time.monotonic() + timeout, timeout, limits.max_bytes,
                        limits.max_redirects)
        return _run_bounded(lambda: self.transfer(uri, call), call)


def _run_bounded(work: Callable[[], Iterable[bytes]], call: Transfer) -> bytes:
    """Collect ``work``'s chunks in a worker thread, at most ``call.max_bytes`` of them, and
    give up at the deadline (a stalled worker is abandoned; it is a daemon thread)."""
    body = bytearray()
    outcome: list[BaseException | None] = []
    stop = threading.Event()

    def collect() -> None:
        try:
            for chunk in work():
                if stop.is_set():
                    return
                body.extend(chunk)
                if len(body) > call.max_bytes:
                    raise FetchError(f"response exceeds the limit of {call.max_bytes} bytes")
                if time.monotonic() > call.deadline:
                    raise FetchError(f"timed out after {call.timeout:g} s")
        except BaseException as exc:  # handed to the caller's thread below
            outcome.append(exc)
        else:
            outcome.append(None)

    worker = threading.Thread(target=collect, name="crl-fetch", daemon=True)
    worker.start()
    worker.join(max(0.0, call.deadline - time.monotonic()) + _GRACE)
    if worker.is_alive() or not outcome:
        stop.set()
        raise FetchError(f"timed out after {call.timeout:g} s")
    error = outcome[0]
    if isinstance(error, FetchError):
        raise FetchError(one_line(str(error))) from None
    if isinstance(error, Exception):  # a fetcher's own failure, reported in one line
        raise FetchError(one_line(f"{type(error).__name__}: {error}").rstrip(": ")) from None
    if error is not None:
        raise error
    return bytes(body)


class OfflineFetcher(CrlFetcher):
    """Refuses every download."""

    def transfer(self, uri: str, transfer: Transfer) -> Iterable[bytes]:
        """Always :class:`FetchError`: downloads are disabled."""
        raise FetchError("downloads are disabled (offline)")


Resolver = Callable[[str, int], Sequence[tuple[Any, ...]]]


def _getaddrinfo(host: str, port: int) -> Sequence[tuple[Any, ...]]:
    import socket

    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


class HttpCrlFetcher(CrlFetcher):
    """HTTP/HTTPS GET with a total deadline per download and a size cap.

    The deadline covers name resolution (run in a worker thread, since the system
    resolver cannot be interrupted), connecting, the TLS handshake, the response
    headers and the body.  HTTPS verifies the server like libcurl does for the
    reference (system trust store, host name); ``ssl_context`` replaces that.
    Every redirect target must be http or https again.  Like libcurl, an HTTP proxy
    is taken from ``http_proxy`` / ``https_proxy`` / ``all_proxy`` (also upper case)
    unless ``no_proxy`` exempts the host; ``proxies`` (scheme -> proxy URL, "no" ->
    exemptions) replaces the environment.  ``timeout``, ``max_bytes`` and
    ``max_redirects`` are shortcuts for the fields of ``limits``.
    """

    def __init__(self, timeout: float | None = None, max_bytes: int | None = None,  # noqa: PLR0917
                 max_redirects: int | None = None, resolve: Resolver | None = None,
                 ssl_context: ssl.SSLContext | None = None,
                 proxies: Mapping[str, str] | None = None, *,
                 limits: FetchLimits | None = None) -> None:
        limits = limits if limits is not None else FetchLimits()
        changes: dict[str, Any] = {}
        if timeout is not None:
            changes["timeout"] = timeout
        if max_bytes is not None:
            changes["max_bytes"] = max_bytes
        if max_redirects is not None:
            changes["max_redirects"] = max_redirects
        super().__init__(limits.replace(**changes) if changes else limits)
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
            raise FetchError(one_line(f"unsupported proxy {shown!r} (only http:// proxies)"))
        return proxy

    def transfer(self, uri: str, transfer: Transfer) -> Iterable[bytes]:
        """GET ``uri`` (following redirects) within ``transfer``'s deadline and byte cap."""
        url = uri
        for _ in range(transfer.max_redirects + 1):
            status, location, body = self._get_once(url, transfer)
            if status in (301, 302, 303, 307, 308):
                if not location:
                    raise FetchError(f"HTTP {status} redirect without a location")
                url = urljoin(url, location)
                log.debug("CRL download %s redirected to %s", uri, url)
                continue
            if status != 200:
                raise FetchError(f"HTTP status {status}")
            return [body]
        raise FetchError(f"more than {transfer.max_redirects} redirects")

    def _addresses(self, host: str, port: int, call: Transfer) -> list[tuple[Any, ...]]:
        """Resolve ``host`` within the deadline (a stuck resolver thread is abandoned)."""
        found: list[tuple[Any, ...]] = []
        failed: list[Exception] = []

        def work() -> None:
            try:
                found.extend(self.resolve(host, port))
            except Exception as exc:  # reported below, in the caller's thread
                failed.append(exc)

        worker = threading.Thread(target=work, name="crl-resolve", daemon=True)
        worker.start()
        worker.join(call.remaining())
        if worker.is_alive():
            raise FetchError(f"timed out after {call.timeout:g} s resolving host {host!r}")
        if failed:
            exc = failed[0]
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else \
                f"{type(exc).__name__}: {exc}"
            raise FetchError(f"cannot resolve host {host!r} ({one_line(why)})")
        if not found:
            raise FetchError(f"cannot resolve host {host!r} (no address)")
        return found

    def _connector(self, addresses: list[tuple[Any, ...]], call: Transfer,
                   ) -> Callable[..., socket.socket]:
        import socket

        def connect(*_args: Any, **_kwargs: Any) -> socket.socket:
            error: OSError | None = None
            for family, kind, proto, _, address in addresses:
                sock = socket.socket(family, kind, proto)
                try:
                    sock.settimeout(call.remaining())
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

    def _get_once(self, url: str, call: Transfer) -> tuple[int, str | None, bytes]:
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
        addresses = self._addresses(host, host_port, call)
        timeout = call.remaining()
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
        connection._create_connection = self._connector(addresses, call)  # type: ignore[attr-defined]

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
                connection.sock.settimeout(call.remaining())
            response = connection.getresponse()
            if response.status != 200:
                return response.status, response.getheader("Location"), b""
            length = response.getheader("Content-Length")
            if length is not None and length.isdigit() and int(length) > call.max_bytes:
                raise FetchError(f"response of {int(length)} bytes exceeds the limit of "
                                 f"{call.max_bytes} bytes")
            body = bytearray()
            while True:
                if connection.sock is not None:
                    connection.sock.settimeout(call.remaining())
                chunk = response.read1(65536)
                if not chunk:
                    if expired.is_set():
                        raise FetchError(f"timed out after {call.timeout:g} s")
                    break
                body += chunk
                if len(body) > call.max_bytes:
                    raise FetchError(f"response exceeds the limit of {call.max_bytes} bytes")
            return 200, None, bytes(body)
        except FetchError:
            raise
        except (OSError, http.client.HTTPException) as exc:
            if expired.is_set() or isinstance(exc, TimeoutError):
                raise FetchError(f"timed out after {call.timeout:g} s") from None
            raise FetchError(one_line(f"{type(exc).__name__}: {exc}").rstrip(": ")) from None
        finally:
            timer.cancel()
            connection.close()
