"""The httpx transport over http.client (taxpoynt/transport.py), against real
servers on real sockets: cheroot (the sandboxes' server) for the ordinary
exchanges, and a raw socket server for what a well-behaved server never does."""
import gzip
import socket
import threading
import time

import httpx
import pytest

from taxpoynt import sandboxing
from taxpoynt.transport import KeepAliveTransport


def echo_app(environ, start_response):
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    path = environ["PATH_INFO"]
    if path == "/slow":
        time.sleep(float(environ["QUERY_STRING"]))
    if path == "/gzip":
        payload = gzip.compress(b"squeezed " * 50)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Encoding", "gzip"),
                                  ("Content-Length", str(len(payload)))])
        return [payload]
    if path == "/chunked":  # no Content-Length: cheroot sends it chunked
        start_response("200 OK", [("Content-Type", "text/plain"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
        return [b"one,", b"two,", b"three"]
    answer = (f"{environ['REQUEST_METHOD']} {path}?{environ.get('QUERY_STRING', '')} "
              f"port={environ['REMOTE_PORT']} x-test={environ.get('HTTP_X_TEST', '')} body=").encode() + body
    start_response("201 Created", [("Content-Type", "text/plain"), ("Content-Length", str(len(answer)))])
    return [answer]


@pytest.fixture
def cheroot_server():
    running = sandboxing.serve(echo_app, host="127.0.0.1", port=0, name="transport-test")
    yield running.url
    running.stop()


class RawServer:
    """Accepts connections and hands each to `handle(conn, server)` in a thread;
    counts connections and requests received."""

    def __init__(self, handle):
        self.handle = handle
        self.connections = 0
        self.requests = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self.handle, args=(conn, self), daemon=True).start()

    def read_request(self, conn) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return b""
            data += chunk
        self.requests += 1
        return data

    def close(self):
        self.sock.close()


OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


@pytest.fixture
def raw_server():
    servers = []

    def start(handle):
        servers.append(RawServer(handle))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_requests_share_one_kept_connection(cheroot_server):
    with httpx.Client(transport=KeepAliveTransport(), base_url=cheroot_server) as client:
        first = client.post("/things", params={"a": "1 2", "b": "x"}, content=b"hello",
                            headers={"X-Test": "yes"})
        second = client.get("/other")
    assert first.status_code == 201
    assert first.reason_phrase == "Created"
    assert first.http_version == "HTTP/1.1"
    text, port = first.text.split(" port=")
    assert text == "POST /things?a=1+2&b=x"
    assert port.endswith("x-test=yes body=hello")
    assert second.text.startswith("GET /other? port=")
    # The server saw both requests arrive from the same client port: one connection.
    assert first.text.split("port=")[1].split()[0] == second.text.split("port=")[1].split()[0]


def test_a_request_without_httpx_objects_shares_the_pool_and_its_failures(cheroot_server):
    """`request` (the FIRS client, the sandboxes' webhook deliveries) goes
    over the same kept connections as requests through httpx, and fails as
    they do."""
    transport = KeepAliveTransport()
    with httpx.Client(transport=transport, base_url=cheroot_server) as client:
        first = client.get("/first")
        answer = transport.request("POST", f"{cheroot_server}/hook?x=1", headers=[("X-Test", "yes")],
                                   body=b'{"irn": "I"}', timeout=5.0)
        last = client.get("/last")
    assert answer.status == 201 and answer.header("content-type") == "text/plain"
    assert answer.content.startswith(b"POST /hook?x=1 ") and answer.content.endswith(b'x-test=yes body={"irn": "I"}')
    ports = {text.split("port=")[1].split()[0] for text in (first.text, last.text, answer.content.decode())}
    assert len(ports) == 1  # the request in between took the idle connection and gave it back
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(httpx.ConnectError):
        transport.request("POST", f"http://127.0.0.1:{port}/hook", body=b"{}", timeout=5.0)
    with pytest.raises(httpx.UnsupportedProtocol):
        transport.request("POST", "ftp://127.0.0.1/hook", body=b"{}", timeout=5.0)
    with pytest.raises(httpx.ReadTimeout):
        transport.request("GET", f"{cheroot_server}/slow?1", timeout=0.2)


@pytest.mark.parametrize("method, body", [("POST", b'{"a": 1}'), ("POST", None), ("PATCH", b""),
                                          ("GET", None), ("PUT", None)])
def test_a_request_sends_the_bytes_httpx_sends(raw_server, method, body):
    seen = []

    def handle(conn, server):
        with conn:
            while request := server.read_request(conn):
                seen.append(request)
                conn.sendall(OK)

    server = raw_server(handle)
    headers = [("x-api-key", "k"), ("accept", "application/json")]
    transport = KeepAliveTransport()
    answer = transport.request(method, f"{server.url}/invoice/sign?a=1", headers=headers, body=body, timeout=5.0)
    through_httpx = transport.handle_request(httpx.Request(method, f"{server.url}/invoice/sign?a=1",
                                                           headers=headers, content=body))
    assert (answer.status, answer.content) == (through_httpx.status_code, through_httpx.read()) == (200, b"ok")
    heads = [request.split(b"\r\n\r\n")[0] for request in seen]  # a body may come in a later read
    assert heads[0] == heads[1] and heads[0].startswith(f"{method} /invoice/sign?a=1 HTTP/1.1\r\nHost: ".encode())


def test_a_request_undoes_the_content_encoding_and_reads_chunks(cheroot_server):
    transport = KeepAliveTransport()
    squeezed = transport.request("GET", f"{cheroot_server}/gzip", timeout=5.0)
    chunked = transport.request("GET", f"{cheroot_server}/chunked", timeout=5.0)
    assert squeezed.content == b"squeezed " * 50 and squeezed.header("Content-Encoding") == "gzip"
    assert chunked.content == b"one,two,three"
    assert [value for name, value in chunked.headers if name == "Set-Cookie"] == ["a=1", "b=2"]


def test_a_body_is_decoded_and_a_chunked_one_read_whole(cheroot_server):
    with httpx.Client(transport=KeepAliveTransport(), base_url=cheroot_server) as client:
        squeezed = client.get("/gzip")
        chunked = client.get("/chunked")
    assert squeezed.text == "squeezed " * 50
    assert chunked.text == "one,two,three"
    assert chunked.headers.get_list("set-cookie") == ["a=1", "b=2"]


def test_a_connection_the_server_closed_while_idle_is_replaced(raw_server):
    def one_answer_then_close(conn, server):  # keep-alive promised, then closed anyway
        server.read_request(conn)
        conn.sendall(OK)
        conn.close()

    server = raw_server(one_answer_then_close)
    transport = KeepAliveTransport()
    with httpx.Client(transport=transport, base_url=server.url) as client:
        assert client.get("/a").text == "ok"
        time.sleep(0.05)  # the server's FIN reaches the idle socket
        assert client.get("/b").text == "ok"
    assert (server.connections, server.requests) == (2, 2)


def test_a_connection_idle_past_its_expiry_is_replaced_before_the_server_closes_it(cheroot_server):
    """Servers close idle connections on a timer of their own, and a request
    written as the server closes is reset with no answer. So a connection
    idle longer than httpx's keepalive_expiry is not reused, one idle less
    is, and those left expired are closed when another is released."""
    transport = KeepAliveTransport(limits=httpx.Limits(keepalive_expiry=1.0))

    def port(client, path="/"):
        return client.get(path).text.split("port=")[1].split()[0]

    with httpx.Client(transport=transport, base_url=cheroot_server) as client:
        first = port(client)
        assert port(client) == first  # idle well within the expiry: kept
        time.sleep(1.3)
        assert port(client) != first  # past it: a new connection

        # Two idle connections, released 0.6 s apart; 1.2 s after the first,
        # the second (fresh) is reused and the first (expired) closed.
        ports = {}
        threads = [threading.Thread(target=lambda d: ports.setdefault(d, port(client, f"/slow?{d}")), args=(d,))
                   for d in (0.0, 0.6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert ports[0.0] != ports[0.6]
        (older, _), (newer, _) = transport._idle[("http", "127.0.0.1", int(cheroot_server.rsplit(":", 1)[1]))]
        time.sleep(0.6)
        assert port(client) == ports[0.6]
        assert older.sock is None and newer.sock is not None


def test_connection_close_is_not_kept(raw_server):
    def answer_close(conn, server):
        server.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
        conn.close()

    server = raw_server(answer_close)
    transport = KeepAliveTransport()
    with httpx.Client(transport=transport, base_url=server.url) as client:
        client.get("/a")
        client.get("/b")
    assert server.connections == 2


def test_no_answer_is_a_protocol_error_and_the_request_is_not_resent(raw_server):
    def close_without_answer(conn, server):
        server.read_request(conn)
        conn.close()

    server = raw_server(close_without_answer)
    with httpx.Client(transport=KeepAliveTransport(), base_url=server.url) as client:
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            client.post("/invoice/sign", content=b"{}")
    assert server.requests == 1


def test_a_slow_answer_is_a_read_timeout(raw_server):
    def slow(conn, server):
        server.read_request(conn)
        time.sleep(1)
        conn.close()

    server = raw_server(slow)
    with httpx.Client(transport=KeepAliveTransport(), base_url=server.url, timeout=0.2) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.get("/slow")


def test_nobody_listening_is_a_connect_error():
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with httpx.Client(transport=KeepAliveTransport()) as client:
        with pytest.raises(httpx.ConnectError):
            client.get(f"http://127.0.0.1:{port}/")


def test_a_full_pool_is_a_pool_timeout(raw_server):
    release = threading.Event()

    def held(conn, server):
        while server.read_request(conn):
            release.wait(5)
            conn.sendall(OK)

    server = raw_server(held)
    transport = KeepAliveTransport(limits=httpx.Limits(max_connections=1))
    client = httpx.Client(transport=transport, base_url=server.url, timeout=httpx.Timeout(5, pool=0.1))
    holder = threading.Thread(target=client.get, args=("/held",))
    holder.start()
    while server.requests == 0:
        time.sleep(0.01)
    with pytest.raises(httpx.PoolTimeout):
        client.get("/second")
    release.set()
    holder.join()
    assert client.get("/third").text == "ok"  # the slot came back
    client.close()


def test_a_forked_child_never_uses_its_parents_connections(cheroot_server):
    import os

    transport = KeepAliveTransport()
    client = httpx.Client(transport=transport, base_url=cheroot_server)
    parent_port = client.get("/parent").text.split("port=")[1].split()[0]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report the port its request came from
        try:
            os.write(write, client.get("/child").text.split("port=")[1].split()[0].encode())
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    child_port = os.read(read, 100).decode()
    assert child_port and child_port != parent_port  # a connection of its own
    # The parent's kept connection still works for the parent.
    assert client.get("/again").text.split("port=")[1].split()[0] == parent_port
    client.close()


# --- HTTPS: FIRS and every vendor are reached over TLS in production ----------------------
def _certificates(tmp_path):
    """A CA and a server certificate it signed for 127.0.0.1: (ca.pem, cert.pem, key.pem)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TaxPoynt test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
              .issuer_name(ca_name).public_key(server_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                             critical=False)
              .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
    paths = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return paths


@pytest.fixture
def tls_server(tmp_path):
    from cheroot import wsgi
    from cheroot.ssl.builtin import BuiltinSSLAdapter

    ca, cert, key = _certificates(tmp_path)
    server = wsgi.Server(("127.0.0.1", 0), echo_app, numthreads=4)
    server.ssl_adapter = BuiltinSSLAdapter(str(cert), str(key))
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.bind_addr[1]}", ca
    server.stop()


def test_https_is_verified_and_kept_alive(tls_server):
    import ssl

    url, ca = tls_server
    trusting = ssl.create_default_context(cafile=str(ca))
    with httpx.Client(transport=KeepAliveTransport(verify=trusting), base_url=url) as client:
        first, second = client.post("/sign", content=b"{}"), client.get("/confirm")
    assert first.status_code == 201 and first.text.endswith("body={}")
    assert first.text.split("port=")[1].split()[0] == second.text.split("port=")[1].split()[0]


def test_https_with_a_certificate_nobody_trusts_is_refused(tls_server):
    url, _ = tls_server
    # The default: the public CAs (certifi), which never signed the test CA.
    with httpx.Client(transport=KeepAliveTransport(), base_url=url) as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            client.get("/")


def test_https_to_a_name_the_certificate_does_not_carry_is_refused(tls_server):
    import ssl

    url, ca = tls_server
    trusting = ssl.create_default_context(cafile=str(ca))
    with httpx.Client(transport=KeepAliveTransport(verify=trusting)) as client:
        with pytest.raises(httpx.ConnectError, match="mismatch"):
            client.get(url.replace("127.0.0.1", "localhost") + "/")
