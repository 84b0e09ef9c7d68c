"""POS write routes with Square behind them (integrations/pos/apis.py):
POST /api/v1/pos/square/connect (authorize URL with PKCE), GET
/api/v1/pos/locations, PUT /api/v1/pos/webhook-config (real-time switch and
location selection, scoped and role-checked) and POST
/api/v1/pos/transactions/batch-process (idempotent re-processing)."""
import json
from urllib.parse import parse_qs, urlparse

import pytest

from integrations.connections.models import WebhookEvent
from integrations.pos.models import Location, Transaction
from integrations.pos.square import services
from invoicing.models import Invoice, Submission
from taxpoynt.tenancy.models import Membership

from .fixtures import order_event, vat_sale

pytestmark = pytest.mark.django_db


def test_connect_answers_square_authorize_url_with_pkce(api_client, square_org, square_sandbox, settings):
    api_client.force_login(square_org.owner)
    resp = api_client.post("/api/v1/pos/square/connect", {"organization": str(square_org.pk)}, format="json")
    assert resp.status_code == 200, resp.content
    url = resp.json()["authorize_url"]
    q = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
    assert url.startswith(square_sandbox.url + "/oauth2/authorize?")
    assert q["client_id"] == settings.VENDORS["square"]["client_id"] and q["code_challenge_method"] == "S256"
    assert q["redirect_uri"].endswith("/api/v1/pos/square/callback") and q["session"] == "false"
    assert api_client.post("/api/v1/pos/hubspot/connect", {}, format="json").status_code == 404


def test_webhook_config_selects_locations_and_realtime(api_client, sq, square_connection, make_user, make_org):
    api_client.force_authenticate(square_connection.organization.owner)
    locations = api_client.get("/api/v1/pos/locations").json()["results"]
    assert len(locations) == 2 and all(x["active"] for x in locations)
    keep = locations[0]["id"]
    resp = api_client.put("/api/v1/pos/webhook-config", {"connection": str(square_connection.pk), "realtime": False,
                                                         "active_location_ids": [keep]}, format="json")
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["active_location_ids"] == [keep] and body["realtime"] is False
    assert body["notification_url"].endswith("/webhooks/pos/square") and "order.updated" in body["event_types"]
    assert set(Location.objects.filter(active=True).values_list("pk", flat=True)) == {__import__("uuid").UUID(keep)}

    # Real time off: a sale's webhook is stored but left to the sync.
    sale = sq.create_sale(order=vat_sale(), emit=False)
    payload = order_event(merchant_id=square_connection.external_account_id, order=sale["order"], event_id="x1")
    event = WebhookEvent.objects.create(vendor="square", event_id="x1", event_type="order.updated",
                                        connection=square_connection, raw_body=json.dumps(payload).encode(),
                                        organization_id=square_connection.organization_id, headers={})
    square_connection.refresh_from_db()
    assert services.webhook_event_process(event=event) == WebhookEvent.Status.IGNORED

    # Another tenant's location id is refused; another tenant's connection is not found.
    other = make_org(owner=make_user())
    bad = api_client.put("/api/v1/pos/webhook-config", {"connection": str(square_connection.pk),
                                                        "active_location_ids": [str(other.pk)]}, format="json")
    assert bad.status_code == 400
    outsider = make_user()
    api_client.force_authenticate(outsider)
    assert api_client.put("/api/v1/pos/webhook-config", {"connection": str(square_connection.pk)},
                          format="json").status_code == 404
    viewer = make_user()
    Membership.objects.create(user=viewer, organization=square_connection.organization, role=Membership.Role.VIEWER)
    api_client.force_authenticate(viewer)
    assert api_client.put("/api/v1/pos/webhook-config", {"connection": str(square_connection.pk)},
                          format="json").status_code == 403


def test_batch_process_invoices_uninvoiced_sales_once(api_client, sq, square_connection):
    loc = Location.objects.filter(connection=square_connection).order_by("external_id").first()
    loc.active = False
    loc.save()
    with services.client_for(square_connection) as client:
        txns = [services.order_ingest(connection=square_connection,
                                      order=client.get_order(sq.create_sale(order=vat_sale(), emit=False,
                                                                            location_id=loc.external_id)
                                                             ["order"]["id"]))
                for _ in range(3)]
    assert not any(t.invoice_id for t in txns)
    loc.active = True
    loc.save()
    api_client.force_authenticate(square_connection.organization.owner)
    ids = [str(t.pk) for t in txns]
    resp = api_client.post("/api/v1/pos/transactions/batch-process", {"transaction_ids": ids}, format="json")
    assert resp.status_code == 200, resp.content
    assert resp.json()["invoiced"] == 3
    invoices = Transaction.objects.filter(pk__in=ids).values_list("invoice_id", flat=True)
    assert set(Submission.objects.filter(invoice_id__in=invoices).values_list("queue", flat=True)) == {"batch"}
    again = api_client.post("/api/v1/pos/transactions/batch-process", {"transaction_ids": ids}, format="json")
    assert again.json()["already_invoiced"] == 3 and again.json()["invoiced"] == 0
    assert Transaction.objects.filter(invoice__isnull=False).count() == 3
    listed = api_client.get("/api/v1/pos/transactions", {"location": str(loc.pk), "status": "completed"}).json()
    assert {r["id"] for r in listed["results"]} == set(ids)
    # Each sale carries its invoice's IRN and FIRS status: no call an invoice to learn them.
    invoices = {str(i.pk): i for i in Invoice.objects.filter(pk__in=[r["invoice_id"] for r in listed["results"]])}
    assert all((r["invoice_irn"], r["invoice_firs_status"]) == (invoices[r["invoice_id"]].irn,
                                                                invoices[r["invoice_id"]].firs_state) == ("", "draft")
               for r in listed["results"])
    Transaction.objects.create(organization=square_connection.organization, connection=square_connection,
                               external_id="NOT-INVOICED", occurred_at="2026-11-22T10:00:00Z", status="open")
    row = api_client.get("/api/v1/pos/transactions", {"status": "open"}).json()["results"][0]
    assert (row["invoice_id"], row["invoice_irn"], row["invoice_firs_status"]) == (None, None, None)


def test_batch_process_hides_other_tenants(api_client, square_connection, make_user):
    api_client.force_authenticate(make_user())
    txn = Transaction.objects.create(organization=square_connection.organization, connection=square_connection,
                                     external_id="X", occurred_at="2026-11-22T10:00:00Z", status="completed")
    resp = api_client.post("/api/v1/pos/transactions/batch-process", {"transaction_ids": [str(txn.pk)]},
                           format="json")
    assert resp.status_code == 404
