"""Running the local vendor and FIRS sandboxes.

Each sandbox is a WSGI app in its vendor's package (`<package>/sandbox/app.py`,
function `create_app(**options)`), speaking that vendor's documented protocol.
This module knows only the registry below; it serves any of them on a port
for `manage.py sandboxes`, `make demo`, the tests and the benches. Production
never runs these: settings point at the real hosts.

The server is cheroot's (a thread pool, HTTP/1.1 keep-alive), not werkzeug's
development server, which closes every connection after one answer: the real
vendors and FIRS keep connections alive, so our pooled clients must meet
reuse, idle closes and stale connections here too (and a sale's five calls
then cost no TCP handshakes). Its environ also carries `sandbox.socket`, the
connection's socket, for sandboxes that simulate a dropped connection.
"""
import importlib
import importlib.util
import threading
from dataclasses import dataclass

from django.conf import settings
from cheroot import makefile as cheroot_makefile, server as cheroot_server, wsgi

# name → "module:factory"; a sandbox is served once its module exists.
KNOWN_SANDBOXES = (
    ("firs", "invoicing.firs.sandbox.app:create_app"),
    ("hubspot", "integrations.crm.hubspot.sandbox.app:create_app"),
    ("salesforce", "integrations.crm.salesforce.sandbox.app:create_app"),
    ("pipedrive", "integrations.crm.pipedrive.sandbox.app:create_app"),
    ("square", "integrations.pos.square.sandbox.app:create_app"),
    ("toast", "integrations.pos.toast.sandbox.app:create_app"),
    ("lightspeed", "integrations.pos.lightspeed.sandbox.app:create_app"),
    ("odoo", "integrations.erp.odoo.sandbox.app:create_app"),
)
SANDBOX_APPS: dict[str, str] = {}


def _load_registry():
    """Register every sandbox whose module exists in this checkout."""
    for name, path in KNOWN_SANDBOXES:
        try:
            found = importlib.util.find_spec(path.split(":")[0]) is not None
        except ModuleNotFoundError:
            found = False
        if found:
            SANDBOX_APPS.setdefault(name, path)
    return SANDBOX_APPS


def available() -> dict[str, str]:
    return dict(_load_registry())


@dataclass
class RunningSandbox:
    name: str
    url: str
    app: object
    server: object
    thread: threading.Thread

    def stop(self):
        self.server.stop()
        self.thread.join(timeout=5)


def create_app(name: str, **options):
    path = available()[name]
    module_name, factory = path.split(":")
    return getattr(importlib.import_module(module_name), factory)(**options)


# Threads answering at once (idle keep-alive connections hold none). An
# emulated latency holds a thread for its length, so this caps the rate:
# 100 sales/s with FIRS answering in 150 ms keep 60 requests in flight
# (four a sale), more in bursts; 32 capped the bench at ~50 sales/s.
SERVER_THREADS = 128
# Connections kept alive at once. cheroot's default (10) answers
# `Connection: close` beyond it, so a worker whose step sends ten requests
# at once made a new TCP connection for most of them (the real hosts, behind
# their load balancers, keep each client's connections).
KEEP_ALIVE_CONNECTIONS = 1024


class _StreamReader(cheroot_makefile.StreamReader):
    """cheroot's socket reader with a readline that takes a line the buffer
    already holds in one C-speed search. cheroot reads the request line and
    each header with readline, and the inherited one (_pyio's, pure Python)
    goes through peek() and read() and a bytearray for every line, ~30% of
    cheroot's own CPU a request. Anything else (a line not yet in the
    buffer, reads) is the inherited code; what each call returns is the
    same (tests/taxpoynt/test_sandboxing.py checks it against _pyio's)."""

    def readline(self, size=-1):
        if size is None:
            size = -1
        with self._read_lock:
            buf, start = self._read_buf, self._read_pos
            stop = len(buf) if size < 0 else min(len(buf), start + size)
            newline = buf.find(b"\n", start, stop)
            if newline >= 0:
                stop = newline + 1
            elif size < 0 or stop - start < size:
                stop = start  # the line goes on past the buffer
            if stop > start:
                self._read_pos = stop
                self.bytes_read += stop - start
                return buf[start:stop]
        return super().readline(size)


class _StreamWriter(cheroot_makefile.StreamWriter):
    """cheroot's socket writer, which sends each write at once, plus a hold:
    while `held`, writes gather, and `release()` sends them together. cheroot
    writes an answer's headers and its body apart, two sends (and two TCP
    segments for the client to take in) where one does; _Request holds the
    writer for the answer."""

    held = False

    def write(self, b):
        if not self.held:
            return super().write(b)
        with self._write_lock:
            self._write_buf.extend(b)
        self.bytes_written += len(b)
        return len(b)

    def release(self):
        self.held = False
        with self._write_lock:
            self._flush_unlocked()


def _makefile(sock, mode="r", bufsize=cheroot_makefile.io.DEFAULT_BUFFER_SIZE):
    return (_StreamReader if "r" in mode else _StreamWriter)(sock, mode, bufsize)


class _Request(cheroot_server.HTTPRequest):
    """cheroot's request, its answer (headers, body, a chunked answer's last
    chunk) sent in one go: the writer is held while it is written."""

    def respond(self):
        writer = self.conn.wfile
        if not isinstance(writer, _StreamWriter):
            return super().respond()
        writer.held = True
        try:
            return super().respond()
        finally:
            writer.release()


class _Connection(cheroot_server.HTTPConnection):
    """cheroot's connection over a plain socket, through _StreamReader and
    _StreamWriter, answering with _Request."""

    RequestHandlerClass = _Request

    def __init__(self, server, sock, makefile=cheroot_makefile.MakeFile):
        super().__init__(server, sock, _makefile if makefile is cheroot_makefile.MakeFile else makefile)


class _Gateway(wsgi.Gateway_10):
    """WSGI 1.0 plus `sandbox.socket` in the environ."""

    def get_environ(self):
        environ = super().get_environ()
        environ["sandbox.socket"] = self.req.conn.socket
        return environ


def serve(app, *, host: str, port: int, name: str = "local") -> RunningSandbox:
    """Serve any WSGI `app` in a background thread (port 0 picks a free one):
    the sandboxes, and the tests' stand-ins for the endpoints they post to."""
    server = wsgi.Server((host, port), app, numthreads=SERVER_THREADS, server_name=f"{name}-sandbox")
    server.gateway = _Gateway
    server.ConnectionClass = _Connection
    server.keep_alive_conn_limit = KEEP_ALIVE_CONNECTIONS
    prepared = threading.Event()
    failure: list[BaseException] = []

    def run():
        # Bound and its pool started here, in a daemon thread, so that the
        # pool's threads are daemons too (threads inherit it): a server
        # nobody stopped never keeps the process from exiting.
        try:
            server.prepare()
        except BaseException as exc:  # a taken port: raised by serve() below
            failure.append(exc)
            return
        finally:
            prepared.set()
        server.serve()

    thread = threading.Thread(target=run, name=f"sandbox-{name}", daemon=True)
    thread.start()
    prepared.wait()
    if failure:
        raise failure[0]
    return RunningSandbox(name=name, url=f"http://{host}:{server.bind_addr[1]}", app=app, server=server,
                          thread=thread)


def start(name: str, *, host: str | None = None, port: int | None = None, **options) -> RunningSandbox:
    """Serve sandbox `name` in a background thread; port 0 picks a free one."""
    running = serve(create_app(name, **options), host=host or settings.SANDBOX_HOST,
                    port=settings.SANDBOX_PORTS[name] if port is None else port, name=name)
    if hasattr(running.app, "set_base_url"):
        running.app.set_base_url(running.url)
    return running
