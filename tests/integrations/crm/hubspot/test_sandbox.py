"""The HubSpot sandbox (integrations/crm/hubspot/sandbox) over real sockets:
OAuth 2026-03 (code + PKCE, refresh, introspect, revoke, RFC 6749 errors, bad/reused codes), CRM v3 paging and
updates, search semantics and limits, v4 associations, rate limits, signed
webhook delivery with HubSpot's retry rules, and HubSpot's own Python client
pointed at the sandbox."""
import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from werkzeug.wrappers import Request, Response

from integrations.crm.hubspot.provider import CRM_API_VERSION
from taxpoynt import sandboxing

REDIRECT = "http://127.0.0.1:9/oauth/hubspot/callback"
SCOPES = "crm.objects.deals.read crm.objects.deals.write crm.objects.line_items.read crm.objects.companies.read"


@pytest.fixture
def hs():
    running = sandboxing.start("hubspot", port=0, redirect_uris=[REDIRECT], time_factor=0.001)
    yield running
    running.app.sandbox.close()
    running.stop()


@pytest.fixture
def sb(hs):
    return hs.app.sandbox


@pytest.fixture
def api(hs, sb):
    token = sb.issue_token()["access_token"]
    with httpx.Client(base_url=hs.url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        yield client


class Receiver:
    """A tiny webhook endpoint: verifies signatures independently, answers from a script."""

    def __init__(self, secret: str):
        self.secret = secret
        self.requests: list[dict] = []
        self.script: list[tuple[int, dict]] = []
        self.lock = threading.Lock()
        self.running = sandboxing.serve(self.app, host="127.0.0.1", port=0, name="hubspot-webhook-receiver")
        self.url = f"{self.running.url}/hooks/hubspot"

    def app(self, environ, start_response):
        request = Request(environ)
        body = request.get_data(as_text=True)
        timestamp = request.headers.get("X-HubSpot-Request-Timestamp", "")
        source = f"{request.method}{request.url}{body}{timestamp}".encode()
        expected = base64.b64encode(hmac.new(self.secret.encode(), source, hashlib.sha256).digest()).decode()
        fresh = timestamp.isdigit() and abs(time.time() * 1000 - int(timestamp)) < 300_000
        valid = hmac.compare_digest(expected, request.headers.get("X-HubSpot-Signature-v3", "")) and fresh
        with self.lock:
            self.requests.append({"url": request.url, "headers": dict(request.headers), "body": body,
                                  "valid": valid, "events": json.loads(body)})
            status, headers = self.script.pop(0) if self.script else (200, {})
        if not valid:
            status, headers = 401, {}
        return Response("", status=status, headers=headers)(environ, start_response)

    def stop(self):
        self.running.stop()


@pytest.fixture
def receiver(sb):
    rec = Receiver(sb.app_settings()["client_secret"])
    sb.configure_app(webhook_url=rec.url)
    yield rec
    rec.stop()


class _Form(HTMLParser):
    def __init__(self):
        super().__init__()
        self.action, self.fields, self.buttons = None, {}, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.action = a.get("action")
        elif tag == "input" and a.get("type") == "hidden":
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "button":
            self.buttons.append(a)


def _pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _consent(hs, sb, *, challenge=None, state="st-123") -> str:
    """Open the consent page, press "Grant access", return the code from the redirect."""
    params = {"client_id": sb.app_settings()["client_id"], "redirect_uri": REDIRECT, "scope": SCOPES,
              "optional_scope": "crm.objects.contacts.read", "state": state}
    if challenge:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    page = httpx.get(f"{hs.url}/oauth/authorize", params=params)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    form = _Form()
    form.feed(page.text)
    grant = [b for b in form.buttons if b.get("value") == "grant"]
    assert grant and grant[0].get("type") == "submit"
    assert "Grant access" in page.text
    answer = httpx.post(form.action, data=form.fields | {"decision": "grant"})
    assert answer.status_code == 302
    location = urlparse(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == [state]
    return query["code"][0]


TOKEN, INTROSPECT, REVOKE = "/oauth/2026-03/token", "/oauth/2026-03/token/introspect", "/oauth/2026-03/token/revoke"


def _oauth(hs, sb, path, **fields):
    """A form POST to an OAuth endpoint with the app's client_id and client_secret in the body."""
    app = sb.app_settings()
    data = {"client_id": app["client_id"], "client_secret": app["client_secret"]} | fields
    return httpx.post(f"{hs.url}{path}", data=data)


def _token(hs, sb, **fields):
    return _oauth(hs, sb, TOKEN, **fields)


# OAuth -----------------------------------------------------------------------

def test_oauth_code_flow_with_pkce_refresh_introspect_and_revoke(hs, sb):
    verifier, challenge = _pkce()
    code = _consent(hs, sb, challenge=challenge)
    answer = _token(hs, sb, grant_type="authorization_code", redirect_uri=REDIRECT, code=code,
                    code_verifier=verifier)
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    body = answer.json()
    assert set(body) == {"token_type", "refresh_token", "access_token", "expires_in", "hub_id", "scopes",
                         "user_id", "token_use"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 1800 and body["hub_id"] == sb.portal_id
    assert body["token_use"] == "access_token" and "crm.objects.contacts.read" in body["scopes"]

    info = _oauth(hs, sb, INTROSPECT, token=body["access_token"], token_type_hint="access_token").json()
    assert info["active"] is True and info["token_use"] == "access_token" and info["token"] == body["access_token"]
    assert info["hub_id"] == sb.portal_id and info["hub_domain"] and info["user"] and info["user_id"]
    assert info["client_id"] == sb.app_settings()["client_id"] and info["app_id"] == sb.app_settings()["app_id"]
    assert "crm.objects.deals.read" in info["scopes"] and "crm.objects.contacts.read" in info["scopes"]
    assert 0 < info["expires_in"] <= 1800 and info["is_private_distribution"] is False
    assert info["signed_access_token"]["hubId"] == sb.portal_id
    # The hint only says where to look first: a refresh token is found under either.
    refresh_info = _oauth(hs, sb, INTROSPECT, token=body["refresh_token"], token_type_hint="access_token").json()
    assert refresh_info["active"] is True and refresh_info["token_use"] == "refresh_token"
    assert refresh_info["client_id"] == sb.app_settings()["client_id"] and "expires_in" not in refresh_info

    deals = httpx.get(f"{hs.url}/crm/objects/{CRM_API_VERSION}/deals",
                      headers={"Authorization": f"Bearer {body['access_token']}"})
    assert deals.status_code == 200 and deals.json() == {"results": []}

    refreshed = _token(hs, sb, grant_type="refresh_token", refresh_token=body["refresh_token"]).json()
    assert refreshed["access_token"] != body["access_token"]
    assert refreshed["refresh_token"] == body["refresh_token"]

    revoked = _oauth(hs, sb, REVOKE, token=body["refresh_token"], token_type_hint="refresh_token")
    assert revoked.status_code == 200 and revoked.content == b""
    again = _token(hs, sb, grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert again.status_code == 400 and again.json() == {
        "error": "invalid_grant", "error_description": "refresh token is invalid, expired or revoked",
        "status": "BAD_REFRESH_TOKEN", "message": "refresh token is invalid, expired or revoked"}
    assert _oauth(hs, sb, INTROSPECT, token=body["refresh_token"]).json() == {"active": False}
    # Access tokens already issued stay valid after the refresh token is revoked.
    still = httpx.get(f"{hs.url}/crm/objects/{CRM_API_VERSION}/deals", headers={"Authorization": f"Bearer {refreshed['access_token']}"})
    assert still.status_code == 200


def test_the_sunset_v1_endpoints_are_not_served(hs, sb):
    tokens = sb.issue_token()
    app = sb.app_settings()
    v1 = [httpx.post(f"{hs.url}/oauth/v1/token", data={
              "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
              "client_id": app["client_id"], "client_secret": app["client_secret"]}),
          httpx.get(f"{hs.url}/oauth/v1/access-tokens/{tokens['access_token']}"),
          httpx.get(f"{hs.url}/oauth/v1/refresh-tokens/{tokens['refresh_token']}"),
          httpx.delete(f"{hs.url}/oauth/v1/refresh-tokens/{tokens['refresh_token']}")]
    assert [r.status_code for r in v1] == [404, 404, 404, 404]
    assert not sb.store.tokens[tokens["refresh_token"]].revoked
    # The interim v3 paths are the same operations.
    assert _oauth(hs, sb, "/oauth/v3/token/introspect", token=tokens["access_token"]).json()["active"] is True
    assert _oauth(hs, sb, "/oauth/v3/token", grant_type="refresh_token",
                  refresh_token=tokens["refresh_token"]).status_code == 200


def test_oauth_parameters_are_read_from_the_form_body_only(hs, sb):
    """Credentials and tokens in the query (v1 style) are not read: the body is what counts."""
    tokens = sb.issue_token()
    app = sb.app_settings()
    query = {"client_id": app["client_id"], "client_secret": app["client_secret"], "token": tokens["access_token"]}
    in_query = httpx.post(f"{hs.url}{INTROSPECT}", params=query)
    assert in_query.status_code == 400 and in_query.json()["error"] == "invalid_client"
    as_json = httpx.post(f"{hs.url}{REVOKE}", json=query | {"token": tokens["refresh_token"]})
    assert as_json.status_code == 400 and as_json.json()["status"] == "BAD_CLIENT_ID"
    assert not sb.store.tokens[tokens["refresh_token"]].revoked
    missing = _oauth(hs, sb, REVOKE)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


def test_inactive_tokens_introspect_as_inactive(hs, sb):
    tokens = sb.issue_token()
    sb.advance_clock(1801)
    assert _oauth(hs, sb, INTROSPECT, token=tokens["access_token"]).json() == {"active": False}
    assert _oauth(hs, sb, INTROSPECT, token="never-issued").json() == {"active": False}
    wrong = _oauth(hs, sb, INTROSPECT, token=tokens["refresh_token"], client_secret="wrong")
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_client"
    assert wrong.json()["status"] == "BAD_CLIENT_SECRET" and wrong.json()["error_description"]


def test_revoke_answers_an_unknown_token_and_fails_on_demand(hs, sb):
    """Revoke: 200 with no body, also for a token already revoked or never
    issued (RFC 7009); an access token is refused; `fail_next` on the revoke
    path answers 5xx until its count runs out or the faults are cleared."""
    tokens = sb.issue_token()
    refresh = tokens["refresh_token"]
    sb.fail_next(2, status=503, path_prefix=REVOKE)
    assert [_oauth(hs, sb, REVOKE, token=refresh).status_code for _ in range(2)] == [503, 503]
    sb.fail_next(None, status=500, path_prefix=REVOKE)
    assert [_oauth(hs, sb, REVOKE, token=refresh).status_code for _ in range(3)] == [500, 500, 500]
    assert not sb.store.tokens[refresh].revoked
    assert httpx.delete(f"{hs.url}/_sandbox/faults").status_code == 200  # recovered
    assert _oauth(hs, sb, REVOKE, token=refresh, token_type_hint="refresh_token").status_code == 200
    assert sb.store.tokens[refresh].revoked
    assert (_oauth(hs, sb, REVOKE, token=refresh).status_code, _oauth(hs, sb, REVOKE, token="never-issued").content) \
        == (200, b"")
    access = _oauth(hs, sb, REVOKE, token=tokens["access_token"], token_type_hint="access_token")
    assert access.status_code == 400 and access.json()["error"] == "unsupported_token_type"


def test_oauth_errors_parse_as_rfc_6749_errors(hs, sb):
    """A standard OAuth library reads the sandbox's error bodies (oauthlib's RFC 6749 parser)."""
    from oauthlib.oauth2.rfc6749 import errors, parameters

    dead = _token(hs, sb, grant_type="refresh_token", refresh_token="never-issued")
    with pytest.raises(errors.InvalidGrantError) as caught:
        parameters.parse_token_response(dead.text)
    assert caught.value.description == "refresh token is invalid, expired or revoked"
    with pytest.raises(errors.InvalidClientError):
        parameters.parse_token_response(_token(hs, sb, client_id="nobody", grant_type="refresh_token").text)
    with pytest.raises(errors.UnsupportedGrantTypeError):
        parameters.parse_token_response(_token(hs, sb, grant_type="password").text)
    good = parameters.parse_token_response(_token(hs, sb, grant_type="refresh_token",
                                                  refresh_token=sb.issue_token()["refresh_token"]).text)
    assert good["access_token"] and good["expires_in"] == 1800


def test_auth_codes_are_single_use_checked_and_short_lived(hs, sb):
    bad = _token(hs, sb, grant_type="authorization_code", redirect_uri=REDIRECT, code="nope")
    assert bad.status_code == 400 and bad.json()["status"] == "BAD_AUTH_CODE"

    code = _consent(hs, sb)
    assert _token(hs, sb, grant_type="authorization_code", redirect_uri=REDIRECT, code=code).status_code == 200
    reused = _token(hs, sb, grant_type="authorization_code", redirect_uri=REDIRECT, code=code)
    assert reused.status_code == 400 and reused.json()["status"] == "BAD_AUTH_CODE"

    verifier, challenge = _pkce()
    code = _consent(hs, sb, challenge=challenge)
    wrong = _token(hs, sb, grant_type="authorization_code", redirect_uri=REDIRECT, code=code,
                   code_verifier=_pkce()[0])
    assert wrong.status_code == 400 and wrong.json()["status"] == "BAD_AUTH_CODE"

    code = _consent(hs, sb)
    sb.advance_clock(301)
    late = _token(hs, sb, grant_type="authorization_code", redirect_uri=REDIRECT, code=code)
    assert late.status_code == 400 and late.json()["status"] == "BAD_AUTH_CODE"

    secret = _token(hs, sb, client_secret="wrong", grant_type="refresh_token", refresh_token="x")
    assert secret.status_code == 400 and secret.json()["status"] == "BAD_CLIENT_SECRET"
    assert (bad.json()["error"], secret.json()["error"]) == ("invalid_grant", "invalid_client")


def test_cancel_on_the_consent_page_redirects_with_access_denied(hs, sb):
    page = httpx.get(f"{hs.url}/oauth/authorize", params={
        "client_id": sb.app_settings()["client_id"], "redirect_uri": REDIRECT, "scope": SCOPES, "state": "s1"})
    form = _Form()
    form.feed(page.text)
    answer = httpx.post(form.action, data=form.fields | {"decision": "deny"})
    query = parse_qs(urlparse(answer.headers["location"]).query)
    assert answer.status_code == 302 and query["error"] == ["access_denied"] and query["state"] == ["s1"]
    assert "code" not in query


def test_authorize_rejects_unknown_client_and_foreign_redirect(hs, sb):
    base = {"redirect_uri": REDIRECT, "scope": SCOPES}
    unknown = httpx.get(f"{hs.url}/oauth/authorize", params=base | {"client_id": "someone-else"})
    assert unknown.status_code == 400 and "client_id" in unknown.text
    foreign = httpx.get(f"{hs.url}/oauth/authorize", params=base | {
        "client_id": sb.app_settings()["client_id"], "redirect_uri": "https://evil.example/cb"})
    assert foreign.status_code == 400 and "redirect_uri" in foreign.text


def test_missing_and_expired_tokens_get_hubspot_401s(hs, sb, api):
    none = httpx.get(f"{hs.url}/crm/objects/2026-09/deals")
    assert none.status_code == 401
    assert none.json()["category"] == "INVALID_AUTHENTICATION"
    assert none.json()["message"].startswith("Authentication credentials not found")
    assert api.get("/crm/objects/2026-09/deals").status_code == 200
    sb.expire_access_tokens()
    expired = api.get("/crm/objects/2026-09/deals")
    assert expired.status_code == 401 and expired.json()["category"] == "EXPIRED_AUTHENTICATION"


def test_scopes_are_enforced(hs, sb):
    token = sb.issue_token(scopes=["crm.objects.deals.read"])["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    deal = sb.create_deal({"dealname": "Scoped"})
    assert httpx.get(f"{hs.url}/crm/objects/2026-09/deals", headers=headers).status_code == 200
    denied = httpx.patch(f"{hs.url}/crm/objects/2026-09/deals/{deal['id']}", headers=headers,
                         json={"properties": {"dealname": "x"}})
    assert denied.status_code == 403 and denied.json()["category"] == "MISSING_SCOPES"
    assert httpx.get(f"{hs.url}/crm/objects/2026-09/contacts", headers=headers).status_code == 403


# CRM objects ------------------------------------------------------------------------

def test_list_pages_to_the_end_following_links(sb, api):
    ids = sb.generate_deals(count=23)["ids"]
    seen, pages, url = [], 0, "/crm/objects/2026-09/deals?limit=10&properties=dealname&properties=amount"
    while url:
        body = api.get(url).json()
        pages += 1
        for row in body["results"]:
            assert set(row) >= {"id", "properties", "createdAt", "updatedAt", "archived"}
            assert set(row["properties"]) == {"dealname", "amount", "createdate", "hs_lastmodifieddate",
                                              "hs_object_id"}
            assert all(isinstance(v, str) for v in row["properties"].values())
            seen.append(row["id"])
        nxt = body.get("paging", {}).get("next")
        url = nxt["link"] if nxt else None
    assert seen == ids and pages == 3


def test_get_patch_and_property_validation(sb, api):
    deal = sb.create_deal({"dealname": "Acme supply", "amount": "12500.00", "deal_currency_code": "NGN"},
                          line_items=[{"name": "Cement", "quantity": "5", "price": "2500.00"}])
    got = api.get(f"/crm/objects/2026-09/deals/{deal['id']}", params={"properties": "dealname,amount"}).json()
    assert got["properties"]["amount"] == "12500.00"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", got["properties"]["hs_lastmodifieddate"])

    patched = api.patch(f"/crm/objects/2026-09/deals/{deal['id']}", json={"properties": {"amount": "13000"}})
    assert patched.status_code == 200
    after = patched.json()
    assert after["properties"]["amount"] == "13000"
    assert after["properties"]["hs_lastmodifieddate"] > got["properties"]["hs_lastmodifieddate"]
    assert after["updatedAt"] == after["properties"]["hs_lastmodifieddate"]

    unknown = api.patch(f"/crm/objects/2026-09/deals/{deal['id']}", json={"properties": {"taxpoynt_irn": "X"}})
    assert unknown.status_code == 400 and unknown.json()["category"] == "VALIDATION_ERROR"
    assert "PROPERTY_DOESNT_EXIST" in unknown.json()["message"]
    sb.define_property("deals", "taxpoynt_irn")
    assert api.patch(f"/crm/objects/2026-09/deals/{deal['id']}",
                     json={"properties": {"taxpoynt_irn": "INV001-94ND90NR-20240611"}}).status_code == 200
    readonly = api.patch(f"/crm/objects/2026-09/deals/{deal['id']}", json={"properties": {"hs_object_id": "1"}})
    assert readonly.status_code == 400
    stage = api.patch(f"/crm/objects/2026-09/deals/{deal['id']}", json={"properties": {"dealstage": "nonsense"}})
    assert stage.status_code == 400 and "INVALID_OPTION" in stage.json()["message"]

    item = api.get(f"/crm/objects/2026-09/line_items/{deal['line_item_ids'][0]}").json()
    assert item["properties"]["amount"] == "12500.00" and item["properties"]["quantity"] == "5"
    missing = api.get("/crm/objects/2026-09/deals/999")
    assert missing.status_code == 404 and missing.json()["category"] == "OBJECT_NOT_FOUND"
    assert "X-HubSpot-RateLimit-Remaining" in missing.headers


def test_batch_read_reports_missing_ids(sb, api):
    deal = sb.create_deal({"dealname": "A"}, line_items=[{"name": "x", "quantity": "2", "price": "3"}] * 2)
    both = api.post("/crm/objects/2026-09/line_items/batch/read",
                    json={"inputs": [{"id": i} for i in deal["line_item_ids"]], "properties": ["name", "price"]})
    assert both.status_code == 200 and both.json()["status"] == "COMPLETE"
    assert sorted(r["id"] for r in both.json()["results"]) == sorted(deal["line_item_ids"])
    partial = api.post("/crm/objects/2026-09/line_items/batch/read",
                       json={"inputs": [{"id": deal["line_item_ids"][0]}, {"id": "404"}], "properties": []})
    assert partial.status_code == 207
    assert partial.json()["errors"][0]["context"]["ids"] == ["404"]


def test_pipelines_list_default_stages(api):
    body = api.get("/crm/pipelines/2026-09/deals").json()
    stages = {s["id"]: s for s in body["results"][0]["stages"]}
    assert body["results"][0]["id"] == "default"
    assert stages["closedwon"]["metadata"] == {"isClosed": "true", "probability": "1.0"}
    assert stages["closedlost"]["metadata"]["isClosed"] == "true"
    assert stages["appointmentscheduled"]["metadata"]["isClosed"] == "false"


# search -------------------------------------------------------------------------

def _search(api, body, otype="deals"):
    return api.post(f"/crm/objects/2026-09/{otype}/search", json=body)


def test_search_filters_sorts_and_paging(sb, api):
    sb.set_limits(search_per_second=1000)
    base = 1_714_644_000_000
    rows = [("A", "100", "closedwon", 0), ("B", "250.50", "closedwon", 1000), ("C", "999", "closedlost", 2000),
            ("D", "40", "contractsent", 3000), ("E", None, "closedwon", 4000)]
    ids = {}
    for name, amount, stage, offset in rows:
        props = {"dealname": name, "dealstage": stage} | ({"amount": amount} if amount else {})
        ids[name] = sb.create_deal(props, modified_at=base + offset)["id"]

    def names(body):
        answer = _search(api, body)
        assert answer.status_code == 200, answer.text
        return [r["properties"]["dealname"] for r in answer.json()["results"]]

    f = lambda prop, op, value=None, **kw: {"propertyName": prop, "operator": op, **({"value": value} if value is not None else {}), **kw}  # noqa: E731
    assert names({"filterGroups": [{"filters": [f("dealstage", "EQ", "closedwon")]}],
                  "properties": ["dealname"]}) == ["A", "B", "E"]
    assert names({"filterGroups": [{"filters": [f("dealstage", "NEQ", "closedwon")]}],
                  "properties": ["dealname"]}) == ["C", "D"]
    assert names({"filterGroups": [{"filters": [f("amount", "GT", "100")]}], "properties": ["dealname"]}) == ["B", "C"]
    assert names({"filterGroups": [{"filters": [f("amount", "LTE", "100")]}], "properties": ["dealname"]}) == ["A", "D"]
    assert names({"filterGroups": [{"filters": [f("amount", "BETWEEN", "50", highValue="300")]}],
                  "properties": ["dealname"]}) == ["A", "B"]
    assert names({"filterGroups": [{"filters": [f("dealstage", "IN", values=["closedlost", "contractsent"])]}],
                  "properties": ["dealname"]}) == ["C", "D"]
    assert names({"filterGroups": [{"filters": [f("amount", "HAS_PROPERTY")]}],
                  "properties": ["dealname"]}) == ["A", "B", "C", "D"]
    # Groups are ORed, filters inside a group ANDed.
    assert names({"filterGroups": [{"filters": [f("dealstage", "EQ", "closedwon"), f("amount", "GT", "200")]},
                                   {"filters": [f("dealname", "EQ", "d")]}], "properties": ["dealname"]}) == ["B", "D"]
    # Datetime filters take epoch ms or ISO text.
    cursor = {"filterGroups": [{"filters": [f("hs_lastmodifieddate", "GTE", str(base + 2000))]}],
              "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "DESCENDING"}],
              "properties": ["dealname"]}
    assert names(cursor) == ["E", "D", "C"]
    cursor["filterGroups"][0]["filters"][0]["value"] = "2024-05-02T10:00:02.000Z"
    assert names(cursor) == ["E", "D", "C"]

    collected, after = [], None
    while True:
        body = {"sorts": [{"propertyName": "amount", "direction": "ASCENDING"}], "limit": 2,
                "properties": ["dealname"]} | ({"after": after} if after else {})
        page = _search(api, body).json()
        assert page["total"] == 5
        collected += [r["properties"]["dealname"] for r in page["results"]]
        after = page.get("paging", {}).get("next", {}).get("after")
        if not after:
            break
    assert collected == ["D", "A", "B", "C", "E"]  # objects without the sort property come last


def test_search_limits_match_hubspot(sb, api):
    sb.set_limits(search_per_second=1000)
    one = {"propertyName": "dealname", "operator": "HAS_PROPERTY"}
    too_many_groups = _search(api, {"filterGroups": [{"filters": [one]}] * 6})
    assert too_many_groups.status_code == 400 and too_many_groups.json()["category"] == "VALIDATION_ERROR"
    assert _search(api, {"filterGroups": [{"filters": [one] * 10}] * 2}).status_code == 200
    assert _search(api, {"filterGroups": [{"filters": [one] * 11}]}).status_code == 400
    assert _search(api, {"filterGroups": [{"filters": [one] * 10}] * 2 + [{"filters": [one] * 6}]}).status_code == 400
    assert _search(api, {"limit": 201}).status_code == 400
    assert _search(api, {"filterGroups": [{"filters": [{"propertyName": "x", "operator": "LIKE"}]}]}).status_code == 400

    sb.generate_deals(count=10_050, line_items_per_deal=0, with_company=False, modified_step_ms=0)
    page = _search(api, {"limit": 200, "after": "9800"}).json()
    assert page["total"] == 10_050 and len(page["results"]) == 200
    assert page["paging"]["next"]["after"] == "10000"
    beyond = _search(api, {"limit": 200, "after": "10000"})
    assert beyond.status_code == 400 and beyond.json()["category"] == "VALIDATION_ERROR"


# associations ------------------------------------------------------------------------

def test_associations_batch_read_and_object_expansion(sb, api):
    company = sb.create_company({"name": "Dangote Retail Ltd", "tin": "01234567-0001", "country": "NG"})
    contact = sb.create_contact({"firstname": "Ada", "lastname": "Obi", "email": "ada@example.ng"})
    deal = sb.create_deal({"dealname": "With links"},
                          line_items=[{"name": "a", "price": "1"}, {"name": "b", "price": "2"}],
                          company_id=company["id"], contact_ids=[contact["id"]])
    bare = sb.create_deal({"dealname": "Alone"})

    items = api.post("/crm/associations/2026-09/deals/line_items/batch/read",
                     json={"inputs": [{"id": deal["id"]}]}).json()
    assert items["status"] == "COMPLETE"
    (result,) = items["results"]
    assert result["from"] == {"id": deal["id"]}
    assert [t["toObjectId"] for t in result["to"]] == [int(i) for i in deal["line_item_ids"]]
    assert result["to"][0]["associationTypes"] == [{"category": "HUBSPOT_DEFINED", "typeId": 19, "label": None}]

    companies = api.post("/crm/associations/2026-09/deals/companies/batch/read",
                         json={"inputs": [{"id": deal["id"]}, {"id": bare["id"]}]})
    assert companies.status_code == 207
    types = companies.json()["results"][0]["to"][0]["associationTypes"]
    assert {"category": "HUBSPOT_DEFINED", "typeId": 5, "label": "Primary"} in types
    assert companies.json()["errors"][0]["context"] == {"fromObjectId": [bare["id"]]}

    expanded = api.get(f"/crm/objects/2026-09/deals/{deal['id']}",
                       params=[("associations", "line_items"), ("associations", "contacts")]).json()
    assert expanded["associations"]["line_items"]["results"][0] == {"id": deal["line_item_ids"][0],
                                                                   "type": "deal_to_line_item"}
    assert expanded["associations"]["contacts"]["results"] == [{"id": contact["id"], "type": "deal_to_contact"}]


def test_association_reads_page_each_input_with_after(hs, sb, api):
    """Batch read pages each input's links: its result carries paging.next.after
    while that id has more (absent otherwise); {"id", "after"} reads the next page.
    The single-object read pages the same way; its link keeps the caller's version."""
    assert httpx.post(f"{hs.url}/_sandbox/associations/page-size", json={"size": 2}).json() == {
        "association_page_size": 2}
    big = sb.create_deal({"dealname": "Big"}, line_items=[{"name": f"i{n}", "price": "1"} for n in range(5)])
    small = sb.create_deal({"dealname": "Small"}, line_items=[{"name": "only", "price": "1"}])
    path = "/crm/associations/2026-09/deals/line_items/batch/read"

    seen, inputs, rounds = {big["id"]: [], small["id"]: []}, [{"id": big["id"]}, {"id": small["id"]}], 0
    while inputs:
        answer = api.post(path, json={"inputs": inputs})
        assert answer.status_code == 200
        rounds, inputs = rounds + 1, []
        for result in answer.json()["results"]:
            seen[result["from"]["id"]] += [str(t["toObjectId"]) for t in result["to"]]
            assert len(result["to"]) <= 2
            if "paging" in result:
                nxt = result["paging"]["next"]
                assert nxt["link"].startswith(f"{hs.url}/crm/objects/2026-09/deals/{result['from']['id']}/")
                inputs.append({"id": result["from"]["id"], "after": nxt["after"]})
    assert seen == {big["id"]: big["line_item_ids"], small["id"]: small["line_item_ids"]} and rounds == 3

    single = api.get(f"/crm/objects/2026-09/deals/{big['id']}/associations/line_items").json()
    assert [str(r["toObjectId"]) for r in single["results"]] == big["line_item_ids"][:2]
    assert single["paging"]["next"]["link"].startswith(f"{hs.url}/crm/objects/2026-09/deals/{big['id']}/")
    bad = api.post(path, json={"inputs": [{"id": big["id"], "after": "not-a-cursor"}]})
    assert bad.status_code == 400 and bad.json()["category"] == "VALIDATION_ERROR"
    sb.reset()
    assert sb.store.association_page_size == 500


def test_crm_paths_are_served_at_hubspot_date_versions_and_legacy_paths(sb, api):
    deal = sb.create_deal({"dealname": "Versioned"}, line_items=[{"name": "x", "price": "1"}])
    for objects, pipelines, associations in (
            ("/crm/objects/2026-09", "/crm/pipelines/2026-09", "/crm/associations/2026-09"),
            ("/crm/objects/2026-03", "/crm/pipelines/2026-03", "/crm/associations/2026-03"),
            ("/crm/v3/objects", "/crm/v3/pipelines", "/crm/v4/associations")):
        assert api.get(f"{objects}/deals/{deal['id']}").json()["properties"]["dealname"] == "Versioned"
        assert api.post(f"{objects}/deals/search", json={}).json()["total"] == 1
        assert api.get(f"{pipelines}/deals").json()["results"][0]["id"] == "default"
        links = api.post(f"{associations}/deals/line_items/batch/read", json={"inputs": [{"id": deal["id"]}]})
        assert links.json()["results"][0]["to"][0]["toObjectId"] == int(deal["line_item_ids"][0])
    assert api.get(f"/crm/objects/2025-09/deals/{deal['id']}").status_code == 404  # not a HubSpot release


# rate limits ------------------------------------------------------------------------------

def test_ten_secondly_limit_answers_429_with_headers(sb, api):
    sb.set_limits(ten_secondly=5)
    remaining = []
    for _ in range(5):
        answer = api.get("/crm/objects/2026-09/deals")
        assert answer.status_code == 200
        assert answer.headers["X-HubSpot-RateLimit-Max"] == "5"
        assert answer.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        assert "X-HubSpot-RateLimit-Secondly" in answer.headers
        assert "X-HubSpot-RateLimit-Daily" not in answer.headers  # OAuth calls have no daily limit
        remaining.append(int(answer.headers["X-HubSpot-RateLimit-Remaining"]))
    assert remaining == [4, 3, 2, 1, 0]
    limited = api.get("/crm/objects/2026-09/deals")
    assert limited.status_code == 429
    body = limited.json()
    assert body["status"] == "error" and body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert limited.headers["X-HubSpot-RateLimit-Remaining"] == "0"


def test_search_secondly_limit_private_app_daily_headers_and_forced_faults(hs, sb, api):
    sb.set_limits(search_per_second=1)
    first, second = _search(api, {}), _search(api, {})
    assert first.status_code == 200 and "X-HubSpot-RateLimit-Remaining" not in first.headers
    assert second.status_code == 429
    assert second.json()["policyName"] == "SECONDLY" and second.json()["errorType"] == "RATE_LIMIT"

    private = sb.issue_token(private=True)["access_token"]
    answer = httpx.get(f"{hs.url}/crm/objects/2026-09/deals", headers={"Authorization": f"Bearer {private}"})
    assert answer.status_code == 200 and "X-HubSpot-RateLimit-Daily-Remaining" in answer.headers

    sb.fail_next(2, status=429)
    assert [api.get("/crm/objects/2026-09/deals").status_code for _ in range(3)] == [429, 429, 200]
    sb.fail_next(1, status=500)
    assert api.get("/crm/objects/2026-09/deals").status_code == 500


# webhooks -----------------------------------------------------------------------------------

def test_stage_change_webhook_is_signed_v3_and_v1(sb, receiver):
    deal = sb.create_deal({"dealname": "Webhook deal", "amount": "500"}, notify=False)
    sb.move_deal_stage(deal["id"], "closedwon")
    assert sb.wait_for_webhooks(5)
    (request,) = receiver.requests
    assert request["valid"]  # our independent v3 check
    (event,) = request["events"]
    assert event["subscriptionType"] == "deal.propertyChange"
    assert event["propertyName"] == "dealstage" and event["propertyValue"] == "closedwon"
    assert event["objectId"] == int(deal["id"]) and event["portalId"] == sb.portal_id
    assert event["appId"] == sb.app_settings()["app_id"] and event["attemptNumber"] == 0
    assert isinstance(event["eventId"], int) and isinstance(event["occurredAt"], int)
    headers = {k.lower(): v for k, v in request["headers"].items()}
    secret = sb.app_settings()["client_secret"]
    assert headers["x-hubspot-signature-version"] == "v1"
    assert headers["x-hubspot-signature"] == hashlib.sha256((secret + request["body"]).encode()).hexdigest()
    # HubSpot's own validator accepts it too.
    from hubspot.utils.signature import Signature
    assert Signature.is_valid(signature=headers["x-hubspot-signature-v3"], client_secret=secret,
                              request_body=request["body"], http_uri=request["url"], http_method="POST",
                              signature_version="v3", timestamp=headers["x-hubspot-request-timestamp"])
    # The stage change moved hs_lastmodifieddate.
    after = sb.get_object("deals", deal["id"])
    assert after["properties"]["hs_lastmodifieddate"] > deal["properties"]["hs_lastmodifieddate"]
    assert sb.deliveries()[0]["state"] == "delivered"


def test_webhook_retries_on_500_and_429_but_not_on_400(sb, receiver):
    receiver.script = [(500, {}), (429, {"Retry-After": "100"}), (200, {})]
    deal = sb.create_deal({"dealname": "Retry me"})
    assert sb.wait_for_webhooks(10)
    (delivery,) = sb.deliveries()
    assert delivery["state"] == "delivered"
    assert [a["status"] for a in delivery["attempts"]] == [500, 429, 200]
    assert delivery["attempts"][0]["nextAttemptInSeconds"] == pytest.approx(60 * 0.001)
    assert delivery["attempts"][1]["nextAttemptInSeconds"] == pytest.approx(100 * 0.001)  # Retry-After wins
    events = [r["events"][0] for r in receiver.requests]
    assert {e["eventId"] for e in events} == {delivery["eventIds"][0]}
    assert [e["attemptNumber"] for e in events] == [0, 1, 2]
    assert events[0]["subscriptionType"] == "deal.creation" and events[0]["objectId"] == int(deal["id"])

    receiver.script = [(400, {})]
    sb.move_deal_stage(deal["id"], "closedlost")
    assert sb.wait_for_webhooks(10)
    last = sb.deliveries()[-1]
    assert last["state"] == "failed" and [a["status"] for a in last["attempts"]] == [400]


def test_webhook_gives_up_after_max_retries_on_connection_errors(sb):
    sb.webhooks.max_retries = 3
    sb.configure_app(webhook_url="http://127.0.0.1:9/closed")  # discard port: connection refused
    sb.create_deal({"dealname": "Nobody listens"})
    assert sb.wait_for_webhooks(10)
    (delivery,) = sb.deliveries()
    assert delivery["state"] == "gave_up"
    assert len(delivery["attempts"]) == 4 and all(a["error"] for a in delivery["attempts"])


def test_redelivery_keeps_event_id_and_tampered_deliveries_fail_verification(sb, receiver):
    sb.create_deal({"dealname": "Dup"})
    assert sb.wait_for_webhooks(5)
    event_id = sb.deliveries()[0]["eventIds"][0]
    sb.redeliver(event_id)
    for mode in ("tampered_body", "bad_signature", "old_timestamp", "wrong_secret"):
        sb.send_tampered(event_id, mode=mode)
    assert sb.wait_for_webhooks(5)
    assert [r["events"][0]["eventId"] for r in receiver.requests] == [event_id] * 6
    assert [r["valid"] for r in receiver.requests] == [True, True, False, False, False, False]
    log = sb.deliveries()
    assert [d["mode"] for d in log[1:]] == ["redelivery", "tampered_body", "bad_signature", "old_timestamp",
                                            "wrong_secret"]
    assert all(d["state"] == "failed" and len(d["attempts"]) == 1 for d in log[2:])


def test_api_patch_sends_one_batch_for_subscribed_properties(sb, api, receiver):
    deal = sb.create_deal({"dealname": "Batch", "amount": "10"}, notify=False)
    answer = api.patch(f"/crm/objects/2026-09/deals/{deal['id']}",
                       json={"properties": {"dealstage": "closedwon", "amount": "20", "dealname": "Renamed"}})
    assert answer.status_code == 200
    assert sb.wait_for_webhooks(5)
    (request,) = receiver.requests
    events = request["events"]
    assert {(e["propertyName"], e["propertyValue"]) for e in events} == {("dealstage", "closedwon"), ("amount", "20")}
    assert len({e["eventId"] for e in events}) == 2
    assert all(e["changeSource"] == "INTEGRATION" and e["sourceId"] == str(sb.app_settings()["app_id"])
               for e in events)


def test_association_change_and_deletion_events(sb, receiver):
    deal = sb.create_deal({"dealname": "Links"}, notify=False)
    company = sb.create_company({"name": "Buyer"}, notify=False)
    sb.associate("deals", deal["id"], "companies", company["id"], primary=True)
    sb.delete_object("deals", deal["id"])
    assert sb.wait_for_webhooks(5)
    events = [r["events"][0] for r in receiver.requests]
    assert [e["subscriptionType"] for e in events] == ["deal.associationChange", "deal.deletion"]
    assert events[0]["associationType"] == "DEAL_TO_COMPANY"
    assert events[0]["fromObjectId"] == int(deal["id"]) and events[0]["toObjectId"] == int(company["id"])
    assert events[1]["objectId"] == int(deal["id"])


def test_deleted_deals_are_archived(sb, api):
    keep, gone = sb.create_deal({"dealname": "Keep"}), sb.create_deal({"dealname": "Gone"})
    sb.delete_object("deals", gone["id"])
    assert [r["id"] for r in api.get("/crm/objects/2026-09/deals").json()["results"]] == [keep["id"]]
    assert api.get(f"/crm/objects/2026-09/deals/{gone['id']}").status_code == 404
    archived = api.get("/crm/objects/2026-09/deals", params={"archived": "true"}).json()["results"]
    assert [(r["id"], r["archived"]) for r in archived] == [(gone["id"], True)] and "archivedAt" in archived[0]


def test_control_api_over_http(hs, sb):
    with httpx.Client(base_url=hs.url) as c:
        seeded = c.post("/_sandbox/seed", json={
            "companies": [{"name": "Acme Nigeria Ltd", "tin": "11112222-0001"}],
            "deals": [{"properties": {"dealname": "Seeded", "amount": "100"}, "company": 0,
                       "line_items": [{"name": "Thing", "quantity": "1", "price": "100"}]}]}).json()
        deal_id = seeded["deals"][0]["id"]
        assert c.post(f"/_sandbox/deals/{deal_id}/stage", json={"stage": "closedwon"}).status_code == 200
        token = c.post("/_sandbox/tokens", json={}).json()["access_token"]
        got = c.get(f"/crm/objects/2026-09/deals/{deal_id}", headers={"Authorization": f"Bearer {token}"}).json()
        assert got["properties"]["dealstage"] == "closedwon"
        code = c.post("/_sandbox/authorize", json={"redirect_uri": REDIRECT, "scope": SCOPES}).json()["code"]
        assert _token(hs, sb, grant_type="authorization_code", redirect_uri=REDIRECT, code=code).status_code == 200
        assert c.post("/_sandbox/faults", json={"count": 1, "status": 503}).status_code == 200
        assert c.get("/crm/objects/2026-09/deals", headers={"Authorization": f"Bearer {token}"}).status_code == 503
        assert c.post("/_sandbox/reset").json() == {"reset": True}
        assert c.get("/_sandbox/state").json()["counts"]["deals"] == 0


# HubSpot's own client --------------------------------------------------------------------------

def test_official_hubspot_client_works_with_only_the_host_changed(hs, sb):
    hubspot = pytest.importorskip("hubspot")
    from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest
    from hubspot.crm.deals import PublicObjectSearchRequest, SimplePublicObjectInput

    sb.generate_deals(count=7, line_items_per_deal=2)
    token = sb.issue_token()
    client = hubspot.HubSpot(access_token=token["access_token"], host=hs.url)

    page = client.crm.deals.basic_api.get_page(limit=5, properties=["dealname", "amount"],
                                               associations=["line_items"])
    assert len(page.results) == 5 and page.paging.next.after
    first = page.results[0]
    assert first.properties["dealname"] == "Generated deal 1" and first.created_at.tzinfo is not None
    assert len(first.associations["line_items"].results) == 2
    rest = client.crm.deals.basic_api.get_page(limit=5, after=page.paging.next.after)
    assert len(rest.results) == 2 and rest.paging is None

    found = client.crm.deals.search_api.do_search(PublicObjectSearchRequest(
        filter_groups=[{"filters": [{"propertyName": "dealstage", "operator": "EQ", "value": "closedwon"}]}],
        sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "DESCENDING"}],
        properties=["dealname"], limit=3))
    assert found.total == 7 and [r.properties["dealname"] for r in found.results] == [
        "Generated deal 7", "Generated deal 6", "Generated deal 5"]

    updated = client.crm.deals.basic_api.update(first.id, SimplePublicObjectInput(properties={"amount": "1"}))
    assert updated.properties["amount"] == "1"

    links = client.crm.associations.v4.batch_api.get_page(
        "deals", "line_items", BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": first.id}]))
    assert links.results[0].to[0].association_types[0].type_id == 19

    # hubspot-api-client 12's OAuth APIs call the sunset v1 endpoints, which the sandbox no longer serves;
    # the 2026-03 endpoints are checked against a standard OAuth library above.
