"""A stand-in for the buyer's endpoint that the FIRS sandbox posts its
transmit webhooks ({irn, message}) to."""
import json

import pytest
from werkzeug.wrappers import Request, Response

from taxpoynt import sandboxing


@pytest.fixture
def webhook_receiver():
    received = []

    def app(environ, start_response):
        received.append(json.loads(Request(environ).get_data()))
        return Response("ok")(environ, start_response)

    running = sandboxing.serve(app, host="127.0.0.1", port=0, name="firs-webhook-receiver")
    yield f"{running.url}/firs/webhook", received
    running.stop()
