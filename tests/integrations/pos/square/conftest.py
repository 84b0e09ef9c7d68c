"""Fixtures for the Square tests: the sandbox served over a real socket, and a
webhook receiver (a real HTTP server) that records what Square's sender posts."""
import threading
import time

import pytest
from werkzeug.wrappers import Request, Response

from taxpoynt import sandboxing

REDIRECT_URI = "http://127.0.0.1:9/callback"


@pytest.fixture
def square():
    """The Square sandbox on a free port; webhook retry clock scaled ×1/10000."""
    running = sandboxing.start("square", port=0, time_scale=0.0001, seed=1234, redirect_uri=REDIRECT_URI)
    yield running
    running.stop()
    running.app.sandbox.close()


class Receiver:
    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []  # answered in order, then 200
        self.lock = threading.Lock()
        self.running = sandboxing.serve(self, host="127.0.0.1", port=0, name="square-webhook-receiver")
        self.url = f"{self.running.url}/webhooks/pos/square"

    def __call__(self, environ, start_response):
        request = Request(environ)
        with self.lock:
            status = self.statuses.pop(0) if self.statuses else 200
            self.requests.append({"path": request.full_path.rstrip("?"), "headers": dict(request.headers),
                                  "body": request.get_data(), "status": status})
        return Response("", status=status)(environ, start_response)

    def wait_for(self, n: int, timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= n:
                    return list(self.requests)
            time.sleep(0.01)
        with self.lock:
            raise AssertionError(f"expected {n} deliveries, got {len(self.requests)}")

    def stop(self):
        self.running.stop()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()
