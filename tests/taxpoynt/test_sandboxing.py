"""The sandbox server (taxpoynt/sandboxing.py): keeps connections alive as the
real vendors and FIRS do, reports a taken port, and never holds the process
open when nobody stopped it."""
import http.client
import subprocess
import sys

import pytest

from taxpoynt import sandboxing


@pytest.fixture
def square():
    running = sandboxing.start("square", port=0)
    yield running
    running.stop()
    running.app.sandbox.close()


def test_one_connection_carries_many_requests(square):
    host, port = square.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    sockets = []
    for _ in range(3):
        conn.request("GET", "/_sandbox/state")
        response = conn.getresponse()
        response.read()
        assert response.status == 200
        assert response.getheader("Connection", "").lower() != "close"
        sockets.append(conn.sock)
    assert sockets[0] is not None and sockets.count(sockets[0]) == 3  # never reconnected
    conn.close()


def test_many_clients_connections_are_all_kept_alive(square):
    """A worker process sends a step's ten requests at once, and several
    processes do: every connection stays open (cheroot's own default keeps
    ten and answers `Connection: close` beyond them)."""
    host, port = square.url.removeprefix("http://").split(":")
    conns = [http.client.HTTPConnection(host, int(port), timeout=5) for _ in range(40)]
    for _ in range(2):
        for conn in conns:  # every one open at once, then each asked again
            conn.request("GET", "/_sandbox/state")
            response = conn.getresponse()
            response.read()
            assert response.status == 200
            assert response.getheader("Connection", "").lower() != "close"
    assert all(conn.sock is not None for conn in conns)
    for conn in conns:
        conn.close()


def test_a_taken_port_is_an_error(square):
    with pytest.raises(OSError, match="Address already in use"):
        sandboxing.start("firs", port=int(square.url.rsplit(":", 1)[1]))


def test_a_sandbox_nobody_stopped_does_not_keep_the_process_alive(settings):
    script = ("import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'taxpoynt.settings'); "
              "django.setup(); from taxpoynt import sandboxing; import httpx; "
              "s = sandboxing.start('square', port=0); print(httpx.get(s.url + '/_sandbox/state').status_code)")
    done = subprocess.run([sys.executable, "-c", script], cwd=settings.BASE_DIR, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("200")


# --- the server's speed cuts answer exactly what cheroot answers -----------------

class _ScriptedSocket:
    """A socket whose reads return `chunks` one at a time (as recv returns
    what has arrived so far), then end of stream: the reader's buffer holds
    the same bytes at every call whichever reader reads it."""

    def __init__(self, chunks: list[bytes]):
        self.chunks = list(chunks)

    def recv_into(self, buffer, nbytes=0):
        if not self.chunks:
            return 0
        chunk = self.chunks.pop(0)
        taken, rest = chunk[:len(buffer)], chunk[len(buffer):]
        if rest:
            self.chunks.insert(0, rest)
        buffer[:len(taken)] = taken
        return len(taken)

    def _decref_socketios(self):
        pass


def _readlines(reader_class, chunks: list[bytes], sizes: list, *, bufsize: int) -> tuple[list[bytes], int]:
    """What successive readline(size) calls return from `reader_class` over
    a stream arriving in `chunks`, then what is left, and the byte count."""
    reader = reader_class(_ScriptedSocket(chunks), "rb", bufsize)
    lines = [reader.readline(size) for size in sizes]
    lines.append(reader.read())
    return lines, reader.bytes_read


def test_the_servers_readline_returns_what_cheroots_own_returns():
    """Pure speed cut (sandboxing._StreamReader): lines the buffer holds,
    lines across the buffer's edge, size limits inside, at and past a line,
    size 0 and None, an unterminated tail: every call the same as cheroot's
    (_pyio's) readline, and the same byte count."""
    import random

    from cheroot import makefile

    rng = random.Random(7)
    for case in range(60):
        text = b"".join(rng.choice([b"GET / HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n", b"\n", b"a" * rng.randint(1, 90),
                                    b"X-Long: " + b"b" * rng.randint(100, 400) + b"\r\n"]) for _ in range(40))
        cuts = sorted(rng.sample(range(1, len(text)), 5))
        chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
        sizes = [rng.choice([-1, None, 0, 1, 5, 16, 64, 256, 1000]) for _ in range(50)]
        bufsize = rng.choice([64, 256, 8192])
        expected = _readlines(makefile.StreamReader, chunks, sizes, bufsize=bufsize)
        assert _readlines(sandboxing._StreamReader, chunks, sizes, bufsize=bufsize) == expected, case


def _raw_exchange(url: str, request: bytes) -> bytes:
    """Everything the server sends back for `request` until it closes the
    connection (each request ends with `Connection: close`), Date headers
    blanked."""
    import re
    import socket

    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return re.sub(rb"Date: [^\r]*\r\n", b"Date: -\r\n", received)


def _echo_app(environ, start_response):
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    if environ["PATH_INFO"] == "/stream":  # no Content-Length: sent chunked
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"one ", b"", b"two ", body]
    answer = b"%s %s %s %s" % (environ["REQUEST_METHOD"].encode(), environ["PATH_INFO"].encode(),
                                environ.get("HTTP_X_TAG", "").encode(), body)
    start_response("201 Created", [("Content-Type", "text/plain"), ("Content-Length", str(len(answer)))])
    return [answer]


def test_the_server_answers_byte_for_byte_what_plain_cheroot_answers():
    """Pure speed cuts (sandboxing's reader and writer): the same raw bytes
    back, Date aside, as cheroot's own server for keep-alive requests in a
    row, pipelined ones, bodies, a streamed (chunked) answer, a header line
    longer than a buffer, and requests cheroot refuses."""
    import threading

    from cheroot import wsgi

    plain = wsgi.Server(("127.0.0.1", 0), _echo_app, numthreads=2, server_name="x-sandbox")
    plain.keep_alive_conn_limit = sandboxing.KEEP_ALIVE_CONNECTIONS
    plain.prepare()
    threading.Thread(target=plain.serve, daemon=True).start()
    ours = sandboxing.serve(_echo_app, host="127.0.0.1", port=0, name="x")
    close = b"Connection: close\r\n"
    requests = [
        b"GET /a HTTP/1.1\r\nHost: h\r\n" + close + b"\r\n",
        b"GET /a HTTP/1.1\r\nHost: h\r\nX-Tag: 1\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
        b"X-Tag: 2\r\n\r\nhello" b"GET /c HTTP/1.1\r\nHost: h\r\n" + close + b"\r\n",
        b"POST /stream HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n" + close + b"\r\nabc",
        b"GET /d HTTP/1.1\r\nHost: h\r\nX-Tag: " + b"t" * 20000 + b"\r\n" + close + b"\r\n",
        b"GET /e HTTP/1.1\r\nHost: h\r\nX-Tag: " + b"t" * 200000 + b"\r\n" + close + b"\r\n",
        b"GET /f HTTP/1.1\nHost: h\n\n",
        b"\r\nGET /g HTTP/1.0\r\n\r\n",
        b"BOGUS\r\n\r\n",
    ]
    try:
        for request in requests:
            expected = _raw_exchange(f"http://127.0.0.1:{plain.bind_addr[1]}", request)
            assert _raw_exchange(ours.url, request) == expected, request[:40]
    finally:
        ours.stop()
        plain.stop()


def test_an_answer_leaves_in_one_send(monkeypatch):
    """Pure speed cut (sandboxing._StreamWriter, held by _Request): cheroot
    wrote the headers, each body chunk and a chunked answer's last chunk
    with a send each; now one send an answer (what is sent is pinned above)."""
    import socket

    sends = []
    original = socket.SocketIO.write

    def counted(self, data):
        sends.append(bytes(data))
        return original(self, data)

    monkeypatch.setattr(socket.SocketIO, "write", counted)
    running = sandboxing.serve(_echo_app, host="127.0.0.1", port=0, name="x")
    try:
        host, port = running.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        for method, path in (("POST", "/a"), ("POST", "/stream"), ("GET", "/b")):
            sends.clear()
            conn.request(method, path, body=b"xyz" if method == "POST" else None)
            response = conn.getresponse()
            body = response.read()
            assert len(sends) == 1, sends
            assert sends[0].startswith(b"HTTP/1.1 201 " if path != "/stream" else b"HTTP/1.1 200 OK")
            assert sends[0].endswith(b"0\r\n\r\n" if path == "/stream" else body)
        conn.close()
    finally:
        running.stop()
