"""Square tokens through the generic token service (integrations/pos/square/oauth.py
+ provider.py): a PKCE refresh rotates the refresh token (stored, encrypted;
the old one is dead at Square) once however many workers race for it, a dead
refresh token marks the connection needs_reauth, and revoke uses the app's
Client secret."""
import datetime
import json

import pytest
from django.db import connection as db_connection
from django.utils import timezone

from integrations.connections.models import Connection
from integrations.connections.oauth import NeedsReauth, connection_get_access_token
from integrations.connections.services import connection_revoke_disconnected
from integrations.connections.tasks import revoke_disconnected_account
from integrations.pos.square.client import SquareClient
from integrations.pos.square.oauth import refresh_access_token, revoke_access_token
from tests.tokens import expire_without_refresh

from .fixtures import connect

pytestmark = pytest.mark.django_db


def _expire(conn):
    Connection.objects.filter(pk=conn.pk).update(token_expires_at=timezone.now() + datetime.timedelta(days=1))
    conn.refresh_from_db()


def test_pkce_refresh_rotates_and_is_stored_encrypted(sq, square_org, square_sandbox):
    conn = connect(square_org, sq, pkce=True)
    old = json.loads(conn.credentials)
    _expire(conn)  # inside the weekly refresh margin
    token = connection_get_access_token(connection=conn)
    conn.refresh_from_db()
    new = json.loads(conn.credentials)
    assert token == new["access_token"] != old["access_token"]
    assert new["refresh_token"] != old["refresh_token"]  # PKCE rotates
    assert conn.token_expires_at > timezone.now() + datetime.timedelta(days=29)
    with db_connection.cursor() as cur:  # encrypted at rest
        cur.execute("SELECT credentials FROM connections_connection WHERE id = %s", [conn.pk])
        assert new["refresh_token"].encode() not in bytes(cur.fetchone()[0])
    with pytest.raises(Exception):
        refresh_access_token(refresh_token=old["refresh_token"], pkce=True)
    with SquareClient(base_url=square_sandbox.url, access_token=token) as client:
        assert client.list_locations()


def test_dead_refresh_token_needs_reauth(sq, square_org):
    conn = connect(square_org, sq, pkce=True)
    creds = json.loads(conn.credentials)
    refresh_access_token(refresh_token=creds["refresh_token"], pkce=True)  # someone else rotated it
    _expire(conn)
    with pytest.raises(NeedsReauth):
        connection_get_access_token(connection=conn)
    assert Connection.objects.get(pk=conn.pk).status == Connection.Status.NEEDS_REAUTH


def test_a_short_lived_grant_is_used_until_it_expires_then_needs_reauth(sq, square_org, square_sandbox, settings):
    """ObtainToken with `short_lived: true` answers a 24-hour access token and
    no refresh token. It is used as it is (Square's weekly refresh margin does
    not apply: nothing could refresh it) and, once expired, the connection
    needs re-authorising; no refresh is attempted."""
    from integrations.connections.models import VendorExchange
    from integrations.connections.oauth import connection_authorize
    from integrations.pos.square.client import SquareOAuthClient
    from integrations.pos.square.oauth import _token_set

    vendor = settings.VENDORS["square"]
    code = sq.create_code(client_id=vendor["client_id"], merchant_id=sq.default_merchant_id,
                          scopes=["ORDERS_READ", "PAYMENTS_READ", "MERCHANT_PROFILE_READ"])
    with SquareOAuthClient(base_url=square_sandbox.url, client_id=vendor["client_id"],
                           client_secret=vendor["client_secret"]) as oauth:
        tokens = oauth.exchange_code(code=code, short_lived=True)
    assert tokens.short_lived and tokens.refresh_token == ""
    assert timezone.now() + datetime.timedelta(hours=23) < tokens.expires_at <= timezone.now() + datetime.timedelta(hours=24)

    conn = connection_authorize(organization=square_org, provider_key="square", token=_token_set(tokens),
                                account={"external_account_id": tokens.merchant_id, "display_name": "Mama Put"})
    assert "refresh_token" not in json.loads(conn.credentials)
    assert connection_get_access_token(connection=conn) == tokens.access_token
    conn.refresh_from_db()
    assert conn.status == Connection.Status.CONNECTED
    with SquareClient(base_url=square_sandbox.url, access_token=tokens.access_token) as client:
        assert client.list_locations()

    exchanges = VendorExchange.objects.filter(vendor="square", url__endswith="/oauth2/token").count()
    expire_without_refresh(conn)
    assert VendorExchange.objects.filter(vendor="square", url__endswith="/oauth2/token").count() == exchanges


def test_revoke_kills_the_access_token(sq, square_org, square_sandbox):
    conn = connect(square_org, sq)
    token = json.loads(conn.credentials)["access_token"]
    assert revoke_access_token(access_token=token) is True
    from integrations.connections.http import VendorAuthError

    with SquareClient(base_url=square_sandbox.url, access_token=token) as client:
        with pytest.raises(VendorAuthError):
            client.list_locations()


@pytest.mark.django_db(transaction=True)
def test_refresh_race_rotates_the_pkce_token_once(sq, square_org, square_sandbox):
    """Four workers find the token due at once. Square rotates a PKCE refresh
    token on use, so a second refresh with the old one would be refused and
    the seller sent to reconnect: the row lock lets one refresh and the
    others read its token."""
    from integrations.connections.models import VendorExchange
    from tests.concurrency import race

    conn = connect(square_org, sq, pkce=True)
    old = json.loads(conn.credentials)["access_token"]
    _expire(conn)
    results = race(4, lambda: connection_get_access_token(connection=Connection.objects.get(pk=conn.pk)))
    assert len(set(results)) == 1 and results[0] != old
    assert VendorExchange.objects.filter(vendor="square", url__endswith="/oauth2/token", method="POST").count() == 1
    conn.refresh_from_db()
    assert conn.status == Connection.Status.CONNECTED
    with SquareClient(base_url=square_sandbox.url, access_token=results[0]) as client:
        assert client.list_locations()


@pytest.mark.django_db
def test_a_disconnect_square_did_not_confirm_is_done_here_and_says_so(client, sq, square_org, make_user,
                                                                       django_capture_on_commit_callbacks):
    """Square failing the revoke: the connection is disconnected and its
    tokens erased all the same (asking again by merchant id needs none), and
    the merchant is told Square did not confirm and what to do, instead of
    "revoked"."""
    conn = connect(square_org, sq)
    access_token = json.loads(conn.credentials)["access_token"]
    client.force_login(square_org.owner)
    sq.set_faults([{"path": "/oauth2/revoke", "status": 500, "count": None}])
    try:
        with django_capture_on_commit_callbacks(execute=False) as later:
            resp = client.post(f"/dashboard/connections/{conn.pk}/disconnect", {"confirm": "yes"}, follow=True)
    finally:
        sq.set_faults([])
    conn.refresh_from_db()
    assert conn.status == Connection.Status.DISCONNECTED
    assert json.loads(conn.credentials) == {"merchant_id": conn.external_account_id}
    assert "did not confirm" in conn.last_error and sq.access_tokens[access_token].get("revoked") is not True
    assert "TaxPoynt keeps asking Square to revoke it" in conn.last_error
    shown = [(m.level_tag, m.message) for m in resp.context["messages"]]
    assert shown == [("warning", conn.last_error)]
    # The retry (queued after the commit) asks Square again by merchant id, holding no token.
    assert len(later) == 1
    assert revoke_disconnected_account.apply(kwargs={"connection_id": str(conn.pk)}).successful()
    conn.refresh_from_db()
    assert sq.access_tokens[access_token]["revoked"] is True and conn.last_error == ""
    assert conn.credentials == "" and conn.revoke_pending_until is None

    confirmed = connect(square_org, sq)
    resp = client.post(f"/dashboard/connections/{confirmed.pk}/disconnect", {"confirm": "yes"}, follow=True)
    confirmed.refresh_from_db()
    assert confirmed.last_error == "" and [m.level_tag for m in resp.context["messages"]] == ["success"]

    # Support's "Revoke" admin action says the same.
    by_support = connect(square_org, sq)
    client.force_login(make_user(is_staff=True, is_superuser=True))
    sq.set_faults([{"path": "/oauth2/revoke", "status": 500, "count": None}])
    try:
        resp = client.post("/admin/connections/connection/", {"action": "revoke",
                                                              "_selected_action": [str(by_support.pk)]}, follow=True)
    finally:
        sq.set_faults([])
    by_support.refresh_from_db()
    assert by_support.status == Connection.Status.DISCONNECTED and "did not confirm" in by_support.last_error
    assert [(m.level_tag, m.message) for m in resp.context["messages"]] == [
        ("warning", f"{by_support}: {by_support.last_error}")]


@pytest.mark.django_db
def test_the_revoke_retry_never_cuts_off_the_account_connected_again(sq, square_org, second_seller):
    """A disconnect Square did not confirm, then the seller connected again
    (here, by another organization): asking Square to revoke by merchant id
    now would end the new connection's tokens, so it is not asked."""
    from integrations.connections.services import connection_disconnect

    merchant_id = second_seller.external_account_id
    sq.set_faults([{"path": "/oauth2/revoke", "status": 500, "count": None}])
    try:
        old = connection_disconnect(connection=second_seller)
    finally:
        sq.set_faults([])
    assert "did not confirm" in old.last_error
    again = connect(square_org, sq, merchant_id=merchant_id)
    live_token = json.loads(again.credentials)["access_token"]
    connection_revoke_disconnected(connection_id=old.pk)
    assert sq.access_tokens[live_token].get("revoked") is not True


def _new_token(sq, square_sandbox, settings, merchant_id):
    """A code of `merchant_id` exchanged (the callback's token, before the connection is made)."""
    from integrations.pos.square.client import SquareOAuthClient
    from integrations.pos.square.oauth import _token_set

    vendor = settings.VENDORS["square"]
    code = sq.create_code(client_id=vendor["client_id"], merchant_id=merchant_id,
                          scopes=["ORDERS_READ", "PAYMENTS_READ", "MERCHANT_PROFILE_READ"])
    with SquareOAuthClient(base_url=square_sandbox.url, client_id=vendor["client_id"],
                           client_secret=vendor["client_secret"]) as oauth:
        return _token_set(oauth.exchange_code(code=code))


def _unconfirmed_disconnect(sq, conn):
    from integrations.connections.services import connection_disconnect

    sq.set_faults([{"path": "/oauth2/revoke", "status": 500, "count": None}])
    try:
        old = connection_disconnect(connection=conn)
    finally:
        sq.set_faults([])
    assert old.revoke_pending_until is not None
    return old


@pytest.mark.django_db
def test_connecting_again_ends_the_accounts_pending_revocation(sq, square_org, second_seller, square_sandbox,
                                                              settings):
    """The seller connects again (here, to another organization) while an
    unconfirmed revocation of its earlier connection waits to be asked: it
    is ended then and there, so no retry can revoke the new token."""
    from integrations.connections.oauth import connection_authorize

    merchant_id = second_seller.external_account_id
    old = _unconfirmed_disconnect(sq, second_seller)
    token = _new_token(sq, square_sandbox, settings, merchant_id)
    again = connection_authorize(organization=square_org, provider_key="square", token=token,
                                 account={"external_account_id": merchant_id, "display_name": "Bukka Hut"})
    old.refresh_from_db()
    assert (old.revoke_pending_until, old.credentials) == (None, "")
    assert "connected to TaxPoynt again" in old.last_error
    connection_revoke_disconnected(connection_id=old.pk, last_try=True)  # a retry coming late asks nothing
    assert sq.access_tokens[token.access_token].get("revoked") is not True
    assert again.status == Connection.Status.CONNECTED


@pytest.mark.django_db
def test_a_revocation_asked_after_the_token_was_asked_for_refuses_the_connection(sq, square_org, second_seller,
                                                                                  square_sandbox, settings):
    """Square's RevokeToken ends every token of the seller. A retry asked
    between the new code's exchange and the connection being made ended
    the new token too: nothing is connected with a dead token; the
    merchant is told to connect again, and that works."""
    from integrations.connections.oauth import AccountRevokedMeanwhile, connection_authorize

    merchant_id = second_seller.external_account_id
    old = _unconfirmed_disconnect(sq, second_seller)
    token = _new_token(sq, square_sandbox, settings, merchant_id)
    connection_revoke_disconnected(connection_id=old.pk)  # the retry, confirmed: every token of the seller ended
    assert sq.access_tokens[token.access_token]["revoked"] is True
    account = {"external_account_id": merchant_id, "display_name": "Bukka Hut"}
    with pytest.raises(AccountRevokedMeanwhile, match="connect again"):
        connection_authorize(organization=square_org, provider_key="square", token=token, account=account)
    assert not Connection.objects.filter(external_account_id=merchant_id).exclude(
        status=Connection.Status.DISCONNECTED).exists()

    fresh = _new_token(sq, square_sandbox, settings, merchant_id)
    conn = connection_authorize(organization=square_org, provider_key="square", token=fresh, account=account)
    assert conn.status == Connection.Status.CONNECTED
    with SquareClient(base_url=square_sandbox.url, access_token=fresh.access_token) as client:
        assert client.list_locations()


@pytest.mark.django_db(transaction=True)
def test_connecting_waits_for_a_revocation_being_asked_and_then_refuses(sq, square_org, second_seller,
                                                                        square_sandbox, settings):
    """The retry is asking Square (slowly) when the new connection is made:
    the connection waits for the answer (the retry's row lock), then finds
    the revocation asked after its token and refuses it."""
    import threading
    import time

    from django.db import connections

    from integrations.connections.oauth import AccountRevokedMeanwhile, connection_authorize

    merchant_id = second_seller.external_account_id
    old = _unconfirmed_disconnect(sq, second_seller)
    token = _new_token(sq, square_sandbox, settings, merchant_id)
    sq.set_faults([{"path": "/oauth2/revoke", "count": 1, "latency_ms": 1500}])  # answers, slowly

    def retry():
        try:
            connection_revoke_disconnected(connection_id=old.pk)
        finally:
            connections.close_all()

    asking = threading.Thread(target=retry)
    asking.start()
    time.sleep(0.5)  # the retry holds the row and waits for Square
    started = time.monotonic()
    try:
        with pytest.raises(AccountRevokedMeanwhile):
            connection_authorize(organization=square_org, provider_key="square", token=token,
                                 account={"external_account_id": merchant_id, "display_name": "Bukka Hut"})
    finally:
        asking.join(10)
        sq.set_faults([])
    assert time.monotonic() - started > 0.5  # it waited for the answer
    assert sq.access_tokens[token.access_token]["revoked"] is True
