"""The Square sandbox over real sockets (integrations/pos/square/sandbox/app.py):
OAuth, locations, orders search, payments, refunds, rate limits, faults and
signed webhook delivery, checked with raw HTTP (httpx)."""
import base64
import datetime as dt
import hashlib
import json
import time
from urllib.parse import parse_qs, urlparse

import httpx
import lxml.html
import pytest

from integrations.pos.square import constants, webhooks
from tests.e2e import wait_for
from tests.integrations.pos.square.conftest import REDIRECT_URI

CLIENT_ID, CLIENT_SECRET = "demo-square-client-id", "demo-square-client-secret"
HEADERS = {"Square-Version": "2026-09-16"}


def consent(http, base, *, challenge=None, state="st-1", decision="allow"):
    """Open the consent page and press its button as a browser would."""
    params = {"client_id": CLIENT_ID, "scope": "ORDERS_READ PAYMENTS_READ MERCHANT_PROFILE_READ",
              "session": "false", "state": state}
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    page = http.get(f"{base}/oauth2/authorize", params=params)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    doc = lxml.html.fromstring(page.text)
    form = doc.forms[0]
    button = doc.xpath(f'//form//button[@value="{decision}"]')[0]
    assert button.text_content().strip() == decision.capitalize()
    assert doc.xpath('//label[@for="merchant_id"]')  # the seller picker is labelled
    data = dict(form.form_values())
    data[button.get("name")] = button.get("value")
    resp = http.post(f"{base}{form.action}", data=data)
    assert resp.status_code == 302
    location = urlparse(resp.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def token(http, base, body):
    return http.post(f"{base}/oauth2/token", json=body, headers=HEADERS)


def bearer(access_token):
    return {**HEADERS, "Authorization": f"Bearer {access_token}"}


def control(http, base, method, path, body=None):
    resp = http.request(method, f"{base}/_sandbox{path}", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()


@pytest.fixture
def http():
    with httpx.Client(timeout=10) as c:
        yield c


def test_oauth_code_flow_refresh_returns_same_token(square, http):
    q = consent(http, square.url)
    assert q["state"] == "st-1" and q["response_type"] == "code" and q["code"].startswith("sq0cgp-")
    resp = token(http, square.url, {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                    "grant_type": "authorization_code", "code": q["code"]})
    assert resp.status_code == 200, resp.text
    t = resp.json()
    assert t["token_type"] == "bearer" and t["short_lived"] is False
    assert t["merchant_id"] == square.app.sandbox.default_merchant_id
    assert t["expires_at"].endswith("Z") and "." not in t["expires_at"]  # RFC 3339, whole seconds
    expires = dt.datetime.fromisoformat(t["expires_at"].replace("Z", "+00:00"))
    assert abs((expires - dt.datetime.now(dt.timezone.utc)) - dt.timedelta(days=30)) < dt.timedelta(minutes=1)
    # codes are single use
    again = token(http, square.url, {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                     "grant_type": "authorization_code", "code": q["code"]})
    assert again.status_code == 401 and again.json()["errors"][0]["category"] == "AUTHENTICATION_ERROR"
    # code-flow refresh: a new access token, the same refresh token, which keeps working
    r1 = token(http, square.url, {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                  "grant_type": "refresh_token", "refresh_token": t["refresh_token"]}).json()
    r2 = token(http, square.url, {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                  "grant_type": "refresh_token", "refresh_token": t["refresh_token"]}).json()
    assert r1["refresh_token"] == r2["refresh_token"] == t["refresh_token"]
    assert len({t["access_token"], r1["access_token"], r2["access_token"]}) == 3
    # the code flow needs the secret
    bad = token(http, square.url, {"client_id": CLIENT_ID, "client_secret": "nope",
                                   "grant_type": "refresh_token", "refresh_token": t["refresh_token"]})
    assert bad.status_code == 401
    status = http.post(f"{square.url}/oauth2/token/status", headers=bearer(r2["access_token"]))
    assert status.json()["merchant_id"] == t["merchant_id"]
    assert set(status.json()["scopes"]) == {"ORDERS_READ", "PAYMENTS_READ", "MERCHANT_PROFILE_READ"}


def test_oauth_deny_redirects_with_error(square, http):
    q = consent(http, square.url, decision="deny", state="s9")
    assert q == {"error": "access_denied", "error_description": "user_denied", "state": "s9"}


def test_pkce_code_verifier_and_rotating_refresh_token(square, http):
    verifier = "v" * 64
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    q = consent(http, square.url, challenge=challenge)
    wrong = token(http, square.url, {"client_id": CLIENT_ID, "grant_type": "authorization_code",
                                     "code": q["code"], "code_verifier": "w" * 64})
    assert wrong.status_code == 401
    q = consent(http, square.url, challenge=challenge)
    t = token(http, square.url, {"client_id": CLIENT_ID, "grant_type": "authorization_code",
                                 "code": q["code"], "code_verifier": verifier}).json()
    assert "refresh_token_expires_at" in t
    rotated = token(http, square.url, {"client_id": CLIENT_ID, "grant_type": "refresh_token",
                                       "refresh_token": t["refresh_token"]})
    assert rotated.status_code == 200
    assert rotated.json()["refresh_token"] != t["refresh_token"]
    old = token(http, square.url, {"client_id": CLIENT_ID, "grant_type": "refresh_token",
                                   "refresh_token": t["refresh_token"]})
    assert old.status_code == 401
    newer = token(http, square.url, {"client_id": CLIENT_ID, "grant_type": "refresh_token",
                                     "refresh_token": rotated.json()["refresh_token"]})
    assert newer.status_code == 200


def _expires_in(t: dict) -> dt.timedelta:
    return dt.datetime.fromisoformat(t["expires_at"].replace("Z", "+00:00")) - dt.datetime.now(dt.timezone.utc)


def test_short_lived_token_expires_in_24_hours_and_comes_without_a_refresh_token(square, http):
    """ObtainToken `short_lived: true`, at the code exchange and at a refresh:
    a 24 h access token and no refresh token; the refresh token used keeps
    working."""
    q = consent(http, square.url)
    t = token(http, square.url, {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                 "grant_type": "authorization_code", "code": q["code"], "short_lived": True}).json()
    assert t["short_lived"] is True and "refresh_token" not in t
    assert abs(_expires_in(t) - dt.timedelta(hours=24)) < dt.timedelta(minutes=1)
    assert http.get(f"{square.url}/v2/locations", headers=bearer(t["access_token"])).status_code == 200

    full = token(http, square.url, {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                    "grant_type": "authorization_code", "code": consent(http, square.url)["code"]}
                 ).json()
    refresh = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "grant_type": "refresh_token",
               "refresh_token": full["refresh_token"]}
    short = token(http, square.url, dict(refresh, short_lived=True)).json()
    assert short["short_lived"] is True and "refresh_token" not in short
    assert abs(_expires_in(short) - dt.timedelta(hours=24)) < dt.timedelta(minutes=1)
    again = token(http, square.url, refresh).json()
    assert again["refresh_token"] == full["refresh_token"] and again["short_lived"] is False
    bad = token(http, square.url, dict(refresh, short_lived="yes"))
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "short_lived"


def test_refresh_with_scopes_gets_the_intersection_with_the_refresh_tokens_scopes(square, http):
    t = token(http, square.url, {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                 "grant_type": "authorization_code", "code": consent(http, square.url)["code"]}).json()
    refresh = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "grant_type": "refresh_token",
               "refresh_token": t["refresh_token"]}
    # ITEMS_READ was never granted, so only ORDERS_READ is left
    narrow = token(http, square.url, dict(refresh, scopes=["ORDERS_READ", "ITEMS_READ"])).json()
    status = http.post(f"{square.url}/oauth2/token/status", headers=bearer(narrow["access_token"])).json()
    assert status["scopes"] == ["ORDERS_READ"]
    denied = http.get(f"{square.url}/v2/locations", headers=bearer(narrow["access_token"]))
    assert denied.status_code == 403 and denied.json()["errors"][0]["code"] == "INSUFFICIENT_SCOPES"
    # the refresh token keeps its own scopes
    wide = token(http, square.url, refresh).json()
    status = http.post(f"{square.url}/oauth2/token/status", headers=bearer(wide["access_token"])).json()
    assert set(status["scopes"]) == {"ORDERS_READ", "PAYMENTS_READ", "MERCHANT_PROFILE_READ"}


def test_pkce_refresh_with_scopes_rotates_a_refresh_token_that_keeps_every_scope(square, http):
    verifier = "v" * 64
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    t = token(http, square.url, {"client_id": CLIENT_ID, "grant_type": "authorization_code", "code_verifier": verifier,
                                 "code": consent(http, square.url, challenge=challenge)["code"]}).json()
    narrow = token(http, square.url, {"client_id": CLIENT_ID, "grant_type": "refresh_token",
                                      "refresh_token": t["refresh_token"], "scopes": ["PAYMENTS_READ"]}).json()
    status = http.post(f"{square.url}/oauth2/token/status", headers=bearer(narrow["access_token"])).json()
    assert status["scopes"] == ["PAYMENTS_READ"]
    wide = token(http, square.url, {"client_id": CLIENT_ID, "grant_type": "refresh_token",
                                    "refresh_token": narrow["refresh_token"]}).json()
    status = http.post(f"{square.url}/oauth2/token/status", headers=bearer(wide["access_token"])).json()
    assert set(status["scopes"]) == {"ORDERS_READ", "PAYMENTS_READ", "MERCHANT_PROFILE_READ"}


def test_revoke_needs_client_auth_and_revokes_every_token_of_the_merchant(square, http):
    a = control(http, square.url, "POST", "/tokens", {})
    b = control(http, square.url, "POST", "/tokens", {})
    body = {"client_id": CLIENT_ID, "access_token": a["access_token"]}
    assert http.post(f"{square.url}/oauth2/revoke", json=body, headers=bearer(a["access_token"])).status_code == 401
    wrong = http.post(f"{square.url}/oauth2/revoke", json=body, headers={"Authorization": "Client wrong"})
    assert wrong.status_code == 401
    ok = http.post(f"{square.url}/oauth2/revoke", json=body, headers={"Authorization": f"Client {CLIENT_SECRET}"})
    assert ok.status_code == 200 and ok.json() == {"success": True}
    for t in (a, b):
        r = http.get(f"{square.url}/v2/locations", headers=bearer(t["access_token"]))
        assert r.status_code == 401 and r.json()["errors"][0]["code"] == "ACCESS_TOKEN_REVOKED"
        assert token(http, square.url, {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                        "grant_type": "refresh_token",
                                        "refresh_token": t["refresh_token"]}).status_code == 401


def test_revoke_only_access_token_ends_that_token_and_keeps_the_authorization(square, http):
    a = control(http, square.url, "POST", "/tokens", {})
    b = control(http, square.url, "POST", "/tokens", {})
    ok = http.post(f"{square.url}/oauth2/revoke", json={"client_id": CLIENT_ID, "access_token": a["access_token"],
                                                        "revoke_only_access_token": True},
                   headers={"Authorization": f"Client {CLIENT_SECRET}"})
    assert ok.status_code == 200 and ok.json() == {"success": True}
    assert http.get(f"{square.url}/v2/locations", headers=bearer(a["access_token"])).status_code == 401
    assert http.get(f"{square.url}/v2/locations", headers=bearer(b["access_token"])).status_code == 200
    assert token(http, square.url, {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                    "grant_type": "refresh_token",
                                    "refresh_token": a["refresh_token"]}).status_code == 200


def test_locations_and_error_shapes(square, http):
    t = control(http, square.url, "POST", "/tokens", {})
    locs = http.get(f"{square.url}/v2/locations", headers=bearer(t["access_token"])).json()["locations"]
    assert len(locs) == 2
    loc = locs[0]
    assert loc["currency"] == "NGN" and loc["country"] == "NG" and loc["status"] == "ACTIVE"
    assert loc["timezone"] == "Africa/Lagos" and loc["merchant_id"] == t["merchant_id"]
    one = http.get(f"{square.url}/v2/locations/{loc['id']}", headers=bearer(t["access_token"])).json()
    assert one["location"] == loc
    missing = http.get(f"{square.url}/v2/locations/LNOPE", headers=bearer(t["access_token"]))
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "NOT_FOUND"
    anon = http.get(f"{square.url}/v2/locations")
    assert anon.status_code == 401
    assert set(anon.json()["errors"][0]) >= {"category", "code", "detail"}
    bad_version = http.get(f"{square.url}/v2/locations",
                           headers={"Authorization": f"Bearer {t['access_token']}", "Square-Version": "v2"})
    assert bad_version.json()["errors"][0]["code"] == "INVALID_SQUARE_VERSION_FORMAT"
    # another merchant's token sees only its own locations
    other = control(http, square.url, "POST", "/merchants", {"business_name": "Other", "locations": 1})
    t2 = control(http, square.url, "POST", "/tokens", {"merchant_id": other["merchant"]["id"]})
    locs2 = http.get(f"{square.url}/v2/locations", headers=bearer(t2["access_token"])).json()["locations"]
    assert [x["id"] for x in locs2] == [other["locations"][0]["id"]]


def test_square_version_must_be_a_release_no_older_than_the_endpoint(square, http):
    """Square-Version: a released version the endpoint exists in; every
    response names the version that processed it (the application's pinned
    one when the request names none)."""
    t = control(http, square.url, "POST", "/tokens", {})
    auth = {"Authorization": f"Bearer {t['access_token']}"}

    def get(path, version=None):
        return http.get(f"{square.url}{path}", headers=dict(auth, **({"Square-Version": version} if version else {})))

    pinned = get("/v2/payments")
    assert pinned.status_code == 200 and pinned.headers["Square-Version"] == constants.SQUARE_VERSION
    old = get("/v2/locations", "2019-06-12")  # ListLocations predates versioning
    assert old.status_code == 200 and old.headers["Square-Version"] == "2019-06-12"
    too_old = get("/v2/payments", "2019-06-12")  # the Payments API came with 2019-08-14
    assert too_old.status_code == 400
    assert too_old.json()["errors"][0]["code"] == "API_VERSION_INCOMPATIBLE"
    assert too_old.json()["errors"][0]["category"] == "INVALID_REQUEST_ERROR"
    assert get("/v2/payments", "2019-08-14").status_code == 200
    unreleased = get("/v2/locations", "2026-09-17")
    assert unreleased.status_code == 400 and unreleased.json()["errors"][0]["code"] == "API_VERSION_INCOMPATIBLE"
    malformed = get("/v2/locations", "2026-9-16")
    assert malformed.status_code == 400
    assert malformed.json()["errors"][0]["code"] == "INVALID_SQUARE_VERSION_FORMAT"
    order_id = square.app.sandbox.create_sale(random_sale=True)["order"]["id"]
    assert get(f"/v2/orders/{order_id}", "2020-09-23").json()["errors"][0]["code"] == "API_VERSION_INCOMPATIBLE"
    assert get(f"/v2/orders/{order_id}", "2020-10-28").status_code == 200
    assert constants.SQUARE_VERSION in constants.SQUARE_API_VERSIONS


def test_square_version_gates_batch_retrieve_and_the_oauth_endpoints(square, http):
    """BatchRetrieveOrders' merchant-scoped path came with 2020-08-26 and
    RetrieveTokenStatus with 2022-12-14; ObtainToken and RevokeToken answer
    in every version, but the refresh_token grant and refresh tokens came with
    2019-03-13: an older code exchange answers the access token alone."""
    sb = square.app.sandbox
    t = control(http, square.url, "POST", "/tokens", {})
    order_id = sb.create_sale(random_sale=True)["order"]["id"]

    def at(version):
        return {"Authorization": f"Bearer {t['access_token']}", "Square-Version": version}

    def batch(version):
        return http.post(f"{square.url}/v2/orders/batch-retrieve", json={"order_ids": [order_id]},
                         headers=at(version))

    assert batch("2020-08-12").json()["errors"][0]["code"] == "API_VERSION_INCOMPATIBLE"
    assert batch("2020-08-26").json()["orders"][0]["id"] == order_id

    def status(version):
        return http.post(f"{square.url}/oauth2/token/status", json={}, headers=at(version))

    too_old = status("2022-11-16")
    assert too_old.status_code == 400 and too_old.json()["errors"][0]["code"] == "API_VERSION_INCOMPATIBLE"
    assert status("2022-12-14").json()["merchant_id"] == sb.default_merchant_id

    def exchange(version, **body):
        return http.post(f"{square.url}/oauth2/token", headers={"Square-Version": version},
                         json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **body})

    legacy = exchange("2018-07-12", grant_type="authorization_code", code=consent(http, square.url)["code"])
    assert legacy.status_code == 200 and legacy.headers["Square-Version"] == "2018-07-12"
    assert legacy.json()["access_token"] and "refresh_token" not in legacy.json()
    current = exchange("2019-03-13", grant_type="authorization_code", code=consent(http, square.url)["code"]).json()
    refused = exchange("2019-02-13", grant_type="refresh_token", refresh_token=current["refresh_token"])
    assert refused.status_code == 400
    assert refused.json()["errors"][0] == {"category": "INVALID_REQUEST_ERROR", "code": "API_VERSION_INCOMPATIBLE",
                                           "field": "grant_type", "detail": refused.json()["errors"][0]["detail"]}
    assert exchange("2019-03-13", grant_type="refresh_token", refresh_token=current["refresh_token"]).status_code == 200
    revoked = http.post(f"{square.url}/oauth2/revoke", json={"client_id": CLIENT_ID, "access_token": t["access_token"]},
                        headers={"Authorization": f"Client {CLIENT_SECRET}", "Square-Version": "2018-07-12"})
    assert revoked.status_code == 200 and revoked.json() == {"success": True}


def test_insufficient_scope(square, http):
    t = control(http, square.url, "POST", "/tokens", {"scopes": ["MERCHANT_PROFILE_READ"]})
    r = http.post(f"{square.url}/v2/orders/search", json={"location_ids": ["L1"]}, headers=bearer(t["access_token"]))
    assert r.status_code == 403 and r.json()["errors"][0]["code"] == "INSUFFICIENT_SCOPES"


def _search(http, square, t, body):
    return http.post(f"{square.url}/v2/orders/search", json=body, headers=bearer(t["access_token"]))


def test_orders_search_paging_filters_and_cursor_rules(square, http):
    sb = square.app.sandbox
    loc_ids = list(sb.locations)
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    for i in range(25):
        sb.create_sale(random_sale=True, location_id=loc_ids[i % 2])
    sb.create_sale(random_sale=True, location_id=loc_ids[0], complete=False)  # one OPEN order
    t = control(http, square.url, "POST", "/tokens", {})
    query = {"filter": {"state_filter": {"states": ["COMPLETED"]},
                        "date_time_filter": {"updated_at": {"start_at": start.isoformat()}}},
             "sort": {"sort_field": "UPDATED_AT", "sort_order": "ASC"}}
    body = {"location_ids": loc_ids, "query": query, "limit": 10}
    pages, cursor = [], None
    while True:
        resp = _search(http, square, t, dict(body, cursor=cursor) if cursor else body)
        assert resp.status_code == 200, resp.text
        data = resp.json()
        pages.append(data["orders"])
        if len(pages) == 1:
            # created after the first page: outside the pinned (absent) end_at
            sb.create_sale(random_sale=True, location_id=loc_ids[0])
        cursor = data.get("cursor")
        if not cursor:
            break
    assert [len(p) for p in pages] == [10, 10, 5]
    orders = [o for p in pages for o in p]
    assert len({o["id"] for o in orders}) == 25
    assert all(o["state"] == "COMPLETED" for o in orders)
    assert [o["updated_at"] for o in orders] == sorted(o["updated_at"] for o in orders)
    # a cursor is bound to the query that issued it
    first = _search(http, square, t, body).json()
    other_query = dict(body, cursor=first["cursor"], query=dict(query, sort={"sort_field": "UPDATED_AT",
                                                                             "sort_order": "DESC"}))
    bad = _search(http, square, t, other_query)
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == "INVALID_CURSOR"
    # default sort is CREATED_AT DESC; return_entries gives summaries
    entries = _search(http, square, t, {"location_ids": loc_ids, "return_entries": True}).json()
    assert len(entries["order_entries"]) == 27 and "orders" not in entries
    assert set(entries["order_entries"][0]) == {"order_id", "version", "location_id"}


@pytest.mark.parametrize("body, code, field", [
    ({"location_ids": [], "query": {}}, "MISSING_REQUIRED_PARAMETER", "location_ids"),
    ({"location_ids": [f"L{i}" for i in range(11)]}, "ARRAY_LENGTH_TOO_LONG", "location_ids"),
    ({"limit": 1001}, "VALUE_TOO_HIGH", "limit"),
    ({"limit": 0}, "VALUE_TOO_LOW", "limit"),
    ({"query": {"filter": {"date_time_filter": {"closed_at": {"start_at": "2026-01-01T00:00:00Z"}}},
                "sort": {"sort_field": "CREATED_AT"}}}, "INVALID_VALUE", "query.sort.sort_field"),
    ({"query": {"filter": {"date_time_filter": {"closed_at": {"start_at": "2026-01-01T00:00:00Z"},
                                                "created_at": {"start_at": "2026-01-01T00:00:00Z"}}}}},
     "INVALID_VALUE", "query.filter.date_time_filter"),
    ({"query": {"sort": {"sort_field": "CLOSED_AT"}}}, "INVALID_VALUE", "query.filter.state_filter"),
    ({"query": {"filter": {"state_filter": {"states": ["OPEN", "COMPLETED"]}}, "sort": {"sort_field": "CLOSED_AT"}}},
     "INVALID_VALUE", "query.filter.state_filter"),
])
def test_orders_search_validation(square, http, body, code, field):
    t = control(http, square.url, "POST", "/tokens", {})
    full = {"location_ids": list(square.app.sandbox.locations)[:1], **body}
    resp = _search(http, square, t, full)
    assert resp.status_code == 400
    err = resp.json()["errors"][0]
    assert (err["category"], err["code"], err.get("field")) == ("INVALID_REQUEST_ERROR", code, field)


def test_limit_1000_is_accepted_and_batch_retrieve(square, http):
    sb = square.app.sandbox
    ids = [sb.create_sale(random_sale=True)["order"]["id"] for _ in range(3)]
    t = control(http, square.url, "POST", "/tokens", {})
    resp = _search(http, square, t, {"location_ids": list(sb.locations), "limit": 1000})
    assert resp.status_code == 200 and len(resp.json()["orders"]) == 3 and "cursor" not in resp.json()
    batch = http.post(f"{square.url}/v2/orders/batch-retrieve", json={"order_ids": ids + ["nope"]},
                      headers=bearer(t["access_token"])).json()
    assert sorted(o["id"] for o in batch["orders"]) == sorted(ids)
    one = http.get(f"{square.url}/v2/orders/{ids[0]}", headers=bearer(t["access_token"])).json()["order"]
    assert one["state"] == "COMPLETED" and one["tenders"][0]["payment_id"]
    assert one["total_money"]["currency"] == "NGN" and isinstance(one["total_money"]["amount"], int)


def test_rate_limit_429_and_injected_faults(square, http):
    t = control(http, square.url, "POST", "/tokens", {})
    control(http, square.url, "PUT", "/rate-limit", {"requests": 3, "per_seconds": 30})
    codes = [http.get(f"{square.url}/v2/locations", headers=bearer(t["access_token"])).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = http.get(f"{square.url}/v2/locations", headers=bearer(t["access_token"]))
    assert r.json() == {"errors": [{"category": "RATE_LIMIT_ERROR", "code": "RATE_LIMITED",
                                    "detail": "Rate limit exceeded; retry later."}]}
    control(http, square.url, "PUT", "/rate-limit", {"requests": None})
    control(http, square.url, "PUT", "/faults", {"faults": [{"path": "/v2/locations", "status": 503, "count": 1}]})
    assert http.get(f"{square.url}/v2/locations", headers=bearer(t["access_token"])).status_code == 503
    assert http.get(f"{square.url}/v2/locations", headers=bearer(t["access_token"])).status_code == 200


def _events(requests):
    return [json.loads(r["body"]) for r in requests]


def test_sale_webhooks_are_signed_over_the_exact_url_and_body(square, http, receiver):
    sub = control(http, square.url, "PUT", "/webhook-subscription", {"notification_url": receiver.url})["subscription"]
    sale = control(http, square.url, "POST", "/sales", {"random": True})
    reqs = receiver.wait_for(4)
    time.sleep(0.1)
    assert len(receiver.requests) == 4
    for r in reqs:
        sig = webhooks.signature_from_headers(r["headers"])
        assert webhooks.verify_signature(signature_key=sub["signature_key"], notification_url=receiver.url,
                                         body=r["body"], signature=sig)
        # the URL is part of the signature: a different one (even a trailing slash) fails
        assert not webhooks.verify_signature(signature_key=sub["signature_key"], notification_url=receiver.url + "/",
                                             body=r["body"], signature=sig)
        assert not webhooks.verify_signature(signature_key="other", notification_url=receiver.url,
                                             body=r["body"], signature=sig)
        assert r["headers"].get("X-Square-Signature")  # legacy SHA-1 header is sent too
    events = {e["type"]: e for e in _events(reqs)}
    assert set(events) == {"order.created", "order.updated", "payment.created", "payment.updated"}
    assert len({e["event_id"] for e in events.values()}) == 4
    order_id = sale["order"]["id"]
    assert events["order.created"]["data"]["object"]["order_created"]["state"] == "OPEN"
    upd = events["order.updated"]["data"]["object"]["order_updated"]
    assert upd["order_id"] == order_id and upd["state"] == "COMPLETED" and upd["version"] == 2
    assert set(upd) == {"order_id", "version", "state", "location_id", "created_at", "updated_at"}
    assert events["payment.updated"]["data"]["object"]["payment"]["status"] == "COMPLETED"
    assert events["payment.updated"]["data"]["object"]["payment"]["order_id"] == order_id
    parsed = webhooks.parse_event(next(r["body"] for r in reqs if b"order.updated" in r["body"]))
    assert (parsed.order_id, parsed.state, parsed.object_type) == (order_id, "COMPLETED", "order")


def test_duplicates_and_redelivery_keep_the_event_id(square, http, receiver):
    control(http, square.url, "PUT", "/webhook-subscription",
            {"notification_url": receiver.url, "event_types": ["order.updated"]})
    control(http, square.url, "POST", "/sales", {"random": True, "duplicates": 1})
    reqs = receiver.wait_for(2)
    ids = [e["event_id"] for e in _events(reqs)]
    assert len(ids) == 2 and ids[0] == ids[1]
    assert reqs[0]["body"] == reqs[1]["body"]
    control(http, square.url, "POST", f"/events/{ids[0]}/redeliver")
    reqs = receiver.wait_for(3)
    assert json.loads(reqs[2]["body"])["event_id"] == ids[0]


def test_failed_deliveries_are_retried_with_backoff(square, http, receiver):
    control(http, square.url, "PUT", "/webhook-subscription",
            {"notification_url": receiver.url, "event_types": ["order.created"]})
    receiver.statuses = [500, 503]
    control(http, square.url, "POST", "/sales", {"random": True, "complete": False})
    reqs = receiver.wait_for(3)
    assert [r["status"] for r in reqs] == [500, 503, 200]
    assert len({r["body"] for r in reqs}) == 1
    assert reqs[1]["headers"].get("Square-Retry-Number") == "1"
    assert reqs[2]["headers"].get("Square-Retry-Number") == "2"
    # The receiver has the third attempt before the sender has logged its answer.
    def logged():
        deliveries = control(http, square.url, "GET", "/deliveries")["deliveries"]
        return deliveries if len(deliveries) >= 3 else None

    log = wait_for(logged, timeout=10, what="the third delivery logged")
    assert [(x["attempt"], x["ok"]) for x in log] == [(1, False), (2, False), (3, True)]


def test_refund_creates_a_return_order_and_events(square, http, receiver):
    control(http, square.url, "PUT", "/webhook-subscription",
            {"notification_url": receiver.url, "event_types": ["refund.created", "refund.updated"]})
    sale = control(http, square.url, "POST", "/sales", {"random": True})
    payment = sale["payment"]
    t = control(http, square.url, "POST", "/tokens", {})
    body = {"idempotency_key": "k1", "payment_id": payment["id"], "amount_money": payment["total_money"],
            "reason": "Customer returned the goods"}
    r = http.post(f"{square.url}/v2/refunds", json=body, headers=bearer(t["access_token"]))
    assert r.status_code == 200, r.text
    refund = r.json()["refund"]
    assert refund["status"] == "PENDING" and refund["amount_money"] == payment["total_money"]
    same = http.post(f"{square.url}/v2/refunds", json=body, headers=bearer(t["access_token"])).json()["refund"]
    assert same["id"] == refund["id"]
    reused = http.post(f"{square.url}/v2/refunds", json=dict(body, amount_money={"amount": 1, "currency": "NGN"}),
                       headers=bearer(t["access_token"]))
    assert reused.status_code == 400 and reused.json()["errors"][0]["code"] == "IDEMPOTENCY_KEY_REUSED"
    got = http.get(f"{square.url}/v2/refunds/{refund['id']}", headers=bearer(t["access_token"])).json()["refund"]
    assert got["status"] == "COMPLETED"
    ret = http.get(f"{square.url}/v2/orders/{refund['order_id']}", headers=bearer(t["access_token"])).json()["order"]
    assert ret["returns"][0]["source_order_id"] == sale["order"]["id"]
    assert ret["return_amounts"]["total_money"] == payment["total_money"]
    original = http.get(f"{square.url}/v2/orders/{sale['order']['id']}", headers=bearer(t["access_token"])).json()
    assert original["order"]["net_amounts"]["total_money"]["amount"] == 0
    assert original["order"]["refunds"][0]["amount_money"] == payment["total_money"]
    pay = http.get(f"{square.url}/v2/payments/{payment['id']}", headers=bearer(t["access_token"])).json()["payment"]
    assert pay["refunded_money"] == payment["total_money"] and pay["refund_ids"] == [refund["id"]]
    too_much = http.post(f"{square.url}/v2/refunds", json=dict(body, idempotency_key="k2"),
                         headers=bearer(t["access_token"]))
    assert too_much.status_code == 400 and too_much.json()["errors"][0]["code"] == "REFUND_AMOUNT_INVALID"
    # deliveries run in parallel (Square does not promise an order either)
    events = {e["type"]: e for e in _events(receiver.wait_for(2))}
    assert set(events) == {"refund.created", "refund.updated"}
    assert events["refund.created"]["data"]["object"]["refund"]["status"] == "PENDING"
    assert events["refund.updated"]["data"]["object"]["refund"]["status"] == "COMPLETED"


def test_an_exchange_is_one_order_with_returns_and_new_items_and_its_difference_paid_or_refunded(
        square, http, receiver):
    """POST /_sandbox/exchanges: the exchange order carries the returned item
    (linked to its sale) and the new one; net_amounts is the difference, paid
    by a payment of the exchange, or refunded from the sale's payment by a
    refund whose order_id is the exchange (listed in its `refunds`); the
    sale order is left as it was. A refund's return order lists its refund."""
    control(http, square.url, "PUT", "/webhook-subscription", {"notification_url": receiver.url})
    t = control(http, square.url, "POST", "/tokens", {})
    vat = {"uid": "vat", "name": "VAT", "percentage": "7.5", "type": "ADDITIVE", "scope": "LINE_ITEM"}

    def item(uid, price, qty="1"):
        return {"uid": uid, "name": uid.title(), "quantity": qty,
                "base_price_money": {"amount": price, "currency": "NGN"}, "applied_taxes": [{"tax_uid": "vat"}]}

    sale = control(http, square.url, "POST", "/sales", {"order": {"line_items": [item("jollof", 250000, "2")],
                                                                  "taxes": [vat]}})
    receiver.wait_for(4)
    exchanges = {}
    for name, price in (("dearer", 400000), ("cheaper", 100000)):
        exchanges[name] = control(http, square.url, "POST", "/exchanges", {
            "order_id": sale["order"]["id"], "returns": [{"source_line_item_uid": "jollof", "quantity": "1"}],
            "order": {"line_items": [item("juice", price)], "taxes": [vat]}})
    orders = {name: http.get(f"{square.url}/v2/orders/{x['order']['id']}",
                             headers=bearer(t["access_token"])).json()["order"] for name, x in exchanges.items()}
    for name, order in orders.items():
        assert order["state"] == "COMPLETED" and [li["name"] for li in order["line_items"]] == ["Juice"]
        (ret,) = order["returns"]
        assert ret["source_order_id"] == sale["order"]["id"]
        assert [(li["source_line_item_uid"], li["quantity"]) for li in ret["return_line_items"]] == [("jollof", "1")]
        assert order["return_amounts"]["total_money"]["amount"] == 268750
        assert order["net_amounts"]["total_money"]["amount"] == order["total_money"]["amount"] - 268750
    dearer, cheaper = exchanges["dearer"], exchanges["cheaper"]
    assert dearer["refund"] is None and dearer["payment"]["order_id"] == dearer["order"]["id"]
    assert dearer["payment"]["total_money"]["amount"] == 430000 - 268750 == \
        orders["dearer"]["tenders"][0]["amount_money"]["amount"]
    refund = http.get(f"{square.url}/v2/refunds/{cheaper['refund']['id']}", headers=bearer(t["access_token"])).json()
    refund = refund["refund"]
    assert cheaper["payment"] is None and (refund["status"], refund["order_id"], refund["payment_id"]) == (
        "COMPLETED", cheaper["order"]["id"], sale["payment"]["id"])
    assert refund["amount_money"]["amount"] == 268750 - 107500
    assert [(r["status"], r["amount_money"]["amount"]) for r in orders["cheaper"]["refunds"]] == [
        ("APPROVED", 161250)]
    pay = http.get(f"{square.url}/v2/payments/{sale['payment']['id']}", headers=bearer(t["access_token"])).json()
    assert pay["payment"]["refund_ids"] == [refund["id"]]
    original = http.get(f"{square.url}/v2/orders/{sale['order']['id']}", headers=bearer(t["access_token"])).json()
    assert original["order"] == sale["order"]
    types = [json.loads(r["body"])["type"] for r in receiver.wait_for(4 + 4 + 5)[4:]]
    assert sorted(types) == sorted(["order.created", "payment.created", "payment.updated", "order.updated",
                                    "order.created", "order.updated", "refund.created", "refund.updated",
                                    "payment.updated"])

    plain = square.app.sandbox.refund_payment(payment_id=sale["payment"]["id"], amount=10000)
    ret = http.get(f"{square.url}/v2/orders/{plain['order_id']}", headers=bearer(t["access_token"])).json()["order"]
    assert [(r["status"], r["amount_money"]["amount"]) for r in ret["refunds"]] == [("APPROVED", 10000)]


def test_a_return_of_items_of_two_sales_is_one_return_order_refunded_to_each_sales_payment(square, http, receiver):
    """POST /_sandbox/returns: items of two sales taken back at once are one
    return order with one return per sale (its `source_order_id`), its
    return_amounts their sum; each sale's payment is refunded its own
    items' amount by a refund whose order_id is the return order, which
    lists both; each sale shows its refund. Webhooks: each refund's, the
    return order's order.created once and an order.updated with the second."""
    control(http, square.url, "PUT", "/webhook-subscription", {"notification_url": receiver.url})
    t = control(http, square.url, "POST", "/tokens", {})
    vat = {"uid": "vat", "name": "VAT", "percentage": "7.5", "type": "ADDITIVE", "scope": "LINE_ITEM"}
    jollof = {"uid": "jollof", "name": "Jollof", "quantity": "2",
              "base_price_money": {"amount": 250000, "currency": "NGN"}, "applied_taxes": [{"tax_uid": "vat"}]}
    sales = [control(http, square.url, "POST", "/sales", {"order": {"line_items": [jollof], "taxes": [vat]}})
             for _ in range(2)]
    receiver.wait_for(8)
    out = control(http, square.url, "POST", "/returns", {"reason": "Two receipts", "returns": [
        {"order_id": sale["order"]["id"], "line_items": [{"source_line_item_uid": "jollof", "quantity": qty}]}
        for sale, qty in zip(sales, ("1", "2"))]})

    def get(path):
        resp = http.get(f"{square.url}/v2/{path}", headers=bearer(t["access_token"]))
        assert resp.status_code == 200, resp.text
        return resp.json()

    order = get(f"orders/{out['order']['id']}")["order"]
    assert order["state"] == "COMPLETED" and not order["line_items"]
    assert [r["source_order_id"] for r in order["returns"]] == [s["order"]["id"] for s in sales]
    assert [r["return_amounts"]["total_money"]["amount"] for r in order["returns"]] == [268750, 537500]
    assert order["return_amounts"]["total_money"]["amount"] == 806250
    assert order["return_amounts"]["tax_money"]["amount"] == 56250
    for sale, amount in zip(sales, (268750, 537500)):
        (refund,) = [r for r in out["refunds"] if r["payment_id"] == sale["payment"]["id"]]
        got = get(f"refunds/{refund['id']}")["refund"]
        assert (got["status"], got["order_id"], got["amount_money"]["amount"], got["reason"]) == (
            "COMPLETED", order["id"], amount, "Two receipts")
        payment = get(f"payments/{sale['payment']['id']}")["payment"]
        assert payment["refund_ids"] == [refund["id"]] and payment["refunded_money"]["amount"] == amount
        original = get(f"orders/{sale['order']['id']}")["order"]
        assert original["net_amounts"]["total_money"]["amount"] == 537500 - amount
        assert [(r["transaction_id"], r["tender_id"]) for r in original["refunds"]] == [
            (sale["order"]["id"], sale["payment"]["id"])]
    assert sorted((r["transaction_id"], r["tender_id"], r["status"]) for r in order["refunds"]) == sorted(
        (s["order"]["id"], s["payment"]["id"], "APPROVED") for s in sales)
    events = [json.loads(r["body"]) for r in receiver.wait_for(8 + 10)[8:]]
    per_refund = ["refund.created", "refund.updated", "payment.updated", "order.updated"]
    assert sorted(e["type"] for e in events) == sorted(per_refund * 2 + ["order.created", "order.updated"])
    assert [e["data"]["id"] for e in events if e["type"] == "order.created"] == [order["id"]]

    one_jollof = [{"source_line_item_uid": "jollof", "quantity": "1"}]
    twice = http.post(f"{square.url}/_sandbox/returns",
                      json={"returns": [{"order_id": sales[0]["order"]["id"], "line_items": one_jollof}] * 2})
    assert twice.status_code == 400 and twice.json()["errors"][0]["code"] == "INVALID_VALUE"
    unknown = http.post(f"{square.url}/_sandbox/returns",
                        json={"returns": [{"order_id": "nope", "line_items": one_jollof}]})
    assert unknown.status_code == 404


def test_payments_list_paging(square, http):
    sb = square.app.sandbox
    begin = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)).isoformat()
    for _ in range(5):  # at the main location, which ListPayments lists by default
        sb.create_sale(random_sale=True, location_id=sb.merchants[sb.default_merchant_id]["main_location_id"])
    t = control(http, square.url, "POST", "/tokens", {})
    first = http.get(f"{square.url}/v2/payments", params={"begin_time": begin, "limit": 3},
                     headers=bearer(t["access_token"])).json()
    second = http.get(f"{square.url}/v2/payments", params={"begin_time": begin, "limit": 3,
                                                           "cursor": first["cursor"]},
                      headers=bearer(t["access_token"])).json()
    assert len(first["payments"]) == 3 and len(second["payments"]) == 2 and "cursor" not in second
    assert len({p["id"] for p in first["payments"] + second["payments"]}) == 5


def test_payments_list_defaults_to_the_main_location_and_filters_by_card_and_total(square, http):
    """ListPayments without location_id lists "the default (main) location"
    only (the seller's first, also RetrieveLocation's "main"); `total`,
    `last_4` and `card_brand` filter. ListPaymentRefunds lists every
    location by default."""
    sb = square.app.sandbox
    t = control(http, square.url, "POST", "/tokens", {})
    main = http.get(f"{square.url}/v2/locations/main", headers=bearer(t["access_token"])).json()["location"]
    assert main["id"] == sb.merchants[sb.default_merchant_id]["main_location_id"]
    other = next(lid for lid in sb.locations if lid != main["id"])
    at_main = sb.create_sale(order={"line_items": [{"name": "Jollof rice", "quantity": "1",
                                                    "base_price_money": {"amount": 250000, "currency": "NGN"}}]},
                             location_id=main["id"], tender_type="CARD", card_brand="MASTERCARD")
    at_other = sb.create_sale(random_sale=True, location_id=other)

    def listed(**query):
        page = http.get(f"{square.url}/v2/payments", params=query, headers=bearer(t["access_token"]))
        assert page.status_code == 200, page.text
        return {p["id"] for p in page.json()["payments"]}

    assert at_main["payment"]["id"] in listed() and at_other["payment"]["id"] not in listed()
    assert at_other["payment"]["id"] in listed(location_id=other)
    card = at_main["payment"]["card_details"]["card"]
    assert listed(last_4=card["last_4"], card_brand="MASTERCARD") >= {at_main["payment"]["id"]}
    assert at_main["payment"]["id"] not in listed(card_brand="VISA")
    assert at_main["payment"]["id"] in listed(total=at_main["payment"]["total_money"]["amount"])
    assert at_main["payment"]["id"] not in listed(total=at_main["payment"]["total_money"]["amount"] + 1)
    refund = sb.refund_payment(payment_id=at_other["payment"]["id"])
    refunds = http.get(f"{square.url}/v2/refunds", headers=bearer(t["access_token"])).json()["refunds"]
    assert refund["id"] in {r["id"] for r in refunds}
    by_source = http.get(f"{square.url}/v2/refunds", params={"source_type": "EXTERNAL"},
                         headers=bearer(t["access_token"])).json()["refunds"]
    assert refund["id"] not in {r["id"] for r in by_source}


def test_payments_list_offline_payments_by_the_time_they_were_taken(square, http):
    """ListPayments' offline parameters: `is_offline_payment` filters by
    how a payment was taken, `offline_begin_time`/`offline_end_time` bound
    offline_payment_details.client_created_at and leave out payments taken
    online, sort_field OFFLINE_CREATED_AT sorts by it; ListPayments takes no
    `status`. Unknown values answer 400 in Square's errors[] shape."""
    sb = square.app.sandbox
    main = sb.merchants[sb.default_merchant_id]["main_location_id"]
    now = dt.datetime.now(dt.timezone.utc)
    began = (now - dt.timedelta(seconds=1)).isoformat()
    hours_ago = {h: (now - dt.timedelta(hours=h)).isoformat() for h in (1, 2, 3)}
    # Uploaded in this order: the one taken an hour ago first, then the one taken three hours ago.
    taken_1h = control(http, square.url, "POST", "/sales", {"random": True, "location_id": main,
                                                            "offline_at": hours_ago[1]})["payment"]
    taken_3h = control(http, square.url, "POST", "/sales", {"random": True, "location_id": main,
                                                            "offline_at": hours_ago[3]})["payment"]
    online = control(http, square.url, "POST", "/sales", {"random": True, "location_id": main})["payment"]
    assert taken_3h["is_offline_payment"] is True and "offline_payment_details" not in online
    client_created_at = taken_3h["offline_payment_details"]["client_created_at"]
    assert dt.datetime.fromisoformat(client_created_at.replace("Z", "+00:00")) == _whole_ms(now - dt.timedelta(hours=3))
    t = control(http, square.url, "POST", "/tokens", {})

    def listed(**query):
        page = http.get(f"{square.url}/v2/payments", params={"begin_time": began, **query},
                        headers=bearer(t["access_token"]))
        assert page.status_code == 200, page.text
        return [p["id"] for p in page.json()["payments"]]

    assert sorted(listed(is_offline_payment="true")) == sorted([taken_1h["id"], taken_3h["id"]])
    assert listed(is_offline_payment="false") == [online["id"]]
    assert listed(offline_begin_time=hours_ago[2]) == [taken_1h["id"]]
    assert listed(offline_end_time=hours_ago[2]) == [taken_3h["id"]]
    assert listed(sort_order="ASC") == [taken_1h["id"], taken_3h["id"], online["id"]]
    assert listed(sort_field="OFFLINE_CREATED_AT", sort_order="ASC") == [taken_3h["id"], taken_1h["id"], online["id"]]
    assert listed(sort_field="OFFLINE_CREATED_AT") == [online["id"], taken_1h["id"], taken_3h["id"]]
    assert len(listed(status="FAILED")) == 3  # not a ListPayments parameter

    def refused(path="/v2/payments", **query):
        page = http.get(f"{square.url}{path}", params=query, headers=bearer(t["access_token"]))
        assert page.status_code == 400, page.text
        (error,) = page.json()["errors"]
        assert error["category"] == "INVALID_REQUEST_ERROR"
        return error["code"], error["field"]

    assert refused(is_offline_payment="maybe") == ("EXPECTED_BOOLEAN", "is_offline_payment")
    assert refused(sort_order="SIDEWAYS") == ("INVALID_SORT_ORDER", "sort_order")
    assert refused(sort_field="AMOUNT") == ("INVALID_ENUM_VALUE", "sort_field")
    assert refused("/v2/refunds", sort_field="OFFLINE_CREATED_AT") == ("INVALID_ENUM_VALUE", "sort_field")
    assert refused(offline_begin_time="yesterday") == ("INVALID_TIME", "offline_begin_time")


def test_refunds_list_by_time_status_and_page(square, http):
    """ListPaymentRefunds (GET /v2/refunds): created in [begin_time,
    end_time), `status`, oldest first with sort_order=ASC, a cursor a page."""
    sb = square.app.sandbox
    begin = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)).isoformat()
    refunds = [sb.refund_payment(payment_id=sb.create_sale(random_sale=True)["payment"]["id"]) for _ in range(3)]
    t = control(http, square.url, "POST", "/tokens", {})
    query, listed, pages = {"begin_time": begin, "status": "COMPLETED", "sort_order": "ASC", "limit": 2}, [], 0
    while True:  # the sandbox is shared: other tests' refunds may be listed too
        page = http.get(f"{square.url}/v2/refunds", params=query, headers=bearer(t["access_token"])).json()
        listed += page["refunds"]
        pages += 1
        if "cursor" not in page:
            break
        query["cursor"] = page["cursor"]
    assert pages == -(-len(listed) // 2) and pages >= 2
    assert {r["id"] for r in refunds} <= {r["id"] for r in listed}
    assert [r["created_at"] for r in listed] == sorted(r["created_at"] for r in listed)  # oldest first
    assert all(r["status"] == "COMPLETED" for r in listed)
    none = http.get(f"{square.url}/v2/refunds", params={"begin_time": begin, "status": "FAILED"},
                    headers=bearer(t["access_token"])).json()
    assert none["refunds"] == []
    later = http.get(f"{square.url}/v2/refunds", params={"begin_time": dt.datetime.now(dt.timezone.utc).isoformat()},
                     headers=bearer(t["access_token"])).json()
    assert later["refunds"] == []


def _whole_ms(t: dt.datetime) -> dt.datetime:
    """`t` on a millisecond: Square's times have milliseconds, so a time
    taken after it is never written as before it."""
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def test_refunds_list_by_update_and_a_refund_left_pending(square, http):
    """A refund left PENDING completes later (`/_sandbox/refunds/{id}/complete`):
    `updated_at_begin_time`/`updated_at_end_time` with sort_field=UPDATED_AT
    find it by its completion, while created_at still bounds begin_time /
    end_time; `limit` over 100 gives 100 rows at most, a non-integer one 400."""
    sb = square.app.sandbox
    t = control(http, square.url, "POST", "/tokens", {})
    created_from = dt.datetime.now(dt.timezone.utc)
    pending = control(http, square.url, "POST", "/refunds", {
        "payment_id": sb.create_sale(random_sale=True)["payment"]["id"], "complete": False})["refund"]
    assert pending["status"] == "PENDING"
    completed_from = _whole_ms(dt.datetime.now(dt.timezone.utc) + dt.timedelta(milliseconds=5))
    while dt.datetime.now(dt.timezone.utc) < completed_from:
        pass
    done = control(http, square.url, "POST", f"/refunds/{pending['id']}/complete", {})["refund"]
    assert done["status"] == "COMPLETED" and done["updated_at"] > done["created_at"]

    def listed(**query):
        page = http.get(f"{square.url}/v2/refunds", params=query, headers=bearer(t["access_token"]))
        assert page.status_code == 200, page.text
        return [r["id"] for r in page.json()["refunds"]]

    assert pending["id"] in listed(updated_at_begin_time=completed_from.isoformat(), sort_field="UPDATED_AT")
    assert pending["id"] not in listed(updated_at_begin_time=created_from.isoformat(),
                                       updated_at_end_time=completed_from.isoformat())
    assert pending["id"] not in listed(begin_time=completed_from.isoformat())  # created before it
    again = http.post(f"{square.url}/_sandbox/refunds/{pending['id']}/complete", json={})
    assert again.status_code == 400 and "not PENDING" in again.text
    assert len(listed(limit=500, begin_time=created_from.isoformat())) <= 100
    bad = http.get(f"{square.url}/v2/refunds", params={"limit": "ten"}, headers=bearer(t["access_token"]))
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == "INVALID_VALUE"
    wrong_field = http.get(f"{square.url}/v2/refunds", params={"sort_field": "AMOUNT"},
                           headers=bearer(t["access_token"]))
    assert wrong_field.status_code == 400 and wrong_field.json()["errors"][0]["field"] == "sort_field"


def test_load_mode_creates_sales_at_the_requested_rate(square, http):
    control(http, square.url, "POST", "/load/start", {"rate": 40, "seconds": 0.5})
    deadline = time.monotonic() + 30
    while control(http, square.url, "GET", "/load")["running"] and time.monotonic() < deadline:
        time.sleep(0.05)
    status = control(http, square.url, "GET", "/load")
    assert status["running"] is False and status["errors"] == 0
    assert status["created"] == status["target"] == 20
    assert status["finished_at"] - status["started_at"] >= 0.45  # paced, not a burst
    assert len([o for o in square.app.sandbox.orders.values() if o["state"] == "COMPLETED"]) == status["created"]


def test_history_seeding_is_searchable_by_time_window_and_sends_no_webhooks(square, http, receiver):
    control(http, square.url, "PUT", "/webhook-subscription", {"notification_url": receiver.url})
    made = control(http, square.url, "POST", "/sales/history",
                   {"count": 40, "start_at": "2026-05-01T00:00:00Z", "end_at": "2026-05-03T00:00:00Z"})
    assert made == {"created": 40}
    t = control(http, square.url, "POST", "/tokens", {})
    day1 = {"location_ids": list(square.app.sandbox.locations),
            "query": {"filter": {"date_time_filter": {"closed_at": {"start_at": "2026-05-01T00:00:00Z",
                                                                   "end_at": "2026-05-02T00:00:00Z"}},
                                 "state_filter": {"states": ["COMPLETED"]}},
                      "sort": {"sort_field": "CLOSED_AT", "sort_order": "ASC"}}}
    day2 = json.loads(json.dumps(day1))
    day2["query"]["filter"]["date_time_filter"]["closed_at"] = {"start_at": "2026-05-02T00:00:00.001Z",
                                                               "end_at": "2026-05-03T00:00:05Z"}
    a = _search(http, square, t, day1).json().get("orders", [])
    b = _search(http, square, t, day2).json().get("orders", [])
    assert len(a) + len(b) == 40 and a and b
    assert all("2026-05-01" <= o["closed_at"] < "2026-05-02" for o in a)
    assert all(o["state"] == "COMPLETED" and o["closed_at"] > o["created_at"] for o in a + b)
    time.sleep(0.2)
    assert receiver.requests == [] and control(http, square.url, "GET", "/deliveries")["deliveries"] == []


def test_authorization_codes_expire_after_five_minutes(square, http):
    q = consent(http, square.url)
    square.app.sandbox.codes[q["code"]]["expires"] -= 301  # as if five minutes had passed
    r = token(http, square.url, {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                 "grant_type": "authorization_code", "code": q["code"]})
    assert r.status_code == 401 and "expired" in r.json()["errors"][0]["detail"]


def test_reset_keeps_the_default_merchant_and_location_ids(square, http):
    before = control(http, square.url, "GET", "/state")
    square.app.sandbox.create_sale(random_sale=True)
    after = control(http, square.url, "POST", "/reset")
    assert after["merchant_id"] == before["merchants"][0]["id"]
    assert sorted(x["id"] for x in after["locations"]) == sorted(x["id"] for x in before["locations"])
    assert control(http, square.url, "GET", "/state")["orders"] == 0


def test_fulfillment_update_event(square, http, receiver):
    control(http, square.url, "PUT", "/webhook-subscription",
            {"notification_url": receiver.url, "event_types": ["order.fulfillment.updated"]})
    sale = control(http, square.url, "POST", "/sales", {"random": True, "fulfillment": True})
    control(http, square.url, "POST", f"/orders/{sale['order']['id']}/fulfillment", {"new_state": "COMPLETED"})
    event = _events(receiver.wait_for(1))[0]
    obj = event["data"]["object"]["order_fulfillment_updated"]
    assert event["type"] == "order.fulfillment.updated" and obj["order_id"] == sale["order"]["id"]
    assert obj["fulfillment_update"] == [{"fulfillment_uid": "f1", "old_state": "PROPOSED", "new_state": "COMPLETED"}]
    assert webhooks.parse_event(receiver.requests[0]["body"]).order_id == sale["order"]["id"]


def test_retries_stop_after_the_schedule_is_spent_or_past_72_hours(square, http, receiver):
    control(http, square.url, "PUT", "/webhook-subscription",
            {"notification_url": receiver.url, "event_types": ["order.created"]})
    control(http, square.url, "PUT", "/delivery", {"time_scale": 1, "retry_delays": [0.01, 0.02, 0.04]})
    receiver.statuses = [500] * 50
    control(http, square.url, "POST", "/sales", {"random": True, "complete": False})
    receiver.wait_for(4)
    assert square.app.sandbox.sender.wait_idle(timeout=5)
    time.sleep(0.2)
    log = control(http, square.url, "GET", "/deliveries")["deliveries"]
    assert [x["attempt"] for x in log] == [1, 2, 3, 4] and not any(x["ok"] for x in log)
    assert len(receiver.requests) == 4
    # Square's metadata headers: every attempt names the environment and the
    # first attempt's time; a retry its number and why the last one failed.
    headers = [r["headers"] for r in receiver.requests]
    assert {h["Square-Environment"] for h in headers} == {"Sandbox"}
    assert len({h["Square-Initial-Delivery-Timestamp"] for h in headers}) == 1
    assert dt.datetime.fromisoformat(headers[0]["Square-Initial-Delivery-Timestamp"].replace("Z", "+00:00"))
    assert "Square-Retry-Number" not in headers[0]
    assert [(h["Square-Retry-Number"], h["Square-Retry-Reason"]) for h in headers[1:]] == [
        ("1", "http_error"), ("2", "http_error"), ("3", "http_error")]
    # a retry that would fall after the 72 h window (scaled) is not made
    control(http, square.url, "POST", "/reset")
    control(http, square.url, "PUT", "/webhook-subscription",
            {"notification_url": receiver.url, "event_types": ["order.created"]})
    control(http, square.url, "PUT", "/delivery", {"time_scale": 0.00001, "retry_delays": [300_000]})
    control(http, square.url, "POST", "/sales", {"random": True, "complete": False})
    receiver.wait_for(5)
    assert square.app.sandbox.sender.wait_idle(timeout=5)
    assert [x["attempt"] for x in control(http, square.url, "GET", "/deliveries")["deliveries"]] == [1]
    # ... and one 48 h after the event still is (Square retries for 72 h, not 24)
    control(http, square.url, "POST", "/reset")
    control(http, square.url, "PUT", "/webhook-subscription",
            {"notification_url": receiver.url, "event_types": ["order.created"]})
    control(http, square.url, "PUT", "/delivery", {"time_scale": 0.00001, "retry_delays": [48 * 3600]})
    receiver.statuses = [500]
    control(http, square.url, "POST", "/sales", {"random": True, "complete": False})
    receiver.wait_for(7)
    assert square.app.sandbox.sender.wait_idle(timeout=5)
    assert [x["attempt"] for x in control(http, square.url, "GET", "/deliveries")["deliveries"]] == [1, 2]


def test_redirect_uri_must_match_the_registered_one(square, http):
    params = {"client_id": CLIENT_ID, "scope": "ORDERS_READ", "state": "s", "redirect_uri": "http://evil.example/cb"}
    assert http.get(f"{square.url}/oauth2/authorize", params=params).status_code == 400
    # an app registered without a redirect URL takes the one in the request; the token call must repeat it
    control(http, square.url, "POST", "/apps", {"client_id": "app2", "client_secret": "s2"})
    page = http.get(f"{square.url}/oauth2/authorize",
                    params=dict(params, client_id="app2", redirect_uri="http://127.0.0.1:8000/api/v1/pos/square/callback"))
    form = lxml.html.fromstring(page.text).forms[0]
    resp = http.post(f"{square.url}{form.action}", data=dict(form.form_values(), decision="allow"))
    assert resp.headers["location"].startswith("http://127.0.0.1:8000/api/v1/pos/square/callback?code=")
    code = parse_qs(urlparse(resp.headers["location"]).query)["code"][0]
    wrong = token(http, square.url, {"client_id": "app2", "client_secret": "s2", "grant_type": "authorization_code",
                                     "code": code, "redirect_uri": "http://other/cb"})
    assert wrong.status_code == 400


def test_code_exchange_must_repeat_the_redirect_uri_of_the_authorization_url(square, http):
    """ObtainToken: redirect_uri is "required ... if you provided the
    redirect_uri parameter in your authorization URL"."""
    def code():
        params = {"client_id": CLIENT_ID, "scope": "ORDERS_READ", "state": "s", "redirect_uri": REDIRECT_URI}
        form = lxml.html.fromstring(http.get(f"{square.url}/oauth2/authorize", params=params).text).forms[0]
        resp = http.post(f"{square.url}{form.action}", data=dict(form.form_values(), decision="allow"))
        return parse_qs(urlparse(resp.headers["location"]).query)["code"][0]

    exchange = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "grant_type": "authorization_code"}
    missing = token(http, square.url, dict(exchange, code=code()))
    assert missing.status_code == 400
    assert missing.json()["errors"][0] == {"category": "INVALID_REQUEST_ERROR", "code": "MISSING_REQUIRED_PARAMETER",
                                           "detail": missing.json()["errors"][0]["detail"], "field": "redirect_uri"}
    ok = token(http, square.url, dict(exchange, code=code(), redirect_uri=REDIRECT_URI))
    assert ok.status_code == 200, ok.text
    # without redirect_uri in the authorization URL the exchange needs none
    assert token(http, square.url, dict(exchange, code=consent(http, square.url)["code"])).status_code == 200


def test_token_endpoint_takes_json_only(square, http):
    q = consent(http, square.url)
    form = http.post(f"{square.url}/oauth2/token", data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                                          "grant_type": "authorization_code", "code": q["code"]})
    assert form.status_code == 400 and form.json()["errors"][0]["code"] == "EXPECTED_JSON_BODY"
