"""Fixtures for the Salesforce tests: the sandbox served over a real socket,
an RSA key pair with a self-signed certificate for the JWT bearer flow, and a
local outbound-message listener."""

import pytest
from werkzeug.wrappers import Request, Response

from integrations.crm.salesforce import outbound
from taxpoynt import sandboxing

from .support import SEED, key_and_cert


@pytest.fixture(scope="session")
def jwt_keys():
    """(private key PEM, certificate PEM) of the connected app."""
    return key_and_cert()


@pytest.fixture(scope="session")
def other_jwt_keys():
    return key_and_cert("someone-else")


@pytest.fixture
def salesforce(jwt_keys):
    """The sandbox on a free port, with the JWT certificate configured and the
    outbound sender in manual mode (tests drive deliveries)."""
    running = sandboxing.start("salesforce", host="127.0.0.1", port=0, batch_size=3, outbound_auto=False,
                               outbound_first_interval=0.05, outbound_max_interval=0.2, outbound_window=1.0,
                               outbound_timeout=5)
    running.app.sandbox.configure_app(certificate_pem=jwt_keys[1].decode())
    yield running
    running.app.sandbox.outbound.stop()
    running.stop()


class Listener:
    """A TaxPoynt-side outbound-message listener using outbound.py; `mode`
    "ack" answers Ack true, "nack" Ack false, "error" HTTP 500."""

    def __init__(self, expected_org_id):
        self.expected_org_id = expected_org_id
        self.mode = "ack"
        self.received = []  # (org id, notifications)
        self.rejected = []  # reasons
        self.running = sandboxing.serve(self.app, host="127.0.0.1", port=0, name="salesforce-outbound-listener")
        self.url = f"{self.running.url}/outbound"

    @Request.application
    def app(self, request):
        if self.mode == "error":
            return Response("boom", status=500)
        try:
            org_id, notifications = outbound.parse(request.get_data(), expected_org_id=self.expected_org_id)
        except outbound.OutboundMessageError as exc:
            self.rejected.append(exc.reason)
            return Response(outbound.ack_response(False), status=400, content_type=outbound.ACK_CONTENT_TYPE)
        self.received.append((org_id, notifications))
        return Response(outbound.ack_response(self.mode == "ack"), content_type=outbound.ACK_CONTENT_TYPE)

    def stop(self):
        self.running.stop()


@pytest.fixture
def listener(salesforce):
    found = Listener(salesforce.app.sandbox.store.org_id)
    salesforce.app.sandbox.configure_outbound(url=found.url)
    yield found
    found.stop()


@pytest.fixture
def seeded(salesforce):
    return salesforce.app.sandbox.seed(**SEED)


@pytest.fixture
def token(salesforce):
    """An access token issued the way the code flow issues one."""
    store = salesforce.app.sandbox.store
    return store.issue_tokens(username=store.username, client_id=store.app.consumer_key, scope="api refresh_token",
                              with_refresh=True)
