"""Support actions on connections and webhook events: re-sync, historical
import, revoke, replay — each audited, each scoped."""
import json

import pytest

from integrations.connections.models import Connection, WebhookEvent
from integrations.connections.oauth import connection_credentials
from taxpoynt.audit.models import AuditLog
from tests import factories
from tests.integrations.crm.hubspot.fixtures import connect


@pytest.fixture
def staff(make_user):
    return make_user(is_staff=True, is_superuser=True)


def _action(client, model, action, pks):
    return client.post(f"/admin/{model}/", {"action": action, "_selected_action": [str(p) for p in pks]})


def _failed_event(connection, event_id):
    """A stored event of `connection` whose processing failed ("boom")."""
    return WebhookEvent.objects.create(vendor="hubspot", event_id=event_id, connection=connection,
                                       organization=connection.organization, raw_body=b"[]",
                                       status=WebhookEvent.Status.FAILED, error="boom")


@pytest.mark.django_db
def test_resync_queues_and_audits(client, staff, hubspot_connection, django_capture_on_commit_callbacks):
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _action(client, "connections/connection", "resync", [hubspot_connection.pk])
    assert response.status_code == 302
    assert len(callbacks) == 1
    log = AuditLog.objects.get(action="admin_sync_delta")
    assert log.actor == staff and log.object_id == str(hubspot_connection.pk) and log.source == "admin"


@pytest.mark.django_db
def test_revoke_disconnects_upstream_and_audits(client, staff, hubspot_connection, sandbox):
    refresh = connection_credentials(hubspot_connection)["refresh_token"]
    client.force_login(staff)
    _action(client, "connections/connection", "revoke", [hubspot_connection.pk])
    conn = Connection.objects.get(pk=hubspot_connection.pk)
    assert conn.status == Connection.Status.DISCONNECTED and conn.credentials == ""
    assert sandbox.store.tokens[refresh].revoked
    log = AuditLog.objects.get(action="admin_revoke")
    assert log.before["credentials"] == "***" and log.after["credentials"] == ""


@pytest.mark.django_db
def test_a_pending_revocation_is_shown_to_support_read_only(client, staff, hubspot_connection, sandbox):
    """HubSpot not confirming support's revoke: the connection page shows
    until when the revocation is asked again (not editable, the kept token
    never shown), and the list filters the connections still pending."""
    refresh = connection_credentials(hubspot_connection)["refresh_token"]
    sandbox.fail_next(1, status=503, path_prefix="/oauth/2026-03/token/revoke")
    client.force_login(staff)
    _action(client, "connections/connection", "revoke", [hubspot_connection.pk])
    conn = Connection.objects.get(pk=hubspot_connection.pk)
    assert conn.revoke_pending_until is not None
    page = client.get(f"/admin/connections/connection/{conn.pk}/change/")
    assert page.status_code == 200 and b"Revoke pending until" in page.content
    assert b'name="revoke_pending_until' not in page.content and refresh.encode() not in page.content
    changelist = "/admin/connections/connection/?revoke_pending_until__isnull="
    assert [c.pk for c in client.get(changelist + "False").context["cl"].result_list] == [conn.pk]
    assert client.get(changelist + "True").context["cl"].result_count == 0


@pytest.mark.django_db
def test_replay_webhook_event(client, staff, hubspot_connection, django_capture_on_commit_callbacks):
    event = _failed_event(hubspot_connection, "9001")
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _action(client, "connections/webhookevent", "replay", [event.pk])
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.RECEIVED and event.error == ""
    assert len(callbacks) == 1
    assert AuditLog.objects.filter(action="admin_replay", object_id=str(event.pk), actor=staff).exists()


@pytest.mark.django_db
def test_needs_reauth_is_visible_in_admin(client, staff, hubspot_connection):
    Connection.objects.filter(pk=hubspot_connection.pk).update(status=Connection.Status.NEEDS_REAUTH)
    client.force_login(staff)
    page = client.get("/admin/connections/connection/", {"status__exact": "needs_reauth"})
    assert page.status_code == 200 and b"Needs re-authorization" in page.content
    detail = client.get(f"/admin/connections/connection/{hubspot_connection.pk}/change/")
    assert detail.status_code == 200
    assert json.loads(hubspot_connection.credentials)["access_token"].encode() not in detail.content


@pytest.fixture
def view_only_agent(make_user, hubspot_org):
    return factories.support_agent(make_user(), hubspot_org, may=("view",))


@pytest.mark.django_db
def test_view_only_support_is_offered_no_connection_or_event_action(client, view_only_agent, hubspot_connection):
    event = WebhookEvent.objects.create(vendor="hubspot", event_id="9002", connection=hubspot_connection,
                                                  organization=hubspot_connection.organization, raw_body=b"[]")
    client.force_login(view_only_agent)
    for model in ("connections/connection", "connections/webhookevent"):
        page = client.get(f"/admin/{model}/")
        assert page.status_code == 200, model
        assert page.context["action_form"] is None, model  # no action select at all
    assert str(event.pk).encode() in client.get("/admin/connections/webhookevent/").content


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["resync", "historical_import", "revoke"])
def test_view_only_support_cannot_post_a_connection_action(client, view_only_agent, hubspot_connection, sandbox,
                                                           action, django_capture_on_commit_callbacks):
    client.force_login(view_only_agent)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _action(client, "connections/connection", action, [hubspot_connection.pk])
    conn = Connection.objects.get(pk=hubspot_connection.pk)
    assert conn.status == Connection.Status.CONNECTED and conn.credentials == hubspot_connection.credentials
    assert conn.import_started_at is None
    assert callbacks == []
    assert not AuditLog.objects.filter(action__startswith="admin_").exists()


@pytest.mark.django_db
def test_view_only_support_cannot_post_a_replay(client, view_only_agent, hubspot_connection,
                                                django_capture_on_commit_callbacks):
    event = _failed_event(hubspot_connection, "9003")
    client.force_login(view_only_agent)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _action(client, "connections/webhookevent", "replay", [event.pk])
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.FAILED and event.error == "boom"
    assert callbacks == []
    assert not AuditLog.objects.filter(action="admin_replay").exists()


@pytest.mark.django_db
def test_support_with_change_permission_can_revoke(client, make_user, hubspot_org, hubspot_connection, sandbox):
    agent = factories.support_agent(make_user(), hubspot_org, may=("view", "change"))
    client.force_login(agent)
    _action(client, "connections/connection", "revoke", [hubspot_connection.pk])
    assert Connection.objects.get(pk=hubspot_connection.pk).status == Connection.Status.DISCONNECTED
    assert AuditLog.objects.filter(action="admin_revoke", actor=agent).exists()


def _change_form_data(page):
    """The change form's own values, as the browser would post them back."""
    form = page.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = field.prepare_value(form.initial.get(name))
        if value is not None:
            data[name] = value
    return data


@pytest.mark.django_db
def test_connection_identity_and_vendor_state_are_not_editable(client, make_user, make_org, hubspot_org,
                                                               hubspot_connection):
    """Even to an org the agent is assigned to: moving a connection, or changing
    which vendor account it is or its status, is not a support edit."""
    second_org = make_org(name="Also Assigned Ltd")
    agent = factories.support_agent(make_user(), hubspot_org, second_org, may=("view", "change"))
    Connection.objects.filter(pk=hubspot_connection.pk).update(status=Connection.Status.NEEDS_REAUTH)
    client.force_login(agent)
    url = f"/admin/connections/connection/{hubspot_connection.pk}/change/"
    page = client.get(url)
    assert not {"organization", "vendor", "kind", "external_account_id", "status", "display_name",
                "periodic_task"} & set(page.context["adminform"].form.fields)
    data = _change_form_data(page)
    data.update({"organization": str(second_org.pk), "vendor": "square", "kind": "pos",
                 "external_account_id": "someone-elses-merchant", "status": "connected", "display_name": "x"})
    assert client.post(url, data).status_code == 302  # the editable rest saves
    conn = Connection.objects.get(pk=hubspot_connection.pk)
    assert (conn.organization_id, conn.vendor, conn.kind, conn.external_account_id, conn.status,
            conn.display_name) == (hubspot_org.pk, "hubspot", "crm", hubspot_connection.external_account_id,
                                   Connection.Status.NEEDS_REAUTH, "sandbox portal")


@pytest.mark.django_db
def test_support_cannot_add_a_connection_by_hand(client, make_user, hubspot_org):
    client.force_login(factories.support_agent(make_user(), hubspot_org, may=("view", "add", "change")))
    assert client.get("/admin/connections/connection/add/").status_code == 403


def _square_event(conn, event_id, event_type, data):
    body = json.dumps({"merchant_id": conn.external_account_id, "type": event_type, "event_id": event_id,
                       "data": data}, separators=(",", ":")).encode()
    return WebhookEvent.objects.create(vendor="square", event_id=event_id, event_type=event_type,
                                       connection=conn, organization=conn.organization, raw_body=body,
                                       status=WebhookEvent.Status.PROCESSED)


@pytest.mark.django_db
def test_a_square_order_id_finds_its_order_payment_and_refund_events(client, staff, make_org):
    conn = factories.connection(make_org(), vendor="square", kind="pos")
    order_id = "CAISEM0S7FQ9bYuM5a8nR0eGqXoB"
    ours = {
        _square_event(conn, "ev-1", "order.updated", {"type": "order", "id": order_id, "object": {
            "order_updated": {"order_id": order_id, "state": "COMPLETED"}}}),
        _square_event(conn, "ev-2", "payment.updated", {"type": "payment", "id": "PAY-77", "object": {
            "payment": {"id": "PAY-77", "order_id": order_id, "status": "COMPLETED"}}}),
        _square_event(conn, "ev-3", "refund.created", {"type": "refund", "id": "REF-9", "object": {
            "refund": {"id": "REF-9", "order_id": order_id, "payment_id": "PAY-77"}}}),
    }
    another_sale = _square_event(conn, "ev-4", "order.updated", {"type": "order", "id": "ANOTHER-ORDER"})
    client.force_login(staff)
    page = client.get("/admin/connections/webhookevent/", {"q": order_id, "connection": str(conn.pk)})
    assert page.status_code == 200
    assert set(page.context["cl"].result_list) == ours
    # The usual fields still match, the body search adds to them.
    assert set(client.get("/admin/connections/webhookevent/", {"q": "ev-4"}).context["cl"].result_list) == {
        another_sale}
    # Over every connection's events the bodies are not scanned (the largest table).
    assert list(client.get("/admin/connections/webhookevent/", {"q": order_id}).context["cl"].result_list) == []


def _unrouted_hubspot_event(portal_id, event_id):
    """An event stored as intake stores one that came before its portal was connected."""
    from integrations.connections.webhooks import UNROUTED

    body = json.dumps([{"eventId": event_id, "portalId": portal_id, "subscriptionType": "deal.propertyChange",
                        "objectId": 11000000001}]).encode()
    return WebhookEvent.objects.create(vendor="hubspot", event_id=str(event_id), event_type="deal.propertyChange",
                                       raw_body=body, status=WebhookEvent.Status.IGNORED, error=UNROUTED)


def _messages(response):
    return [(m.level_tag, m.message) for m in response.context["messages"]]


@pytest.mark.django_db
def test_replay_routes_an_event_stored_before_its_connection(client, staff, hubspot_connection,
                                                             django_capture_on_commit_callbacks):
    event = _unrouted_hubspot_event(int(hubspot_connection.external_account_id), 9101)
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/admin/connections/webhookevent/", {
            "action": "replay", "_selected_action": [str(event.pk)]}, follow=True)
    event.refresh_from_db()
    assert (event.connection_id, event.organization_id) == (hubspot_connection.pk,
                                                            hubspot_connection.organization_id)
    assert (event.status, event.error) == (WebhookEvent.Status.RECEIVED, "")
    assert len(callbacks) == 1
    assert _messages(response) == [("info", "1 event(s) queued for replay.")]
    assert AuditLog.objects.filter(action="admin_replay", object_id=str(event.pk)).exists()


@pytest.mark.django_db
def test_replay_of_an_event_with_still_no_connection_warns_and_queues_nothing(
        client, staff, hubspot_connection, django_capture_on_commit_callbacks):
    unrouted = _unrouted_hubspot_event(424242, 9102)  # a portal nobody connected
    failed = _failed_event(hubspot_connection, "9103")
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/admin/connections/webhookevent/", {
            "action": "replay", "_selected_action": [str(unrouted.pk), str(failed.pk)]}, follow=True)
    unrouted.refresh_from_db()
    assert (unrouted.status, unrouted.connection_id) == (WebhookEvent.Status.IGNORED, None)
    shown = _messages(response)
    assert ("warning", f"{unrouted}: No live HubSpot connection for account 424242 yet: the event was not "
                       f"replayed.") in shown
    assert ("info", "1 event(s) queued for replay.") in shown  # the other one only
    assert len(callbacks) == 1
    assert not AuditLog.objects.filter(action="admin_replay", object_id=str(unrouted.pk)).exists()


@pytest.mark.django_db
def test_support_edits_of_the_rule_and_map_are_checked_like_the_settings_page(client, staff, hubspot_connection):
    client.force_login(staff)
    url = f"/admin/connections/connection/{hubspot_connection.pk}/change/"
    data = _change_form_data(client.get(url))
    bad = client.post(url, {**data, "trigger_rule": json.dumps({"won_stages": []}),
                            "field_map": json.dumps({"customer.tin": "tin_number"})})
    assert bad.status_code == 200  # the form again, with the errors on their fields
    errors = bad.context["adminform"].form.errors
    assert "won_stages: At least one stage must count as won." in errors["trigger_rule"]
    assert any("<object>.<property>" in e for e in errors["field_map"])
    hubspot_connection.refresh_from_db()
    assert hubspot_connection.trigger_rule["won_stages"] == ["closedwon"]  # unchanged

    good = client.post(url, {**data, "trigger_rule": json.dumps({"won_stages": ["closedwon", "contractsent"]}),
                             "field_map": json.dumps({"customer.tin": "company.tin_number"})})
    assert good.status_code == 302
    hubspot_connection.refresh_from_db()
    assert hubspot_connection.trigger_rule["won_stages"] == ["closedwon", "contractsent"]
    assert hubspot_connection.field_map == {"customer.tin": "company.tin_number"}
