"""Fixtures for the Salesforce tests: the sandbox served over a real socket,
an RSA key pair with a self-signed certificate for the JWT bearer flow, and a
local outbound-message listener."""
import datetime
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from integrations.crm.salesforce import outbound
from taxpoynt import sandboxing


def _key_and_cert(common_name="taxpoynt-jwt", san_ip=None):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=30)))
    if san_ip:
        import ipaddress
        # A self-signed server certificate the client trusts directly.
        builder = (builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(san_ip))]),
                                         critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True))
    cert = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="session")
def jwt_keys():
    """(private key PEM, certificate PEM) of the connected app."""
    return _key_and_cert()


@pytest.fixture(scope="session")
def other_jwt_keys():
    return _key_and_cert("someone-else")


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
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/outbound"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

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
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener(salesforce):
    found = Listener(salesforce.app.sandbox.store.org_id)
    salesforce.app.sandbox.configure_outbound(url=found.url)
    yield found
    found.stop()


SEED = {
    "accounts": [{"Name": "Dangote Industries Ltd", "BillingStreet": "1 Alfred Rewane Road", "BillingCity": "Lagos",
                  "BillingPostalCode": "101233", "BillingCountry": "Nigeria", "Phone": "+2348010000001",
                  "TIN__c": "12345678-0001"}],
    "products": [{"Name": "Consulting day", "ProductCode": "CONS-DAY", "UnitPrice": "250000.00"},
                 {"Name": "Software licence", "ProductCode": "LIC-001", "UnitPrice": "1200000.00"}],
    "opportunities": [
        {"Name": "ERP rollout", "account": 0, "StageName": "Negotiation/Review", "CloseDate": "2026-05-02",
         "line_items": [{"product": "CONS-DAY", "Quantity": "10", "UnitPrice": "250000.00", "Discount": "10"},
                        {"product": "LIC-001", "Quantity": "2", "UnitPrice": "1200000.00"}]},
    ],
}


@pytest.fixture
def seeded(salesforce):
    return salesforce.app.sandbox.seed(**SEED)


@pytest.fixture
def token(salesforce):
    """An access token issued the way the code flow issues one."""
    store = salesforce.app.sandbox.store
    return store.issue_tokens(username=store.username, client_id=store.app.consumer_key, scope="api refresh_token",
                              with_refresh=True)
