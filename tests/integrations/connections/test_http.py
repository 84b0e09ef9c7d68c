"""The shared recorder of vendor traffic (integrations/connections/http.py):
every exchange a VendorExchange row, secrets masked, failures included, over
real sockets to a local WSGI server."""
import json
import socket

import httpx
import pytest
from werkzeug.wrappers import Request, Response

from integrations.connections import http
from integrations.connections.http import CONNECTION, recording_client
from integrations.connections.models import VendorExchange
from taxpoynt import sandboxing
from tests import factories


SEEN_AUTHORIZATION: list[str] = []


@Request.application
def token_server(request):
    if request.path == "/oauth/token":
        body = json.loads(request.get_data())
        return Response(json.dumps({"access_token": "AT-" + body["code"], "refresh_token": "RT-secret",
                                    "merchant_id": "M1"}), content_type="application/json")
    SEEN_AUTHORIZATION.append(request.headers.get("Authorization", ""))
    return Response(json.dumps({"locations": []}), content_type="application/json")


@pytest.fixture
def server():
    running = sandboxing.serve(token_server, host="127.0.0.1", port=0, name="token-server")
    yield running.url
    running.stop()


@pytest.mark.django_db
def test_every_exchange_is_recorded_with_secrets_masked(server, make_org):
    conn = factories.connection(make_org(), vendor="square", kind="pos")
    with recording_client(vendor="square", connection=conn) as http:
        answer = http.post(server + "/oauth/token", json={"code": "auth-code-123", "client_secret": "cs-1",
                                                         "grant_type": "authorization_code"})
        assert answer.json()["access_token"] == "AT-auth-code-123"  # the caller still reads the body
    row = VendorExchange.objects.get()
    assert (row.vendor, row.method, row.status_code, row.connection_id, row.organization_id) == (
        "square", "POST", 200, conn.pk, conn.organization_id)
    assert row.url == server + "/oauth/token" and row.latency_ms is not None
    for secret in ("auth-code-123", "cs-1", "AT-auth-code-123", "RT-secret"):
        assert secret not in row.request_body + row.response_body
    assert json.loads(row.request_body)["grant_type"] == "authorization_code"
    assert json.loads(row.response_body)["merchant_id"] == "M1"


@pytest.mark.django_db
def test_a_shared_pool_names_each_requests_connection_and_never_stores_the_bearer(server, make_org):
    first, second = (factories.connection(make_org(), vendor="square", kind="pos") for _ in range(2))
    with recording_client(vendor="square") as pool:
        for conn in (first, second):
            pool.get(server + "/v2/locations", headers={"Authorization": "Bearer tok-xyz"},
                     extensions={CONNECTION: conn})
    rows = list(VendorExchange.objects.order_by("id"))
    assert [r.connection_id for r in rows] == [first.pk, second.pk]
    assert [r.organization_id for r in rows] == [first.organization_id, second.organization_id]
    assert SEEN_AUTHORIZATION[-2:] == ["Bearer tok-xyz"] * 2  # sent, but never stored
    assert all("tok-xyz" not in r.url + r.request_body + r.response_body for r in rows)


@pytest.mark.django_db(transaction=True)
def test_exchanges_written_together_are_one_insert_at_the_end_even_of_a_failed_run(server, make_org):
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    first, second = (factories.connection(make_org(), vendor="square", kind="pos") for _ in range(2))
    with recording_client(vendor="square") as pool, CaptureQueriesContext(db) as queries:
        with pytest.raises(RuntimeError), http.exchanges_written_together():
            for conn in (first, second):
                with http.exchanges_written_together():  # nested: the outer one writes
                    pool.get(server + "/v2/locations", extensions={CONNECTION: conn})
            assert not VendorExchange.objects.exists()  # kept until the run ends
            raise RuntimeError("the run fails after its calls")
    inserts = [q["sql"] for q in queries.captured_queries if "INSERT" in q["sql"]]
    assert len(inserts) == 1 and "connections_vendorexchange" in inserts[0]
    rows = list(VendorExchange.objects.order_by("id"))
    assert [r.connection_id for r in rows] == [first.pk, second.pk] and all(r.status_code == 200 for r in rows)
    # Outside a run: each at once, as before.
    with recording_client(vendor="square", connection=first) as client:
        client.get(server + "/v2/locations")
        assert VendorExchange.objects.count() == 3


@pytest.mark.django_db
def test_a_transport_failure_is_recorded_and_still_raised(make_org):
    conn = factories.connection(make_org(), vendor="square", kind="pos")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/v2/orders/o1"
    with recording_client(vendor="square", connection=conn, timeout=1) as http:
        with pytest.raises(httpx.ConnectError):
            http.get(dead)
    row = VendorExchange.objects.get()
    assert row.status_code is None and row.error.startswith("transport:") and row.url == dead


def test_the_recorder_keeps_a_body_whole_unless_a_secret_is_masked():
    plain = b'{"orders":[{"id":"O1","note":"no secrets here"}]}'
    assert http._body_text(plain, "application/json") == plain.decode()
    with_secret = b'{"access_token":"tok-1","merchant_id":"M1"}'
    assert http._body_text(with_secret, "application/json") == '{"access_token": "***", "merchant_id": "M1"}'
    big = json.dumps({"orders": [{"id": f"O{i}", "note": "x" * 50} for i in range(1000)]}).encode()
    assert http._body_text(big, "application/json") == big[:http.MAX_LOGGED_BODY].decode()
    assert http._body_text(b"code=abc&state=s", "application/x-www-form-urlencoded") == "code=%2A%2A%2A&state=s"
    assert http._body_text(b"\xff{not json", "application/json") == "\ufffd{not json"
