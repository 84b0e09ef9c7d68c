"""Sandbox wire details not covered through the client: the control API,
the CDC feed, error shapes, and the token response shape."""
import httpx


def test_cdc_feed_replays_change_events(salesforce, seeded):
    base = salesforce.url
    everything = httpx.get(f"{base}/_sandbox/cdc", params={"replayId": -2}).json()
    latest = everything["latestReplayId"]
    assert {e["payload"]["ChangeEventHeader"]["changeType"] for e in everything["events"]} == {"CREATE"}
    assert httpx.get(f"{base}/_sandbox/cdc", params={"replayId": -1}).json()["events"] == []
    opp_id = seeded["opportunities"][0]["Id"]
    response = httpx.post(f"{base}/_sandbox/opportunities/{opp_id}", json={"StageName": "Closed Won"})
    assert response.status_code == 200 and response.json()["IsWon"] is True
    [event] = httpx.get(f"{base}/_sandbox/cdc", params={"replayId": latest,
                                                        "channel": "/data/OpportunityChangeEvent"}).json()["events"]
    header = event["payload"]["ChangeEventHeader"]
    assert event["replayId"] == latest + 1
    assert header["entityName"] == "Opportunity" and header["recordIds"] == [opp_id]
    assert header["changeType"] == "UPDATE"
    assert {"StageName", "IsWon", "IsClosed"} <= set(header["changedFields"])
    assert event["payload"]["StageName"] == "Closed Won"
    assert isinstance(header["commitTimestamp"], int) and header["transactionKey"] and header["sequenceNumber"] == 1


def test_control_api_limits_tokens_settings_and_state(salesforce, token):
    base = salesforce.url
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    assert httpx.post(f"{base}/_sandbox/limits", json={"daily_limit": 10, "used": 10}).status_code == 200
    over = httpx.get(f"{base}/services/data/v60.0/limits", headers=auth)
    assert over.status_code == 403 and over.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert over.headers["Sforce-Limit-Info"] == "api-usage=10/10"
    httpx.post(f"{base}/_sandbox/limits", json={"daily_limit": 100, "used": 0})
    assert httpx.get(f"{base}/services/data/v60.0/limits", headers=auth).headers["Sforce-Limit-Info"] == "api-usage=1/100"
    httpx.post(f"{base}/_sandbox/tokens", json={"expire_all": True})
    expired = httpx.get(f"{base}/services/data/v60.0/limits", headers=auth)
    assert expired.status_code == 401 and expired.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    state = httpx.get(f"{base}/_sandbox/state").json()
    assert state["instance_url"] == base and state["org_id"].startswith("00D") and len(state["org_id"]) == 18
    assert httpx.post(f"{base}/_sandbox/reset").json() == {"ok": True}
    assert httpx.get(f"{base}/_sandbox/state").json()["org_id"] != state["org_id"]


def test_unknown_paths_and_bad_versions_are_salesforce_not_found(salesforce, token):
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    for path in ("/services/data/vX/limits", "/services/data/v60.0/sobjects/Nope/001000000000000AAA"):
        response = httpx.get(salesforce.url + path, headers=auth)
        assert response.status_code == 404 and response.json()[0]["errorCode"] == "NOT_FOUND"


def test_token_endpoint_rejects_unknown_client_and_grant(salesforce):
    url = salesforce.url + "/services/oauth2/token"
    assert httpx.post(url, data={"grant_type": "password"}).json()["error"] == "unsupported_grant_type"
    answer = httpx.post(url, data={"grant_type": "refresh_token", "client_id": "nope", "refresh_token": "x"})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_client_id"


def test_authorize_refuses_unregistered_redirect(salesforce):
    salesforce.app.sandbox.configure_app(redirect_uris=["https://app.taxpoynt.example/cb"])
    page = httpx.get(salesforce.url + "/services/oauth2/authorize", params={
        "response_type": "code", "client_id": "demo-salesforce-client-id", "redirect_uri": "https://evil.example/cb"})
    assert page.status_code == 400 and "redirect_uri_mismatch" in page.text


def test_admin_revocation_ends_refresh_tokens_and_their_sessions(salesforce, token):
    base = salesforce.url
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    assert httpx.get(f"{base}/services/data/v60.0/limits", headers=auth).status_code == 200
    httpx.post(f"{base}/_sandbox/tokens", json={"revoke_all": True})
    assert httpx.get(f"{base}/services/data/v60.0/limits", headers=auth).status_code == 401
    refused = httpx.post(f"{base}/services/oauth2/token", data={
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"],
        "client_id": "demo-salesforce-client-id", "client_secret": "demo-salesforce-client-secret"})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_revoke_answers_invalid_token_and_fails_on_demand(salesforce, token):
    """POST revoke: 200, then 400 invalid_token for the revoked (or an
    unknown) token; faults answer 503 for their count, or until set again."""
    revoke = f"{salesforce.url}/services/oauth2/revoke"
    faults = f"{salesforce.url}/_sandbox/faults"
    fault = {"path": "/services/oauth2/revoke", "status": 503}
    assert httpx.put(faults, json={"faults": [{**fault, "count": 2}]}).status_code == 200
    assert [httpx.post(revoke, data={"token": token["refresh_token"]}).status_code for _ in range(2)] == [503, 503]
    assert httpx.post(revoke, data={"token": token["refresh_token"]}).status_code == 200
    gone = httpx.post(revoke, data={"token": token["refresh_token"]})
    assert gone.status_code == 400 and gone.json()["error"] == "invalid_token"
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    assert httpx.get(f"{salesforce.url}/services/data/v60.0/limits", headers=auth).status_code == 401
    httpx.put(faults, json={"faults": [{**fault, "count": None}]})
    assert [httpx.post(revoke, data={"token": "unknown"}).status_code for _ in range(3)] == [503, 503, 503]
    httpx.put(faults, json={"faults": []})
    assert httpx.post(revoke, data={"token": "unknown"}).json()["error"] == "invalid_token"


def test_fifteen_character_ids_match_in_soql(salesforce, seeded, token):
    opp_id = seeded["opportunities"][0]["Id"]
    response = httpx.get(f"{salesforce.url}/services/data/v60.0/query", headers={
        "Authorization": f"Bearer {token['access_token']}"}, params={
        "q": f"SELECT Id FROM Opportunity WHERE Id = '{opp_id[:15]}'"})
    assert [r["Id"] for r in response.json()["records"]] == [opp_id]
