"""End to end over real sockets: the demo merchant connects HubSpot through the
OAuth flow against the HubSpot sandbox → the sandbox moves a deal to
closed-won and sends a signed webhook to our live server → a real Celery
worker process (real Redis) fetches the deal, builds, stamps and transmits the
invoice to the FIRS sandbox → the invoice with IRN and QR is visible in the
dashboard, the API and the admin. The same deal sent again (redelivery, a
racing sync) never makes a second invoice."""
import re
import time
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from integrations.connections.models import Connection, WebhookEvent
from integrations.connections.sync import HISTORICAL, sync_run
from integrations.crm.models import Deal
from invoicing.models import Invoice, Submission
from tests.e2e import signed_in_http, wait_for


DONE = {Submission.State.CONFIRMED, Submission.State.TRANSMITTED}


@pytest.fixture
def merchant(firs_merchant):
    return firs_merchant("owner@adaeze.example.ng", "Adaeze Trading Ltd")


@pytest.fixture
def worker(celery_worker, hubspot_sandbox, firs_sandbox, settings):
    return celery_worker("crm,sync", FIRS_BASE_URL=firs_sandbox.url, HUBSPOT_BASE_URL=hubspot_sandbox.url,
                         HUBSPOT_CLIENT_ID=settings.VENDORS["hubspot"]["client_id"],
                         HUBSPOT_CLIENT_SECRET=settings.VENDORS["hubspot"]["client_secret"])


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_connect_win_deal_invoice_visible_everywhere(client, live_server, settings, merchant, sandbox,
                                                     hubspot_sandbox, firs_sandbox, worker, make_user):
    settings.PUBLIC_BASE_URL = live_server.url
    sandbox.configure_app(webhook_url=live_server.url + "/webhooks/crm/hubspot")
    http = signed_in_http(client, live_server, merchant.owner)

    # 1. Connect: the dashboard's form posts, we follow HubSpot's consent page back.
    page = http.get("/dashboard/connections/")
    assert page.status_code == 200 and "Connect HubSpot" in page.text
    csrf = http.cookies["csrftoken"]
    start = http.post("/dashboard/connections/connect/hubspot", data={"csrfmiddlewaretoken": csrf})
    assert start.status_code == 302
    authorize_url = start.headers["location"]
    assert authorize_url.startswith(hubspot_sandbox.url + "/oauth/authorize?")
    consent = httpx.get(authorize_url)
    assert consent.status_code == 200
    form = {k: v[0] for k, v in parse_qs(urlparse(authorize_url).query).items()} | {"decision": "grant"}
    granted = httpx.post(authorize_url.split("?")[0], data=form)
    assert granted.status_code == 302
    callback = http.get(granted.headers["location"])
    assert callback.status_code == 302, callback.text[:500]
    conn = Connection.objects.get(organization=merchant, vendor="hubspot")
    assert conn.status == Connection.Status.CONNECTED and conn.external_account_id == str(sandbox.portal_id)
    assert callback.headers["location"] == f"/dashboard/connections/{conn.pk}"

    # The merchant maps the buyer's TIN from the portal's custom `tin` property.
    page = http.get(f"/dashboard/connections/{conn.pk}")
    assert page.status_code == 200
    saved = http.post(f"/dashboard/connections/{conn.pk}", data={
        "csrfmiddlewaretoken": csrf, "won_stages": "closedwon", "lost_stages": "closedlost",
        "tax_category": "STANDARD_VAT", "tax_rate": "7.5", "map:customer.tin": "company.tin"})
    assert saved.status_code == 302
    conn.refresh_from_db()
    assert conn.field_map == {"customer.tin": "company.tin"}

    # 2. The sandbox: a deal is created, then moved to closed-won (signed webhook).
    company = sandbox.create_company({"name": "Zenith Foods Ltd", "tin": "87654321-0001", "city": "Lagos",
                                      "country": "NG", "address": "5 Marina"}, notify=False)
    contact = sandbox.create_contact({"firstname": "Ngozi", "lastname": "Okafor", "email": "ngozi@zenith.example.ng",
                                      "phone": "+2348098765432"}, notify=False)
    deal = sandbox.create_deal({"dealname": "Cold room install", "amount": "250000", "deal_currency_code": "NGN",
                                "dealstage": "contractsent", "pipeline": "default",
                                "closedate": "2026-11-20T09:00:00.000Z"},
                               line_items=[{"name": "Cold room panels", "quantity": "5", "price": "40000"},
                                           {"name": "Installation", "quantity": "1", "price": "50000"}],
                               company_id=company["id"], contact_ids=[contact["id"]], notify=False)
    sandbox.move_deal_stage(deal["id"], "closedwon")
    assert sandbox.wait_for_webhooks(timeout=20)
    deliveries = sandbox.deliveries()
    assert deliveries and deliveries[-1]["state"] == "delivered"

    # 3. The worker builds, stamps and transmits it to FIRS.
    invoice = wait_for(lambda: Invoice.objects.filter(source_system="hubspot", source_id=deal["id"]).first(),
                    what="the invoice", worker=worker)
    submission = wait_for(lambda: Submission.objects.filter(invoice=invoice, state__in=DONE).first(),
                       timeout=60, what="FIRS transmission", worker=worker)
    invoice.refresh_from_db()
    assert invoice.irn and invoice.stamp and invoice.number
    assert invoice.irn.startswith(invoice.number) and merchant.firs_service_id in invoice.irn
    assert invoice.customer_tin == "87654321-0001" and invoice.currency == "NGN"
    assert str(invoice.tax_exclusive_amount) == "250000.00" and str(invoice.tax_amount) == "18750.00"
    assert WebhookEvent.objects.filter(vendor="hubspot", status="processed").exists()
    assert submission.state in DONE

    # 4. Visible in the dashboard …
    deals_page = http.get("/dashboard/connections/deals")
    assert invoice.irn in deals_page.text and "Cold room install" in deals_page.text
    detail = http.get(f"/dashboard/invoices/{invoice.pk}")
    assert detail.status_code == 200 and invoice.irn in detail.text
    # … the API (deal → invoice, invoice detail, QR) …
    api_deals = http.get("/api/v1/crm/deals", params={"status": "won"}).json()["results"]
    assert [d["invoice"]["irn"] for d in api_deals] == [invoice.irn]
    api_invoice = http.get(f"/api/v1/invoices/{invoice.pk}").json()
    assert api_invoice["irn"] == invoice.irn
    qr = http.get(f"/api/v1/invoices/{invoice.pk}/qr.png")
    assert qr.status_code == 200 and qr.content[:8] == b"\x89PNG\r\n\x1a\n"
    # … and the admin.
    admin_user = make_user(is_staff=True, is_superuser=True)
    admin = signed_in_http(client, live_server, admin_user)
    admin_page = admin.get(f"/admin/invoicing/invoice/{invoice.pk}/change/")
    assert admin_page.status_code == 200 and invoice.irn in admin_page.text
    admin_deal = admin.get("/admin/crm/deal/", params={"q": deal["id"]})
    assert admin_deal.status_code == 200 and re.search(re.escape(invoice.number), admin_deal.text)

    # 5. Never twice: HubSpot redelivers the event, and a sync runs over the same deal.
    first_event = deliveries[-1]["eventIds"][0]
    sandbox.redeliver(first_event)
    assert sandbox.wait_for_webhooks(timeout=20)
    result = sync_run(connection_id=conn.pk, mode=HISTORICAL)
    assert result.complete
    time.sleep(1.0)
    assert Invoice.objects.filter(source_system="hubspot", source_id=deal["id"]).count() == 1
    assert Deal.objects.get(external_id=deal["id"]).invoice_id == invoice.pk
    assert firs_sandbox.app.sandbox.requests["sign"] == 1
