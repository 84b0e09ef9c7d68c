"""An httpx transport that sends over the standard library's `http.client`,
keeping connections alive per origin.

Every outbound call (FIRS, each vendor) is made with httpx: its Request,
Response, timeouts and exception classes are what the clients speak. Only the
wire under them changes. httpx's own transport (httpcore driving h11, both
pure Python) costs ~0.45 ms of CPU a keep-alive request; `http.client`, whose
request writing and status/header reading are leaner, ~0.18 ms. A whole
FIRS call (the client's own work included) went from ~0.62 to ~0.49 ms; a
live POS sale makes four and a tenth of a Square one (docs/performance.md,
"session 4: an httpx transport over http.client").

What it keeps of httpcore's behaviour, so the clients cannot tell:
- keep-alive connections pooled per (scheme, host, port), at most
  `max_keepalive` idle per origin; an idle connection the server has closed
  (its socket reads as ready: EOF) is dropped before it is used, and so is
  one idle longer than `keepalive_expiry` (httpx's 5 s): servers close idle
  connections on a timer of their own (cheroot after 10 s, nginx 75 s), and
  a request written just as the server closes is reset with no answer,
  which for a FIRS `sign` means an outcome unknown and a resend later;
- at most `max_connections` requests in flight at once across origins,
  each on a connection of its own (idle ones do not count, unlike
  httpcore's pool); a request that cannot start within the pool timeout
  raises `httpx.PoolTimeout`;
- httpx's timeout extension (`connect`, `read`, `write`, `pool`);
- failures as httpx's classes: ConnectError/ConnectTimeout before anything
  was sent, WriteError/WriteTimeout while sending, ReadError/ReadTimeout and
  RemoteProtocolError (a malformed or missing answer) after. A request is
  never resent here: whether a failure is safe to retry is the caller's
  decision (FIRS `sign` is not).
- the body is returned raw with its headers, so httpx decodes any
  Content-Encoding as it does for its own transport.
And one thing more: a forked child (a prefork worker) starts with no idle
connections, so parent and child never share a socket.
"""
from __future__ import annotations

import http.client
import os
import select
import socket
import threading
import time
import weakref
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit

import httpx

DEFAULT_LIMITS = httpx.Limits()
# httpx sends Content-Length: 0 for these without a body.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class Answer(NamedTuple):
    """An answer as `KeepAliveTransport.request` returns it: the status, the
    headers as sent (in order), the body."""
    status: int
    headers: list[tuple[str, str]]
    content: bytes

    def header(self, name: str) -> str | None:
        """The first value of header `name` (any case), or None."""
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), None)


_every_transport: weakref.WeakSet = weakref.WeakSet()


class KeepAliveTransport(httpx.BaseTransport):
    def __init__(self, *, limits: httpx.Limits = DEFAULT_LIMITS, verify=True):
        # None means no bound, as in httpx.Limits.
        self._max_keepalive = limits.max_keepalive_connections
        self._max_connections = limits.max_connections
        self._keepalive_expiry = limits.keepalive_expiry
        self._slots = self._new_slots()
        self._verify = verify
        self._ssl_context = None
        self._idle: dict[tuple, list[tuple[http.client.HTTPConnection, float]]] = {}  # (conn, idle since)
        self._lock = threading.Lock()
        _every_transport.add(self)

    def _new_slots(self):
        return threading.BoundedSemaphore(self._max_connections) if self._max_connections is not None else None

    # --- connections ------------------------------------------------------------------
    def _new_connection(self, scheme: str, host: str, port: int | None, connect_timeout):
        if scheme == "https":
            if self._ssl_context is None:
                self._ssl_context = httpx.create_ssl_context(verify=self._verify)
            conn = http.client.HTTPSConnection(host, port, timeout=connect_timeout, context=self._ssl_context)
        elif scheme == "http":
            conn = http.client.HTTPConnection(host, port, timeout=connect_timeout)
        else:
            raise httpx.UnsupportedProtocol(f"Request URL has an unsupported protocol '{scheme}://'.")
        try:
            conn.connect()
        except (TimeoutError, socket.timeout) as exc:
            conn.close()
            raise httpx.ConnectTimeout(str(exc) or "timed out connecting") from exc
        except OSError as exc:
            conn.close()
            raise httpx.ConnectError(str(exc)) from exc
        return conn

    def _idle_connection(self, origin: tuple):
        """An idle connection to `origin` still open and not expired, or None."""
        while True:
            with self._lock:
                idle = self._idle.get(origin)
                conn, idle_since = idle.pop() if idle else (None, 0.0)
            if conn is None:
                return None
            sock = conn.sock
            # Readable while idle means the server closed it (or broke protocol).
            if not self._expired(idle_since) and sock is not None and not select.select([sock], [], [], 0)[0]:
                return conn
            conn.close()

    def _expired(self, idle_since: float) -> bool:
        return self._keepalive_expiry is not None and time.monotonic() - idle_since > self._keepalive_expiry

    def _release(self, origin: tuple, conn: http.client.HTTPConnection, *, reusable: bool) -> None:
        expired = []
        if reusable:
            with self._lock:
                idle = self._idle.setdefault(origin, [])
                # The oldest first: those past their expiry are closed now, not held open till asked for.
                while idle and self._expired(idle[0][1]):
                    expired.append(idle.pop(0)[0])
                if self._max_keepalive is None or len(idle) < self._max_keepalive:
                    idle.append((conn, time.monotonic()))
                    conn = None
        for stale in expired:
            stale.close()
        if conn is not None:
            conn.close()

    # --- httpx.BaseTransport ----------------------------------------------------------
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        answer, content = self._exchange((url.scheme, url.host, url.port), request.method,
                                         url.raw_path.decode("ascii"), request.headers.raw, request.read(),
                                         request.extensions.get("timeout", {}))
        return httpx.Response(
            answer.status, headers=answer.msg.items(), stream=httpx.ByteStream(content),
            extensions={"http_version": b"HTTP/1.1" if answer.version == 11 else b"HTTP/1.0",
                        "reason_phrase": answer.reason.encode("ascii", "replace")})

    def request(self, method: str, url: str, *, headers=(), body: bytes | None = None,
                timeout: float | None = None) -> Answer:
        """One request over the same pool, limits and failures (httpx's
        classes) as a request through httpx, without httpx's URL, Request and
        Response objects, which cost ~70 µs a call, more than the exchange
        itself: for the FIRS client (four calls a live sale) and the
        sandboxes' webhook deliveries. Sends what `httpx.Request` would for
        the same arguments, in its order: Host, `headers`, the body's
        Content-Length (a POST, PUT or PATCH without one: Host, Content-Length
        0, `headers`). The answer's body has its Content-Encoding undone, as
        httpx's `Response.content`."""
        parts = urlsplit(url)
        if body:
            sent = [("Host", parts.netloc), *headers, ("Content-Length", str(len(body)))]
        elif method in _BODY_METHODS:
            sent = [("Host", parts.netloc), ("Content-Length", "0"), *headers]
        else:
            sent = [("Host", parts.netloc), *headers]
        target = urlunsplit(("", "", parts.path or "/", parts.query, ""))
        timeouts = dict.fromkeys(("connect", "read", "write", "pool"), timeout)
        answer, content = self._exchange((parts.scheme, parts.hostname, parts.port), method, target, sent, body,
                                         timeouts)
        headers = answer.msg.items()
        if any(name.lower() == "content-encoding" for name, _ in headers):
            # Rare (nothing asks for it): httpx's own decoders, as handle_request's callers get.
            content = httpx.Response(answer.status, headers=headers, stream=httpx.ByteStream(content)).read()
        return Answer(answer.status, headers, content)

    def _exchange(self, origin: tuple, method: str, target: str, headers, body: bytes, timeouts: dict):
        """One request and its answer on a pooled connection to `origin`,
        within `max_connections`: (the http.client response, its body)."""
        if self._slots is not None and not self._slots.acquire(timeout=_seconds(timeouts.get("pool"))):
            raise httpx.PoolTimeout("no connection was free within the pool timeout")
        try:
            return self._send(origin, method, target, headers, body, timeouts)
        finally:
            if self._slots is not None:
                self._slots.release()

    def _send(self, origin: tuple, method: str, target: str, headers, body: bytes, timeouts: dict):
        conn = self._idle_connection(origin) or self._new_connection(*origin, timeouts.get("connect"))
        try:
            conn.sock.settimeout(timeouts.get("write"))
            try:
                conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    conn.putheader(name, value)
                conn.endheaders(body or None)
            except (TimeoutError, socket.timeout) as exc:
                raise httpx.WriteTimeout(str(exc) or "timed out sending") from exc
            except OSError as exc:
                raise httpx.WriteError(str(exc)) from exc
            conn.sock.settimeout(timeouts.get("read"))
            try:
                answer = conn.getresponse()
                content = answer.read()
            except (TimeoutError, socket.timeout) as exc:
                raise httpx.ReadTimeout(str(exc) or "timed out reading") from exc
            except http.client.RemoteDisconnected as exc:
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.") from exc
            except http.client.HTTPException as exc:
                raise httpx.RemoteProtocolError(f"{type(exc).__name__}: {exc}") from exc
            except OSError as exc:
                raise httpx.ReadError(str(exc)) from exc
        except BaseException:
            conn.close()
            raise
        self._release(origin, conn, reusable=not answer.will_close)
        return answer, content

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn, _ in conns:
                conn.close()


def _forget_inherited_connections() -> None:
    # In the child only. Its copies of the parent's connections are dropped
    # unused: nothing is sent on them, and closing a copy (when collected)
    # leaves the parent's socket open.
    for transport in list(_every_transport):
        transport._lock = threading.Lock()
        transport._idle = {}
        transport._slots = transport._new_slots()  # a parent's thread may have held some


os.register_at_fork(after_in_child=_forget_inherited_connections)


def _seconds(timeout):
    # threading's acquire takes -1 for "wait forever"; httpx says None.
    return -1 if timeout is None else timeout
