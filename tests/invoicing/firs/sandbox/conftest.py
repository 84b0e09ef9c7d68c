"""A stand-in for the buyer's endpoint that the FIRS sandbox posts its
transmit webhooks ({irn, message}) to."""
import json
import threading

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@pytest.fixture
def webhook_receiver():
    received = []

    def app(environ, start_response):
        received.append(json.loads(Request(environ).get_data()))
        return Response("ok")(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/firs/webhook", received
    server.shutdown()
    server.server_close()
