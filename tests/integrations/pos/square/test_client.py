"""The Square client (integrations/pos/square/client.py) against the sandbox
over real sockets."""
import json
import socket
from urllib.parse import parse_qs, urlparse

import httpx
import lxml.html
import pytest

from integrations.pos.square import constants
from integrations.pos.square.client import (
    RateLimited,
    SquareAuthError,
    SquareClient,
    SquareError,
    SquareNotFound,
    SquareOAuthClient,
    SquareRetryable,
    pkce_pair,
)
from taxpoynt import sandboxing

CLIENT_ID, CLIENT_SECRET = "demo-square-client-id", "demo-square-client-secret"


def press_allow(url: str) -> dict:
    """What the merchant's browser does on the consent page."""
    with httpx.Client() as http:
        page = http.get(url)
        form = lxml.html.fromstring(page.text).forms[0]
        data = dict(form.form_values(), decision="allow")
        resp = http.post(str(page.url.join(form.action)), data=data)
    return {k: v[0] for k, v in parse_qs(urlparse(resp.headers["location"]).query).items()}


@pytest.fixture
def oauth(square):
    with SquareOAuthClient(base_url=square.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as c:
        yield c


@pytest.fixture
def api(square):
    tok = square.app.sandbox.issue_token()
    with SquareClient(base_url=square.url, access_token=tok["access_token"]) as c:
        yield c


def test_code_flow_refresh_status_and_revoke(square, oauth):
    url = oauth.authorize_url(state="abc")
    q = parse_qs(urlparse(url).query)
    assert q["scope"] == ["ORDERS_READ PAYMENTS_READ MERCHANT_PROFILE_READ"] and q["session"] == ["false"]
    back = press_allow(url)
    assert back["state"] == "abc"
    tokens = oauth.exchange_code(code=back["code"])
    assert tokens.merchant_id == square.app.sandbox.default_merchant_id
    assert tokens.expires_at.tzinfo is not None and not tokens.short_lived
    refreshed = oauth.refresh(refresh_token=tokens.refresh_token)
    assert refreshed.refresh_token == tokens.refresh_token
    assert refreshed.access_token != tokens.access_token
    status = oauth.token_status(access_token=refreshed.access_token)
    assert status["client_id"] == CLIENT_ID
    assert oauth.revoke(merchant_id=tokens.merchant_id) is True
    with pytest.raises(SquareAuthError) as exc:
        SquareClient(base_url=square.url, access_token=refreshed.access_token).list_locations()
    assert exc.value.code == "ACCESS_TOKEN_REVOKED"
    with pytest.raises(SquareAuthError):
        oauth.refresh(refresh_token=tokens.refresh_token)


def test_pkce_flow_rotates_the_refresh_token(square, oauth):
    verifier, challenge = pkce_pair()
    back = press_allow(oauth.authorize_url(state="p", code_challenge=challenge))
    pkce_only = SquareOAuthClient(base_url=square.url, client_id=CLIENT_ID)  # no secret on a PKCE client
    tokens = pkce_only.exchange_code(code=back["code"], code_verifier=verifier)
    assert tokens.refresh_token_expires_at is not None
    rotated = pkce_only.refresh(refresh_token=tokens.refresh_token, pkce=True)
    assert rotated.refresh_token != tokens.refresh_token
    with pytest.raises(SquareAuthError):
        pkce_only.refresh(refresh_token=tokens.refresh_token, pkce=True)
    pkce_only.close()


def test_locations_orders_and_cursor_paging(square, api):
    sb = square.app.sandbox
    locs = api.list_locations()
    assert {x["id"] for x in locs} == set(sb.locations)
    assert api.get_location(locs[0]["id"])["currency"] == "NGN"
    for _ in range(23):
        sb.create_sale(random_sale=True)
    query = {"filter": {"state_filter": {"states": ["COMPLETED"]}},
             "sort": {"sort_field": "CREATED_AT", "sort_order": "ASC"}}
    pages = list(api.iter_order_pages(location_ids=[x["id"] for x in locs], query=query, limit=10))
    assert [len(p.orders) for p in pages] == [10, 10, 3]
    assert pages[-1].cursor is None and pages[0].cursor
    # resume from a checkpointed cursor: the same remaining pages
    resumed = list(api.iter_order_pages(location_ids=[x["id"] for x in locs], query=query, limit=10,
                                        cursor=pages[0].cursor))
    assert [o["id"] for p in resumed for o in p.orders] == [o["id"] for p in pages[1:] for o in p.orders]
    ids = [o["id"] for p in pages for o in p.orders]
    assert api.get_order(ids[0])["id"] == ids[0]
    assert sorted(o["id"] for o in api.batch_retrieve_orders(ids)) == sorted(ids)
    with pytest.raises(SquareNotFound):
        api.get_order("does-not-exist")
    with pytest.raises(ValueError):
        api.search_orders(location_ids=[x["id"] for x in locs], limit=constants.SEARCH_MAX_LIMIT + 1)


def test_batch_retrieve_splits_into_chunks_of_100(square, api):
    sb = square.app.sandbox
    ids = [sb.create_sale(random_sale=True)["order"]["id"] for _ in range(130)]
    got = api.batch_retrieve_orders(ids)
    assert len(got) == 130


def test_payments_and_refunds(square, api):
    sb = square.app.sandbox
    sale = sb.create_sale(random_sale=True)
    pid = sale["payment"]["id"]
    assert api.get_payment(pid)["status"] == "COMPLETED"
    listed = api.list_payments(location_id=sale["payment"]["location_id"])["payments"]
    assert any(p["id"] == pid for p in listed)
    refund = sb.refund_payment(payment_id=pid, amount=sale["payment"]["total_money"]["amount"] // 2)
    got = api.get_refund(refund["id"])
    assert got["status"] == "COMPLETED" and got["order_id"] != sale["order"]["id"]


def test_rate_limited_error_carries_a_retry_hint(square, api):
    square.app.sandbox.set_rate_limit(requests=1, per_seconds=60)
    api.list_locations()
    with pytest.raises(RateLimited) as exc:
        api.list_locations()
    assert exc.value.retry_after == constants.DEFAULT_RETRY_AFTER_SECONDS
    assert (exc.value.status, exc.value.category, exc.value.code) == (429, "RATE_LIMIT_ERROR", "RATE_LIMITED")
    assert isinstance(exc.value, SquareRetryable)


def test_server_errors_and_connection_failures_are_retryable(square, api):
    square.app.sandbox.set_faults([{"path": "/v2/orders/search", "status": 500, "count": 1}])
    with pytest.raises(SquareRetryable) as exc:
        api.search_orders(location_ids=list(square.app.sandbox.locations))
    assert exc.value.status == 500 and exc.value.code == "INTERNAL_SERVER_ERROR"
    assert "orders" in api.search_orders(location_ids=list(square.app.sandbox.locations))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(SquareRetryable):
        SquareClient(base_url=dead, access_token="x", timeout=1).list_locations()


def test_bad_request_is_a_plain_square_error(square, api):
    square.app.sandbox.set_faults([{"path": "/v2/locations", "status": 400, "count": 1}])
    with pytest.raises(SquareError) as exc:
        api.list_locations()
    assert not isinstance(exc.value, SquareRetryable) and exc.value.status == 400


def test_every_request_sends_the_square_version(square):
    seen = []

    def hook(request):
        seen.append(request.headers.get("Square-Version"))

    http = httpx.Client(event_hooks={"request": [hook]})
    tok = square.app.sandbox.issue_token()
    SquareClient(base_url=square.url, access_token=tok["access_token"], http=http).list_locations()
    SquareOAuthClient(base_url=square.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                      http=http).token_status(access_token=tok["access_token"])
    http.close()
    assert seen == [constants.SQUARE_VERSION] * 2


@pytest.fixture
def legacy_oauth():
    """A stand-in for Square's token endpoint answering errors in the legacy
    {"message", "type"} shape (no `errors` list): 401 on /oauth2/revoke,
    400 on /oauth2/token."""
    def app(environ, start_response):
        status = "401 Unauthorized" if environ["PATH_INFO"] == "/oauth2/revoke" else "400 Bad Request"
        kind = "service.not_authorized" if status.startswith("401") else "bad_request"
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps({"message": "Not Authorized" if kind != "bad_request" else "Bad code",
                            "type": kind}).encode()]

    running = sandboxing.serve(app, host="127.0.0.1", port=0, name="square-legacy-oauth")
    with SquareOAuthClient(base_url=running.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as c:
        yield c
    running.stop()


def test_an_error_body_without_errors_is_read_as_square_sdk_reads_it(legacy_oauth):
    with pytest.raises(SquareAuthError) as exc:
        legacy_oauth.revoke(merchant_id="M1")
    assert exc.value.code == "service.not_authorized" and "Not Authorized" in str(exc.value)
    assert exc.value.errors == [{"code": "service.not_authorized", "detail": "Not Authorized"}]
    with pytest.raises(SquareError) as exc:
        legacy_oauth.exchange_code(code="sq0cgp-x")
    assert exc.value.status == 400 and exc.value.code == "bad_request"
