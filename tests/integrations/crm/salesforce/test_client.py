"""SalesforceOAuth and SalesforceClient against the sandbox over real sockets:
every grant and its failures, revoke, paging, PATCH, limits and error mapping."""
import time
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import lxml.html
import pytest

from integrations.crm.salesforce import facts
from integrations.crm.salesforce.client import (
    LimitExceeded,
    OAuthConfigError,
    ReauthRequired,
    SalesforceApiError,
    SalesforceClient,
    SalesforceOAuth,
    SessionExpired,
    make_pkce_pair,
    parse_limit_info,
)
from integrations.crm.salesforce.jwt_bearer import build_assertion

REDIRECT = "http://127.0.0.1:8000/connections/salesforce/callback/"


def oauth_for(salesforce, secret="demo-salesforce-client-secret"):
    return SalesforceOAuth(salesforce.url, "demo-salesforce-client-id", secret)


def authorize(salesforce, oauth, *, challenge=None, state="st-123", decision="allow", scope="api refresh_token"):
    """Walk the consent page like a browser: GET, then submit its form."""
    page = httpx.get(oauth.authorize_url(redirect_uri=REDIRECT, state=state, scope=scope, code_challenge=challenge))
    assert page.status_code == 200
    form = lxml.html.fromstring(page.text).forms[0]
    buttons = {b.text_content(): b.get("value") for b in form.xpath(".//button")}
    assert "Allow" in buttons and "Deny" in buttons
    data = dict(form.fields)
    data["decision"] = buttons["Allow"] if decision == "allow" else buttons["Deny"]
    answer = httpx.post(salesforce.url + form.action, data=data, follow_redirects=False)
    assert answer.status_code == 302
    location = urlparse(answer.headers["Location"])
    assert location.geturl().startswith(REDIRECT)
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def test_code_flow_with_pkce_issues_tokens_without_expires_in(salesforce):
    oauth = oauth_for(salesforce)
    verifier, challenge = make_pkce_pair()
    back = authorize(salesforce, oauth, challenge=challenge)
    assert back["state"] == "st-123"
    tokens = oauth.exchange_code(code=back["code"], redirect_uri=REDIRECT, code_verifier=verifier)
    assert tokens.instance_url == salesforce.url
    assert tokens.refresh_token and "expires_in" not in tokens.raw
    assert tokens.raw["token_type"] == "Bearer"
    assert tokens.org_id == salesforce.app.sandbox.store.org_id
    assert oauth.verify_signature(tokens)
    # the token works on the instance
    assert "DailyApiRequests" in SalesforceClient(tokens.instance_url, tokens.access_token).limits()
    # a code is single-use
    with pytest.raises(ReauthRequired, match="expired authorization code"):
        oauth.exchange_code(code=back["code"], redirect_uri=REDIRECT, code_verifier=verifier)


def test_code_flow_rejects_wrong_verifier_secret_and_redirect(salesforce):
    oauth = oauth_for(salesforce)
    verifier, challenge = make_pkce_pair()
    code = authorize(salesforce, oauth, challenge=challenge)["code"]
    with pytest.raises(ReauthRequired, match="invalid code verifier"):
        oauth.exchange_code(code=code, redirect_uri=REDIRECT, code_verifier=make_pkce_pair()[0])
    code = authorize(salesforce, oauth, challenge=challenge)["code"]
    with pytest.raises(OAuthConfigError) as bad_secret:
        oauth_for(salesforce, secret="wrong").exchange_code(code=code, redirect_uri=REDIRECT, code_verifier=verifier)
    assert bad_secret.value.error_code == "invalid_client"
    with pytest.raises(OAuthConfigError) as bad_redirect:
        oauth.exchange_code(code=code, redirect_uri=REDIRECT + "x", code_verifier=verifier)
    assert bad_redirect.value.error_code == "redirect_uri_mismatch"


def test_denied_consent_redirects_with_access_denied(salesforce):
    back = authorize(salesforce, oauth_for(salesforce), decision="deny")
    assert back == {"error": "access_denied", "error_description": "end-user denied authorization", "state": "st-123"}


def test_refresh_keeps_refresh_token_then_fails_after_revoke(salesforce):
    oauth = oauth_for(salesforce)
    verifier, challenge = make_pkce_pair()
    tokens = oauth.exchange_code(code=authorize(salesforce, oauth, challenge=challenge)["code"],
                                 redirect_uri=REDIRECT, code_verifier=verifier)
    refreshed = oauth.refresh(refresh_token=tokens.refresh_token)
    assert "refresh_token" not in refreshed.raw  # no rotation by default
    assert refreshed.refresh_token == tokens.refresh_token
    assert refreshed.access_token != tokens.access_token
    api = SalesforceClient(refreshed.instance_url, refreshed.access_token)
    api.limits()
    oauth.revoke(token=tokens.refresh_token)
    # revoking the refresh token killed the access tokens issued from it
    with pytest.raises(SessionExpired):
        api.limits()
    with pytest.raises(ReauthRequired) as gone:
        oauth.refresh(refresh_token=tokens.refresh_token)
    assert gone.value.body == {"error": "invalid_grant", "error_description": "expired access/refresh token"}
    with pytest.raises(OAuthConfigError) as unknown:
        oauth.revoke(token="not-a-token")
    assert unknown.value.error_code == "invalid_token"


def test_rotating_refresh_mode_invalidates_the_old_refresh_token(salesforce):
    salesforce.app.sandbox.configure_app(refresh_mode="rotate")
    oauth = oauth_for(salesforce)
    tokens = oauth.exchange_code(code=authorize(salesforce, oauth)["code"], redirect_uri=REDIRECT)
    rotated = oauth.refresh(refresh_token=tokens.refresh_token)
    assert rotated.raw["refresh_token"] != tokens.refresh_token
    with pytest.raises(ReauthRequired):
        oauth.refresh(refresh_token=tokens.refresh_token)
    assert oauth.refresh(refresh_token=rotated.refresh_token).access_token


def test_jwt_bearer_grant(salesforce, jwt_keys):
    store = salesforce.app.sandbox.store
    oauth = oauth_for(salesforce)
    tokens = oauth.jwt_bearer(username=store.username, private_key_pem=jwt_keys[0])
    assert tokens.refresh_token == "" and "refresh_token" not in tokens.raw and "expires_in" not in tokens.raw
    assert tokens.instance_url == salesforce.url
    SalesforceClient(tokens.instance_url, tokens.access_token).limits()
    # the standard login hosts are accepted as audience too
    assert oauth.jwt_bearer(username=store.username, private_key_pem=jwt_keys[0],
                            audience=facts.LOGIN_URL_PRODUCTION).access_token


def _jwt_error(salesforce, assertion):
    response = httpx.post(salesforce.url + facts.TOKEN_PATH,
                          data={"grant_type": facts.JWT_BEARER_GRANT_TYPE, "assertion": assertion})
    assert response.status_code == 400
    return response.json()


def test_jwt_bearer_failures_each_say_why(salesforce, jwt_keys, other_jwt_keys):
    store = salesforce.app.sandbox.store
    key = jwt_keys[0]
    good = dict(consumer_key=store.app.consumer_key, username=store.username, audience=salesforce.url)
    assert _jwt_error(salesforce, build_assertion(**good, private_key_pem=other_jwt_keys[0])) == {
        "error": "invalid_grant", "error_description": "invalid assertion"}
    assert _jwt_error(salesforce, build_assertion(**{**good, "consumer_key": "someone"}, private_key_pem=key))[
        "error"] == "invalid_client_id"
    assert _jwt_error(salesforce, build_assertion(**{**good, "username": "nobody@x.example"}, private_key_pem=key)) == {
        "error": "invalid_grant", "error_description": "user hasn't approved this consumer"}
    assert _jwt_error(salesforce, build_assertion(**{**good, "audience": "https://evil.example"}, private_key_pem=key)) == {
        "error": "invalid_grant", "error_description": "audience is invalid"}
    expired = _jwt_error(salesforce, build_assertion(**good, private_key_pem=key, now=time.time() - 600))
    assert expired["error"] == "invalid_grant" and "expired" in expired["error_description"]
    too_long = _jwt_error(salesforce, build_assertion(**good, private_key_pem=key, lifetime=3600))
    assert too_long["error"] == "invalid_grant" and "too far" in too_long["error_description"]
    hs256 = jwt.encode({"iss": store.app.consumer_key, "sub": store.username, "aud": salesforce.url,
                        "exp": int(time.time()) + 60}, "shared-secret", algorithm="HS256")
    assert _jwt_error(salesforce, hs256)["error_description"] == "invalid assertion"
    # the client maps these: invalid_grant → re-auth, invalid_client_id → configuration
    with pytest.raises(ReauthRequired):
        oauth_for(salesforce).jwt_bearer(username="nobody@x.example", private_key_pem=key)
    with pytest.raises(OAuthConfigError):
        SalesforceOAuth(salesforce.url, "someone").jwt_bearer(username=store.username, private_key_pem=key)


def test_query_pages_follow_next_records_url(salesforce, seeded, token):
    sandbox = salesforce.app.sandbox
    sandbox.seed(opportunities=[{"Name": f"Deal {n}", "StageName": "Closed Won"} for n in range(6)])
    api = SalesforceClient(token["instance_url"], token["access_token"])
    pages = list(api.query_pages("SELECT Id, Name FROM Opportunity WHERE IsWon = true ORDER BY Name DESC"))
    assert [len(p["records"]) for p in pages] == [3, 3]  # batch size 3
    assert pages[0]["totalSize"] == 6 and pages[0]["done"] is False
    assert pages[0]["nextRecordsUrl"].startswith("/services/data/v60.0/query/01g")
    assert pages[0]["nextRecordsUrl"].endswith("-3")
    assert pages[-1]["done"] is True and "nextRecordsUrl" not in pages[-1]
    names = [r["Name"] for p in pages for r in p["records"]]
    assert names == [f"Deal {n}" for n in range(5, -1, -1)]
    assert api.api_usage.used == 2 and api.api_usage.max == 15000


def test_patch_write_back_is_visible_on_get(salesforce, seeded, token):
    api = SalesforceClient(token["instance_url"], token["access_token"])
    opp_id = seeded["opportunities"][0]["Id"]
    before = api.get("Opportunity", opp_id)
    api.update_opportunity(opp_id, {"TaxPoynt_Invoice_Number__c": "INV-000123", "TaxPoynt_IRN__c": "INV000123-94ND90NR-20260502",
                                    "TaxPoynt_Status__c": "confirmed"})
    after = api.get("Opportunity", opp_id)
    assert after["TaxPoynt_IRN__c"] == "INV000123-94ND90NR-20260502"
    assert after["TaxPoynt_Status__c"] == "confirmed"
    assert after["SystemModstamp"] >= before["SystemModstamp"]
    assert isinstance(after["Amount"], Decimal) and after["Amount"] == Decimal("4650000")
    with pytest.raises(SalesforceApiError) as readonly:
        api.update_opportunity(opp_id, {"IsWon": True})
    assert readonly.value.error_code == "INVALID_FIELD_FOR_INSERT_UPDATE" and readonly.value.body[0]["fields"] == ["IsWon"]
    with pytest.raises(SalesforceApiError) as unknown:
        api.update_opportunity(opp_id, {"Nope__c": "x"})
    assert unknown.value.error_code == "INVALID_FIELD"
    with pytest.raises(SalesforceApiError) as missing:
        api.get("Opportunity", "006000000000000AAA")
    assert missing.value.status_code == 404 and missing.value.error_code == "NOT_FOUND"


def test_request_limit_exceeded_maps_to_limit_exceeded(salesforce, token):
    sandbox = salesforce.app.sandbox
    sandbox.store.daily_limit = 3
    api = SalesforceClient(token["instance_url"], token["access_token"])
    limits = api.limits()
    assert limits["DailyApiRequests"] == {"Max": 3, "Remaining": 2}
    api.limits()
    api.limits()
    assert (api.api_usage.used, api.api_usage.remaining) == (3, 0)
    with pytest.raises(LimitExceeded) as exceeded:
        api.limits()
    assert exceeded.value.status_code == 403
    assert exceeded.value.body == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED",
                                    "fields": []}]


def test_expired_session_maps_to_session_expired(salesforce, token):
    api = SalesforceClient(token["instance_url"], token["access_token"])
    api.limits()
    salesforce.app.sandbox.store.expire_access_tokens()
    with pytest.raises(SessionExpired) as expired:
        api.limits()
    assert expired.value.status_code == 401
    assert expired.value.body[0]["errorCode"] == "INVALID_SESSION_ID"
    assert expired.value.body[0]["message"] == "Session expired or invalid"
    with pytest.raises(SessionExpired):
        SalesforceClient(token["instance_url"], "garbage").limits()


def test_parse_limit_info():
    assert parse_limit_info("api-usage=18/5000").used == 18
    usage = parse_limit_info("api-usage=25/5000; per-app-api-usage=17/250(appName=sample-connected-app)")
    assert (usage.used, usage.max, usage.remaining) == (25, 5000, 4975)
    assert parse_limit_info(None) is None and parse_limit_info("nothing") is None
