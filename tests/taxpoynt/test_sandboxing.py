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
