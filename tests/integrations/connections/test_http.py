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


def _masked(value):
    """The oracle: every secret-looking key's (truthy) value masked, all the way down."""
    if isinstance(value, dict):
        return {k: "***" if v and http.SECRET_KEYS.search(k) else _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


@pytest.mark.parametrize("limit", [1, 7, 60, 10_000, 200_000])
def test_the_logged_body_is_the_masked_json_cut_at_the_limit(limit):
    page = {"orders": [{"id": f"O{i}", "access_token": f"tok-{i}", "line_items": [
        {"name": "Jollof \u00e9 \"rice\"", "quantity": "2", "price": 1.5, "ok": True, "none": None}],
        "nested": {"client_secret": "", "refresh_token": ["x"], "Code": 7}} for i in range(300)],
        "cursor": "c1", "code": "auth-code"}
    expected = json.dumps(_masked(page))
    assert len(expected) > 60_000
    assert http.masked_json_prefix(page, limit) == expected[:limit]
    assert "tok-" not in http.masked_json_prefix(page, 200_000)
    assert json.dumps(http.mask(page)) == expected
    # The recorder keeps the same text whichever way a body's size sends it.
    small = {"orders": page["orders"][:2], "code": "auth-code"}
    for document in (small, page):
        content = json.dumps(document).encode()
        assert http._body_text(content, "application/json") == json.dumps(_masked(document))[:http.MAX_LOGGED_BODY]
