"""HubSpot OAuth through allauth's connect flow against the sandbox, token
refresh under the per-connection lock, needs-reauth, disconnect/revoke."""
import datetime
import json
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from django.db import connection as db_connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from integrations.connections.models import Connection, VendorExchange
from integrations.connections.oauth import NeedsReauth, connection_credentials, connection_get_access_token
from integrations.connections.services import (REVOKE_RETRY_DELAYS, connection_disconnect,
                                                connection_revoke_disconnected)
from integrations.connections.tasks import end_overdue_revocations, revoke_disconnected_account
from integrations.crm.hubspot.provider import CRM_API_VERSION
from taxpoynt.audit.models import AuditLog
from tests.concurrency import race
from tests.retries import run_retrying

from .fixtures import connect

TOKEN, INTROSPECT, REVOKE = "/oauth/2026-03/token", "/oauth/2026-03/token/introspect", "/oauth/2026-03/token/revoke"


def _revoke_at_hubspot(sandbox, refresh_token: str) -> httpx.Response:
    """The refresh token revoked outside TaxPoynt (the merchant uninstalled the app)."""
    app = sandbox.app_settings()
    return httpx.post(f"{sandbox.base_url}{REVOKE}", data={
        "client_id": app["client_id"], "client_secret": app["client_secret"], "token": refresh_token})


def _grant(authorize_url: str) -> str:
    """Play the merchant on the sandbox consent page; returns the redirect URL."""
    page = httpx.get(authorize_url)
    assert page.status_code == 200 and "Grant access" in page.text
    form = {k: v[0] for k, v in parse_qs(urlparse(authorize_url).query).items()}
    form["decision"] = "grant"
    action = authorize_url.split("?")[0]
    response = httpx.post(action, data=form)
    assert response.status_code == 302
    return response.headers["location"]


@pytest.mark.django_db
def test_connect_flow_creates_an_encrypted_connection(client, hubspot_org, sandbox, hubspot_sandbox, settings):
    client.force_login(hubspot_org.owner)
    response = client.post("/api/v1/crm/hubspot/connect", {"organization": str(hubspot_org.pk)},
                           content_type="application/json")
    assert response.status_code == 200, response.content
    url = response.json()["authorize_url"]
    query = parse_qs(urlparse(url).query)
    assert url.startswith(hubspot_sandbox.url + "/oauth/authorize?")
    assert query["redirect_uri"] == ["http://testserver/api/v1/crm/hubspot/callback"]
    assert "crm.objects.deals.read" in query["scope"][0].split()
    assert query["state"][0] and query["code_challenge_method"] == ["S256"]

    redirect = _grant(url)
    callback = urlparse(redirect)
    assert callback.path == "/api/v1/crm/hubspot/callback"
    response = client.get(callback.path + "?" + callback.query)
    conn = Connection.objects.get(organization=hubspot_org, vendor="hubspot")
    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/connections/{conn.pk}"
    assert conn.status == Connection.Status.CONNECTED
    assert conn.external_account_id == str(sandbox.portal_id)
    assert conn.token_expires_at > timezone.now() + datetime.timedelta(minutes=25)
    creds = connection_credentials(conn)
    assert creds["access_token"] and creds["refresh_token"]
    # Encrypted at rest: the column never holds the token text.
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM connections_connection WHERE id = %s", [conn.pk])
        stored = cursor.fetchone()[0]
    stored = bytes(stored).decode() if isinstance(stored, (bytes, memoryview)) else stored
    assert creds["access_token"] not in stored and creds["refresh_token"] not in stored
    # The delta sync is on the beat schedule, editable in admin.
    task = PeriodicTask.objects.get(pk=conn.periodic_task_id)
    assert task.enabled and json.loads(task.kwargs)["connection_id"] == str(conn.pk)
    # No allauth token rows: tokens live on the Connection only.
    from allauth.socialaccount.models import SocialToken

    assert not SocialToken.objects.exists()
    # The code exchange and the token lookup were recorded with secrets masked, on the 2026-03 OAuth API only.
    oauth_calls = VendorExchange.objects.filter(url__contains="/oauth/").order_by("at", "id")
    assert list(oauth_calls.values_list("method", "url", "status_code")) == [
        ("POST", hubspot_sandbox.url + TOKEN, 200), ("POST", hubspot_sandbox.url + INTROSPECT, 200)]
    for exchange in oauth_calls:
        logged = exchange.url + exchange.request_body + exchange.response_body
        assert creds["access_token"] not in logged and creds["refresh_token"] not in logged
        assert settings.VENDORS["hubspot"]["client_secret"] not in logged


@pytest.mark.django_db
def test_callback_with_a_forged_state_creates_nothing(client, hubspot_org, sandbox):
    client.force_login(hubspot_org.owner)
    url = client.post("/api/v1/crm/hubspot/connect", {}, content_type="application/json").json()["authorize_url"]
    redirect = urlparse(_grant(url))
    params = parse_qs(redirect.query)
    response = client.get(redirect.path, {"code": params["code"][0], "state": "forged-state"})
    # allauth refuses an unknown state; the merchant is told so on the connections page.
    assert (response.status_code, response["Location"]) == (302, "/dashboard/connections/")
    assert not Connection.objects.exists()


@pytest.mark.django_db
def test_dashboard_connect_button_redirects_to_hubspot(client, hubspot_org, hubspot_sandbox):
    client.force_login(hubspot_org.owner)
    page = client.get("/dashboard/connections/")
    assert page.status_code == 200 and b"Connect HubSpot" in page.content
    response = client.post("/dashboard/connections/connect/hubspot")
    assert response.status_code == 302
    assert response["Location"].startswith(hubspot_sandbox.url + "/oauth/authorize?")


@pytest.mark.django_db
def test_connect_needs_membership(client, make_user, hubspot_org, sandbox):
    stranger = make_user()
    client.force_login(stranger)
    response = client.post("/api/v1/crm/hubspot/connect", {"organization": str(hubspot_org.pk)},
                           content_type="application/json")
    assert response.status_code == 404


@pytest.mark.django_db
def test_fresh_token_is_used_without_refresh(hubspot_connection):
    before = connection_credentials(hubspot_connection)["access_token"]
    assert connection_get_access_token(connection=hubspot_connection) == before
    assert not VendorExchange.objects.filter(url__contains=TOKEN).exists()


@pytest.mark.django_db(transaction=True)
def test_refresh_race_refreshes_once(hubspot_org, sandbox):
    conn = connect(hubspot_org, sandbox)
    Connection.objects.filter(pk=conn.pk).update(token_expires_at=timezone.now() + datetime.timedelta(seconds=30))
    old = connection_credentials(conn)["access_token"]
    results = race(4, lambda: connection_get_access_token(connection=Connection.objects.get(pk=conn.pk)))
    assert len(set(results)) == 1 and results[0] != old
    assert VendorExchange.objects.filter(url__endswith=TOKEN, method="POST").count() == 1
    conn.refresh_from_db()
    assert conn.token_expires_at > timezone.now() + datetime.timedelta(minutes=25)
    # The new token works against the API.
    with httpx.Client() as http:
        r = http.get(f"{sandbox.base_url}/crm/objects/{CRM_API_VERSION}/deals", headers={"Authorization": f"Bearer {results[0]}"})
    assert r.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_dead_refresh_token_marks_needs_reauth(client, hubspot_org, sandbox):
    conn = connect(hubspot_org, sandbox)
    refresh = connection_credentials(conn)["refresh_token"]
    assert _revoke_at_hubspot(sandbox, refresh).status_code == 200
    Connection.objects.filter(pk=conn.pk).update(token_expires_at=timezone.now() - datetime.timedelta(seconds=1))
    conn.refresh_from_db()
    with pytest.raises(NeedsReauth):
        connection_get_access_token(connection=conn)
    conn.refresh_from_db()
    assert conn.status == Connection.Status.NEEDS_REAUTH
    assert "refresh" in conn.last_error
    # HubSpot's refusal, in the 2026-03 error shape, was read from the token endpoint.
    refused = VendorExchange.objects.get(connection=conn, url__endswith=TOKEN)
    assert refused.method == "POST" and refused.status_code == 400
    assert json.loads(refused.response_body)["error"] == "invalid_grant"
    # Visible on the dashboard (banner with reconnect) …
    client.force_login(hubspot_org.owner)
    page = client.get(f"/dashboard/connections/{conn.pk}")
    assert b"needs to be re-authorized" in page.content and b"Reconnect HubSpot" in page.content
    # … and in the API.
    data = client.get(f"/api/v1/connections/{conn.pk}").json()
    assert data["status"] == "needs_reauth"


@pytest.mark.django_db
def test_disconnect_revokes_upstream_and_wipes_secrets(client, hubspot_org, sandbox, hubspot_connection):
    refresh = connection_credentials(hubspot_connection)["refresh_token"]
    client.force_login(hubspot_org.owner)
    response = client.delete(f"/api/v1/connections/{hubspot_connection.pk}")
    assert response.status_code == 204
    conn = Connection.objects.get(pk=hubspot_connection.pk)
    assert conn.status == Connection.Status.DISCONNECTED and conn.credentials == "" and conn.token_expires_at is None
    assert sandbox.store.tokens[refresh].revoked
    assert AuditLog.objects.filter(action="disconnect", object_id=str(conn.pk)).exists()


@pytest.mark.django_db
def test_disconnect_wipes_secrets_even_when_upstream_is_down(hubspot_org, sandbox, hubspot_connection, settings):
    """HubSpot unreachable: disconnected all the same; of the secrets only the
    refresh token stays (encrypted), the one thing asking again needs."""
    refresh = connection_credentials(hubspot_connection)["refresh_token"]
    settings.VENDORS = {**settings.VENDORS, "hubspot": {**settings.VENDORS["hubspot"],
                                                        "base_url": "http://127.0.0.1:9"}}
    conn = connection_disconnect(connection=hubspot_connection)
    assert conn.status == Connection.Status.DISCONNECTED and conn.token_expires_at is None
    assert json.loads(conn.credentials) == {"refresh_token": refresh} and conn.revoke_pending_until is not None


def _revoke_calls(conn) -> int:
    return VendorExchange.objects.filter(connection=conn, method="POST", url__endswith=REVOKE).count()


@pytest.mark.django_db
def test_a_revocation_hubspot_did_not_confirm_is_asked_again_until_it_confirms(
        client, hubspot_org, sandbox, hubspot_connection, django_capture_on_commit_callbacks):
    """HubSpot failing the revocation at disconnect: only the refresh token stays
    (encrypted), the merchant sees the revocation pending, and the retry
    deletes it once HubSpot recovers, then erases it."""
    refresh = connection_credentials(hubspot_connection)["refresh_token"]
    client.force_login(hubspot_org.owner)
    sandbox.fail_next(3, status=503, path_prefix=REVOKE)  # the disconnect's call, then the retry's first two
    with django_capture_on_commit_callbacks(execute=False) as later:
        client.post(f"/dashboard/connections/{hubspot_connection.pk}/disconnect", {"confirm": "yes"})
    conn = Connection.objects.get(pk=hubspot_connection.pk)
    assert conn.status == Connection.Status.DISCONNECTED and json.loads(conn.credentials) == {"refresh_token": refresh}
    assert conn.revoke_pending_until > timezone.now() + datetime.timedelta(hours=7)
    assert "TaxPoynt keeps asking HubSpot to revoke it" in conn.last_error
    assert not sandbox.store.tokens[refresh].revoked and len(later) == 1
    # The merchant sees it on the connections page, the connection's page and the API.
    assert b"revocation pending" in client.get("/dashboard/connections/").content
    assert b'id="revoke-pending"' in client.get(f"/dashboard/connections/{conn.pk}").content
    assert client.get(f"/api/v1/connections/{conn.pk}").json()["revoke_pending_until"] is not None

    assert run_retrying(revoke_disconnected_account, connection_id=str(conn.pk)) == (None, [60, 120])
    conn.refresh_from_db()
    assert sandbox.store.tokens[refresh].revoked and _revoke_calls(conn) == 4
    assert conn.credentials == "" and conn.revoke_pending_until is None and conn.last_error == ""
    assert b"revocation pending" not in client.get("/dashboard/connections/").content
    assert client.get(f"/api/v1/connections/{conn.pk}").json()["revoke_pending_until"] is None


@pytest.mark.django_db
def test_a_revocation_hubspot_never_confirms_is_given_up_after_the_window(hubspot_org, sandbox, hubspot_connection):
    """Every retry fails: the task stops after its last one (about 7 hours
    of backing off), erases the refresh token, and the warning tells the
    merchant to remove TaxPoynt in HubSpot."""
    refresh = connection_credentials(hubspot_connection)["refresh_token"]
    sandbox.fail_next(None, status=500, path_prefix=REVOKE)
    try:
        conn = connection_disconnect(connection=hubspot_connection)
        _, waits = run_retrying(revoke_disconnected_account, connection_id=str(conn.pk))
    finally:
        sandbox.clear_faults()
    conn.refresh_from_db()
    assert waits == list(REVOKE_RETRY_DELAYS) and 7 * 3600 < sum(waits) < 7.1 * 3600
    assert _revoke_calls(conn) == 1 + 1 + len(REVOKE_RETRY_DELAYS)  # the disconnect, the first run, each retry
    assert conn.credentials == "" and conn.revoke_pending_until is None
    assert "stopped asking after 7 hours" in conn.last_error
    assert "Remove TaxPoynt from the apps connected to your HubSpot account" in conn.last_error
    assert not sandbox.store.tokens[refresh].revoked


@pytest.mark.django_db
def test_a_revocation_whose_retry_task_was_lost_is_ended_by_the_beat_sweep(hubspot_org, sandbox, hubspot_connection):
    """The retry task never ran (the broker lost it): within its window the
    pending revocation is left to the task; past it (and the sweep's grace)
    the sweep asks HubSpot a last time and erases the kept token, so no
    token outlives the window."""
    refresh = connection_credentials(hubspot_connection)["refresh_token"]
    sandbox.fail_next(1, status=503, path_prefix=REVOKE)
    conn = connection_disconnect(connection=hubspot_connection)
    assert conn.revoke_pending_until is not None
    assert end_overdue_revocations.apply().get() == 0
    conn.refresh_from_db()
    assert json.loads(conn.credentials) == {"refresh_token": refresh} and _revoke_calls(conn) == 1

    Connection.objects.filter(pk=conn.pk).update(revoke_pending_until=timezone.now() - datetime.timedelta(minutes=16))
    assert end_overdue_revocations.apply().get() == 1
    conn.refresh_from_db()
    assert conn.credentials == "" and conn.revoke_pending_until is None and conn.last_error == ""
    assert sandbox.store.tokens[refresh].revoked and _revoke_calls(conn) == 2
    assert PeriodicTask.objects.get(task="integrations.connections.tasks.end_overdue_revocations").enabled


@pytest.mark.django_db
def test_the_revocation_is_not_asked_again_once_the_portal_is_connected_again(
        hubspot_org, sandbox, hubspot_connection, make_org):
    """Connected again in the same organization (the same row), or in
    another: the retry asks HubSpot nothing, and the new tokens stay."""
    from integrations.connections.oauth import connection_authorize
    from integrations.connections.registry import TokenSet

    def reconnect(org):
        tokens = sandbox.issue_token()
        return connection_authorize(organization=org, provider_key="hubspot", token=TokenSet(
            access_token=tokens["access_token"], refresh_token=tokens["refresh_token"], expires_in=1800),
            account={"external_account_id": str(sandbox.portal_id), "display_name": "sandbox portal"})

    sandbox.fail_next(1, status=503, path_prefix=REVOKE)
    old_refresh = connection_credentials(hubspot_connection)["refresh_token"]
    conn = connection_disconnect(connection=hubspot_connection)
    again = reconnect(hubspot_org)
    assert again.pk == conn.pk and again.revoke_pending_until is None
    assert connection_credentials(again)["refresh_token"] != old_refresh
    assert revoke_disconnected_account.apply(kwargs={"connection_id": str(conn.pk)}).successful()
    again.refresh_from_db()
    assert _revoke_calls(conn) == 1 and again.status == Connection.Status.CONNECTED
    assert connection_credentials(again)["access_token"]

    # Disconnected unconfirmed again, then the portal connected by another organization.
    sandbox.fail_next(1, status=503, path_prefix=REVOKE)
    conn = connection_disconnect(connection=again)
    elsewhere = reconnect(make_org())
    assert revoke_disconnected_account.apply(kwargs={"connection_id": str(conn.pk)}).successful()
    conn.refresh_from_db()
    assert _revoke_calls(conn) == 2 and conn.credentials == "" and conn.revoke_pending_until is None
    assert "connected to TaxPoynt again" in conn.last_error
    assert connection_credentials(Connection.objects.get(pk=elsewhere.pk))["refresh_token"]


@pytest.mark.django_db
def test_a_token_hubspot_no_longer_knows_counts_as_revoked(hubspot_org, sandbox, hubspot_connection):
    """Revoked meanwhile (the merchant uninstalled the app): HubSpot's answer
    to the retry for the token it no longer knows ends the pending revocation
    as confirmed."""
    refresh = connection_credentials(hubspot_connection)["refresh_token"]
    sandbox.fail_next(1, status=503, path_prefix=REVOKE)
    conn = connection_disconnect(connection=hubspot_connection)
    assert _revoke_at_hubspot(sandbox, refresh).status_code == 200
    connection_revoke_disconnected(connection_id=conn.pk)
    conn.refresh_from_db()
    assert conn.credentials == "" and conn.revoke_pending_until is None and conn.last_error == ""
    assert list(VendorExchange.objects.filter(connection=conn, url__endswith=REVOKE).order_by("at", "id").values_list(
        "method", "status_code")) == [("POST", 503), ("POST", 200)]


@pytest.mark.django_db
def test_connect_refresh_and_disconnect_call_only_the_2026_03_oauth_api(client, hubspot_org, sandbox, hubspot_sandbox):
    """The whole life of a connection (code exchange, token lookup, refresh,
    revocation) calls HubSpot's date-versioned OAuth API, with every
    credential in the form body: the sunset v1 endpoints are never called."""
    client.force_login(hubspot_org.owner)
    url = client.post("/api/v1/crm/hubspot/connect", {}, content_type="application/json").json()["authorize_url"]
    callback = urlparse(_grant(url))
    assert client.get(callback.path + "?" + callback.query).status_code == 302
    conn = Connection.objects.get(organization=hubspot_org, vendor="hubspot")
    first = connection_credentials(conn)
    Connection.objects.filter(pk=conn.pk).update(token_expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert connection_get_access_token(connection=Connection.objects.get(pk=conn.pk)) != first["access_token"]
    assert client.delete(f"/api/v1/connections/{conn.pk}").status_code == 204

    oauth_calls = VendorExchange.objects.filter(url__contains="/oauth/").order_by("at", "id")
    base = hubspot_sandbox.url
    assert not VendorExchange.objects.exclude(url__startswith=base + "/crm/").exclude(
        pk__in=oauth_calls.values("pk")).exists()
    assert list(oauth_calls.values_list("method", "url", "status_code")) == [
        ("POST", base + TOKEN, 200), ("POST", base + INTROSPECT, 200),
        ("POST", base + TOKEN, 200), ("POST", base + REVOKE, 200)]
    bodies = [parse_qs(e.request_body) for e in oauth_calls]
    assert [b["grant_type"] for b in bodies[::2]] == [["authorization_code"], ["refresh_token"]]
    assert bodies[1]["token"] == bodies[3]["token"] == ["***"]  # the token rides in the body, masked in the log
    assert all(b["client_id"] == [sandbox.app_settings()["client_id"]] and b["client_secret"] == ["***"]
               for b in bodies)
    assert sandbox.store.tokens[first["refresh_token"]].revoked
    conn.refresh_from_db()
    assert conn.status == Connection.Status.DISCONNECTED and conn.revoke_pending_until is None


@pytest.mark.django_db
def test_disconnect_of_a_token_hubspot_no_longer_knows_is_confirmed_at_once(hubspot_org, sandbox):
    """A refresh token HubSpot has never issued, or has revoked already: the
    revocation answers as done, so nothing is kept to ask again."""
    conn = connect(hubspot_org, sandbox)
    credentials = {**connection_credentials(conn), "refresh_token": "na1-never-issued"}
    Connection.objects.filter(pk=conn.pk).update(credentials=json.dumps(credentials))
    conn = connection_disconnect(connection=Connection.objects.get(pk=conn.pk))
    assert conn.status == Connection.Status.DISCONNECTED and conn.credentials == ""
    assert conn.revoke_pending_until is None and conn.last_error == ""
    assert list(VendorExchange.objects.filter(connection=conn).values_list("method", "url", "status_code")) == [
        ("POST", sandbox.base_url + REVOKE, 200)]


@pytest.mark.django_db
def test_a_revocation_refused_as_an_invalid_token_counts_as_done(hubspot_org, sandbox, hubspot_connection):
    """HubSpot calling the token invalid (RFC 6749's invalid_grant with the
    legacy BAD_REFRESH_TOKEN) rather than answering 200: revoked all the same.
    Any other refusal is not: the revocation stays pending."""
    sandbox.fail_next(1, path_prefix=REVOKE, oauth_error="BAD_REFRESH_TOKEN")
    conn = connection_disconnect(connection=hubspot_connection)
    assert conn.credentials == "" and conn.revoke_pending_until is None and conn.last_error == ""
    refused = VendorExchange.objects.get(connection=conn, url__endswith=REVOKE)
    assert refused.status_code == 400 and json.loads(refused.response_body)["error"] == "invalid_grant"

    other = connect(hubspot_org, sandbox)
    sandbox.fail_next(1, path_prefix=REVOKE, oauth_error="BAD_CLIENT_SECRET")
    other = connection_disconnect(connection=other)
    assert other.revoke_pending_until is not None and "did not confirm" in other.last_error


@pytest.mark.django_db
def test_other_tenants_cannot_delete(client, make_user, make_org, hubspot_connection):
    other = make_user()
    make_org(owner=other)
    client.force_login(other)
    assert client.delete(f"/api/v1/connections/{hubspot_connection.pk}").status_code == 404
    hubspot_connection.refresh_from_db()
    assert hubspot_connection.status == Connection.Status.CONNECTED


@pytest.mark.django_db
def test_trigger_rule_is_read_from_the_portal_pipelines(hubspot_org, sandbox):
    from integrations.connections.services import connection_discover_trigger_rule

    sandbox.store.pipelines.append({"id": "777", "label": "Enterprise", "displayOrder": 1, "stages": [
        {"id": "9001", "label": "Signed", "displayOrder": 0, "metadata": {"isClosed": "true", "probability": "1.0"}},
        {"id": "9002", "label": "Dropped", "displayOrder": 1, "metadata": {"isClosed": "true", "probability": "0.0"}},
        {"id": "9003", "label": "Talking", "displayOrder": 2, "metadata": {"isClosed": "false", "probability": "0.5"}},
    ]})
    conn = connect(hubspot_org, sandbox)
    Connection.objects.filter(pk=conn.pk).update(trigger_rule={})
    conn.refresh_from_db()
    conn = connection_discover_trigger_rule(connection=conn)
    assert conn.trigger_rule["won_stages"] == ["closedwon", "777:9001"]
    assert conn.trigger_rule["lost_stages"] == ["closedlost", "777:9002"]
    # A merchant's own rule is never overwritten by a reconnect.
    Connection.objects.filter(pk=conn.pk).update(trigger_rule={"won_stages": ["contractsent"]})
    conn.refresh_from_db()
    assert connection_discover_trigger_rule(connection=conn).trigger_rule == {"won_stages": ["contractsent"]}
