"""Connecting Salesforce both ways against the sandbox (real sockets): the
web server flow through the dashboard and django-allauth (state, PKCE), the
JWT bearer flow; instance URL, org id and a listener token kept per
connection; invalid_grant → needs re-authorization; revoke on disconnect."""
import json
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from django.utils import timezone

from integrations.connections.models import Connection
from integrations.connections.oauth import (NeedsReauth, connection_credentials,
                                            connection_refresh_rejected_token)
from integrations.connections.services import RevokeUnconfirmed, connection_disconnect, connection_revoke_disconnected
from integrations.connections.tasks import revoke_disconnected_account
from integrations.crm.salesforce.ids import to_18
from integrations.crm.salesforce.oauth import connection_connect_jwt
from taxpoynt.errors import ApplicationError
from tests.retries import run_retrying

from .wiring import sf, sf_connection  # noqa: F401

pytestmark = pytest.mark.django_db


def _stored(conn) -> str:
    from django.db import connection as db

    with db.cursor() as cursor:
        cursor.execute(f"SELECT credentials FROM {Connection._meta.db_table} WHERE id = %s", [conn.pk])
        value = cursor.fetchone()[0]
        return bytes(value).decode("latin-1") if isinstance(value, (bytes, memoryview)) else value


def _connect_web(client, sf, owner):
    client.force_login(owner)
    start = client.post("/dashboard/connections/connect/salesforce")
    assert start.status_code == 302
    authorize = start["Location"]
    assert authorize.startswith(sf.url + "/services/oauth2/authorize?")
    params = parse_qs(urlparse(authorize).query)
    assert params["code_challenge_method"] == ["S256"] and params["state"]
    assert httpx.get(authorize).status_code == 200  # the consent page
    form = {k: v[0] for k, v in params.items()} | {"decision": "allow"}
    granted = httpx.post(sf.url + "/services/oauth2/authorize", data=form)
    assert granted.status_code == 302
    back = urlparse(granted.headers["location"])
    return client.get(back.path + "?" + back.query)


def test_web_server_flow_connects_through_the_dashboard(client, sf, make_org, make_user):
    owner = make_user()
    org = make_org(owner=owner, name="Adaeze Trading Ltd")
    callback = _connect_web(client, sf, owner)
    assert callback.status_code == 302, callback.content[:500]
    conn = Connection.objects.get(organization=org, vendor="salesforce")
    assert callback["Location"] == f"/dashboard/connections/{conn.pk}"
    store = sf.app.sandbox.store
    assert conn.status == Connection.Status.CONNECTED and conn.external_account_id == to_18(store.org_id)
    creds = connection_credentials(conn)
    assert creds["instance_url"] == sf.url and creds["flow"] == "web"
    assert creds["access_token"] and creds["refresh_token"] and len(creds["webhook_token"]) >= 32
    assert conn.token_expires_at is None  # Salesforce sends no expires_in
    from django_celery_beat.models import PeriodicTask

    assert PeriodicTask.objects.get(name="salesforce write-back").task.endswith("tasks.writeback_due")
    assert PeriodicTask.objects.get(pk=conn.periodic_task_id).enabled  # the delta sync beat
    assert "webhook_token" not in _stored(conn)  # encrypted at rest
    # A session expires: the refresh-token grant gives a new one (no rotation).
    new = connection_refresh_rejected_token(connection=conn, rejected_access_token=creds["access_token"])
    assert new != creds["access_token"]
    assert connection_credentials(conn)["refresh_token"] == creds["refresh_token"]
    # A second worker holding the old token does not refresh again.
    assert connection_refresh_rejected_token(connection=conn, rejected_access_token=creds["access_token"]) == new
    # Reconnecting keeps the listener token (the org's outbound action points at it).
    client.logout()
    _connect_web(client, sf, owner)
    conn.refresh_from_db()
    assert connection_credentials(conn)["webhook_token"] == creds["webhook_token"]


def test_revoked_refresh_token_needs_reauth(client, sf, make_org, make_user):
    owner = make_user()
    make_org(owner=owner)
    _connect_web(client, sf, owner)
    conn = Connection.objects.get(vendor="salesforce")
    creds = connection_credentials(conn)
    sf.app.sandbox.store.revoke(creds["refresh_token"])
    with pytest.raises(NeedsReauth):
        connection_refresh_rejected_token(connection=conn, rejected_access_token=creds["access_token"])
    conn.refresh_from_db()
    assert conn.status == Connection.Status.NEEDS_REAUTH and "invalid_grant" in conn.last_error


def test_jwt_bearer_connects_and_stores_the_key_encrypted(sf, sf_connection, jwt_keys):
    creds = connection_credentials(sf_connection)
    assert creds["flow"] == "jwt" and creds["private_key_pem"] == jwt_keys[0].decode()
    assert "PRIVATE KEY" not in _stored(sf_connection)  # encrypted at rest
    assert sf_connection.external_account_id == to_18(sf.app.sandbox.store.org_id)
    assert creds["instance_url"] == sf.url and "refresh_token" not in creds


def test_jwt_with_a_key_the_app_does_not_know_is_refused(sf, make_org, other_jwt_keys):
    with pytest.raises(ApplicationError) as caught:
        connection_connect_jwt(organization=make_org(), username=sf.app.sandbox.store.username,
                               private_key_pem=other_jwt_keys[0].decode())
    assert caught.value.code == "oauth_jwt_refused"
    assert not Connection.objects.filter(vendor="salesforce").exists()


def test_disconnect_revokes_upstream(sf, sf_connection):
    token = connection_credentials(sf_connection)["access_token"]
    connection_disconnect(connection=sf_connection)
    sf_connection.refresh_from_db()
    assert sf_connection.status == Connection.Status.DISCONNECTED and sf_connection.credentials == ""
    assert token not in sf.app.sandbox.store.access_tokens


def test_disconnect_revokes_at_the_login_host_the_connection_used(sf, settings, make_org, jwt_keys):
    """A JWT connection made through its own login host (My Domain, or
    test.salesforce.com for a sandbox org) is revoked there, on the
    disconnect and on a retry, not at the app's default login host."""
    conn = connection_connect_jwt(organization=make_org(), username=sf.app.sandbox.store.username,
                                  private_key_pem=jwt_keys[0].decode(), login_url=sf.url)
    token = connection_credentials(conn)["access_token"]
    vendor = settings.VENDORS["salesforce"]
    settings.VENDORS = {**settings.VENDORS, "salesforce": {**vendor, "base_url": "http://127.0.0.1:9"}}
    sf.app.sandbox.set_faults([{**REVOKE_FAULT, "count": 1}])  # the disconnect's call: the retry's is answered
    conn = connection_disconnect(connection=conn)
    assert json.loads(conn.credentials) == {"access_token": token, "login_url": sf.url}
    connection_revoke_disconnected(connection_id=conn.pk)
    conn.refresh_from_db()
    assert conn.credentials == "" and conn.revoke_pending_until is None and conn.last_error == ""
    assert token not in sf.app.sandbox.store.access_tokens


REVOKE_FAULT = {"path": "/services/oauth2/revoke", "status": 503}


def test_a_revocation_salesforce_did_not_confirm_is_asked_again_until_it_confirms(client, sf, make_org, make_user):
    """Web server flow: the refresh token is all that stays, and the retry
    revokes it once Salesforce recovers (its sessions end with it)."""
    owner = make_user()
    org = make_org(owner=owner)
    _connect_web(client, sf, owner)
    conn = Connection.objects.get(organization=org, vendor="salesforce")
    creds = connection_credentials(conn)
    store = sf.app.sandbox.store
    sf.app.sandbox.set_faults([{**REVOKE_FAULT, "count": 2}])  # the disconnect's call and the retry's first
    conn = connection_disconnect(connection=conn)
    assert json.loads(conn.credentials) == {"refresh_token": creds["refresh_token"]}
    assert conn.revoke_pending_until is not None and creds["refresh_token"] in store.refresh_tokens
    assert run_retrying(revoke_disconnected_account, connection_id=str(conn.pk)) == (None, [60])
    conn.refresh_from_db()
    assert conn.credentials == "" and conn.revoke_pending_until is None and conn.last_error == ""
    assert creds["refresh_token"] not in store.refresh_tokens and creds["access_token"] not in store.access_tokens


def test_a_salesforce_revocation_asked_past_its_window_is_given_up(sf, sf_connection):
    """JWT bearer flow (no refresh token): the access token is kept. A retry
    running after the window (its worker was down) asks once more, then
    erases the token and tells the merchant what to do."""
    token = connection_credentials(sf_connection)["access_token"]
    sf.app.sandbox.set_faults([{**REVOKE_FAULT, "count": None}])
    try:
        conn = connection_disconnect(connection=sf_connection)
        assert json.loads(conn.credentials) == {"access_token": token}
        with pytest.raises(RevokeUnconfirmed):
            connection_revoke_disconnected(connection_id=conn.pk)
        Connection.objects.filter(pk=conn.pk).update(revoke_pending_until=timezone.now())
        connection_revoke_disconnected(connection_id=conn.pk)
    finally:
        sf.app.sandbox.set_faults([])
    conn.refresh_from_db()
    assert conn.credentials == "" and conn.revoke_pending_until is None
    assert "TaxPoynt stopped asking" in conn.last_error and "Remove TaxPoynt" in conn.last_error
    assert token in sf.app.sandbox.store.access_tokens  # never confirmed: nothing was revoked


def test_a_token_salesforce_calls_invalid_counts_as_revoked(sf, sf_connection):
    """Revoked meanwhile (an admin blocked the app): Salesforce answers 400
    invalid_token to the retry, which ends the pending revocation as confirmed."""
    token = connection_credentials(sf_connection)["access_token"]
    sf.app.sandbox.set_faults([{**REVOKE_FAULT, "count": 1}])
    conn = connection_disconnect(connection=sf_connection)
    assert sf.app.sandbox.store.revoke(token)
    connection_revoke_disconnected(connection_id=conn.pk)
    conn.refresh_from_db()
    assert conn.credentials == "" and conn.revoke_pending_until is None and conn.last_error == ""


def test_won_stages_are_read_from_the_org_on_connect(settings, jwt_keys, make_org):
    """IsWon = true: every stage the org flags as won triggers, read at connect time."""
    from taxpoynt import sandboxing

    vendor = settings.VENDORS["salesforce"]
    running = sandboxing.start("salesforce", host="127.0.0.1", port=0, outbound_auto=False,
                               won_stages=["Won - Signed"])
    try:
        box = running.app.sandbox
        box.configure_app(certificate_pem=jwt_keys[1].decode(), consumer_key=vendor["client_id"],
                          consumer_secret=vendor["client_secret"])
        settings.VENDORS = {**settings.VENDORS, "salesforce": {**vendor, "base_url": running.url}}
        conn = connection_connect_jwt(organization=make_org(), username=box.store.username,
                                      private_key_pem=jwt_keys[0].decode())
        assert conn.trigger_rule["won_stages"] == ["Closed Won", "Won - Signed"]
        assert conn.trigger_rule["lost_stages"] == ["Closed Lost"]
        assert Connection.objects.get(pk=conn.pk).trigger_rule == conn.trigger_rule
    finally:
        running.app.sandbox.outbound.stop()
        running.stop()
