"""Connecting systems in a real browser, against the vendor sandboxes over real
sockets: HubSpot through its consent page, then the field-mapping editor (a bad
value shows its error, a good one saves); Square through its consent page, a
sale completed in the Square sandbox arriving live on the transactions page
with its FIRS status (a real Celery worker process, the FIRS sandbox), the
invoice detail with its QR code and history, and the PDF download."""
import io

import pypdf
import pytest
from playwright.sync_api import expect

from integrations.connections.models import Connection
from integrations.pos.models import Location
from invoicing.models import Invoice, Submission
from taxpoynt.ops.demo import DEMO_COMPANIES, DEMO_DEALS
from tests.browser.conftest import PASSWORD
from tests.integrations.pos.square.fixtures import SIGNATURE_KEY, vat_sale
from tests.e2e import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DEALS = len(DEMO_DEALS)
WON = sum(1 for d in DEMO_DEALS if d[1] == "closedwon")
DONE = {Submission.State.CONFIRMED, Submission.State.TRANSMITTED}


def test_connect_hubspot_map_fields_import_history(page, public_url, firs_merchant, login, sandbox, hubspot_sandbox,
                                                  firs_sandbox, celery_worker, settings, screenshot, axe):
    org = firs_merchant("owner@adaeze.example.ng", "Adaeze Trading Ltd")
    # The portal already holds deals at every stage, for the historical import.
    companies = [sandbox.create_company(c, notify=False)["id"] for c in DEMO_COMPANIES]
    contacts = [sandbox.create_contact({"firstname": n, "lastname": "Demo", "email": f"{n.lower()}@example.ng",
                                        "phone": "+2348000000000"}, notify=False)["id"]
                for n in ("Ngozi", "Tunde", "Amaka")]
    for name, stage, items, who in DEMO_DEALS:
        sandbox.create_deal({"dealname": name, "amount": str(sum(int(q) * int(p) for _, q, p in items)),
                             "deal_currency_code": "NGN", "dealstage": stage, "pipeline": "default",
                             "closedate": "2026-11-20T09:00:00.000Z"},
                            line_items=[{"name": n, "quantity": q, "price": p} for n, q, p in items],
                            company_id=companies[who], contact_ids=[contacts[who]], notify=False)
    worker = celery_worker("crm,sync", FIRS_BASE_URL=firs_sandbox.url, HUBSPOT_BASE_URL=hubspot_sandbox.url,
                           HUBSPOT_CLIENT_ID=settings.VENDORS["hubspot"]["client_id"],
                           HUBSPOT_CLIENT_SECRET=settings.VENDORS["hubspot"]["client_secret"])
    login(page, "owner@adaeze.example.ng", PASSWORD)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Connections").click()
    expect(page.get_by_role("heading", name="Connections", exact=True)).to_be_visible()
    screenshot(page, "connections")
    assert axe(page) == []

    # HubSpot's consent page (the sandbox), then back to our connection page.
    page.get_by_role("button", name="Connect HubSpot").click()
    page.get_by_role("button", name="Grant access").click()
    page.wait_for_url(f"{public_url}/dashboard/connections/*")
    conn = Connection.objects.get(organization=org, vendor="hubspot")
    assert conn.status == Connection.Status.CONNECTED and conn.external_account_id == str(sandbox.portal_id)
    assert page.url == f"{public_url}/dashboard/connections/{conn.pk}"
    expect(page.get_by_role("heading", name="HubSpot", exact=False).first).to_be_visible()

    # A bad value: the TIN mapping without its object, and a VAT rate over 100 %.
    page.get_by_label("Customer TIN", exact=True).fill("tin")
    page.get_by_label("VAT rate (%)").fill("150")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("alert").filter(has_text="Please correct the errors below.")).to_be_visible()
    expect(page.get_by_text("Write it as <object>.<property>", exact=False)).to_be_visible()
    expect(page.get_by_text("A percentage between 0 and 100.")).to_be_visible()
    expect(page.locator(".message.error").first).to_be_visible()  # the flash message too
    screenshot(page, "connection_detail_errors")
    assert axe(page) == []
    conn.refresh_from_db()
    assert conn.field_map.get("customer.tin") != "tin"

    # A good one saves, with a success message.
    page.get_by_label("Customer TIN", exact=True).fill("company.tin")
    page.get_by_label("VAT rate (%)").fill("7.5")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".message.success").filter(has_text="Settings saved.")).to_be_visible()
    conn.refresh_from_db()
    assert conn.field_map["customer.tin"] == "company.tin"

    # Historical import: the worker reads every deal; the bar fills up.
    page.get_by_role("button", name="Import history").click()
    expect(page.locator(".message.success").filter(has_text="Historical import started.")).to_be_visible()
    page.wait_for_function(
        "n => { const b = document.getElementById('sync-progress'); return b.max >= n && b.value >= b.max; }",
        arg=DEALS, timeout=60000)
    wait_for(lambda: Submission.objects.filter(invoice__organization=org, state__in=DONE).count() == WON,
          what="invoices at FIRS", worker=worker)
    assert page.locator("#connection-status").inner_text() == "Connected"  # the label, as rendered by the server
    page.reload()
    assert page.locator("#sync-progress-text").inner_text() == f"{DEALS} / {DEALS}"
    screenshot(page, "connection_detail")
    assert axe(page) == []

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Deals").click()
    for invoice in Invoice.objects.filter(organization=org):
        expect(page.get_by_text(invoice.irn)).to_be_visible()
    assert page.locator("table tbody tr").count() == DEALS
    screenshot(page, "deals")
    assert axe(page) == []

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Overview").click()
    screenshot(page, "overview_connected")
    assert axe(page) == []


def test_connect_square_sale_becomes_invoice_live(page, public_url, firs_merchant, login, sq, square_sandbox,
                                                 firs_sandbox, celery_worker, settings, screenshot, axe):
    square_merchant = firs_merchant("owner@mamaput.example.ng", "Mama Put Lagos Ltd")
    pos_worker = celery_worker("pos_realtime", FIRS_BASE_URL=firs_sandbox.url, SQUARE_BASE_URL=square_sandbox.url,
                               SQUARE_CLIENT_ID=settings.VENDORS["square"]["client_id"],
                               SQUARE_CLIENT_SECRET=settings.VENDORS["square"]["client_secret"],
                               SQUARE_WEBHOOK_SIGNATURE_KEY=SIGNATURE_KEY)
    sq.set_subscription(notification_url=public_url + "/webhooks/pos/square", signature_key=SIGNATURE_KEY)
    login(page, "owner@mamaput.example.ng", PASSWORD)
    page.goto(f"{public_url}/dashboard/connections/")

    # Square's consent page: choose the seller account, allow.
    page.get_by_role("button", name="Connect Square").click()
    page.get_by_label("Seller account").select_option(sq.default_merchant_id)
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{public_url}/dashboard/connections/*")
    conn = Connection.objects.get(organization=square_merchant, vendor="square")
    assert conn.status == Connection.Status.CONNECTED and conn.external_account_id == sq.default_merchant_id
    wait_for(lambda: Location.objects.filter(connection=conn).count() == len(sq.locations), what="locations",
          worker=pos_worker)

    # The transactions page, narrowed to one location, then a sale there.
    location_id = sorted(sq.locations)[0]
    location = Location.objects.get(connection=conn, external_id=location_id)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Transactions").click()
    page.get_by_label("Location").select_option(label=location.name)
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**/dashboard/transactions?*")
    expect(page.get_by_text("No transactions yet.")).to_be_visible()
    sale = sq.create_sale(order=vat_sale(), location_id=location_id)
    order_id = sale["order"]["id"]

    # The row appears without a reload, and its FIRS status moves on to done.
    row = page.locator("#transactions tbody tr", has_text=order_id)
    row.wait_for(timeout=30000)
    wait_for(lambda: Submission.objects.filter(invoice__source_id=order_id, state__in=DONE).exists(),
          what="FIRS transmission", worker=pos_worker)
    row.locator("td.firs .state-confirmed, td.firs .state-transmitted").wait_for(timeout=15000)
    assert row.locator("td.firs").inner_text() in ("Confirmed", "Transmitted")
    invoice = Invoice.objects.get(source_system="square", source_id=order_id)
    assert invoice.irn and invoice.number
    screenshot(page, "transactions_live")
    assert axe(page) == []

    # The invoice: QR image rendered, FIRS history rows, downloads.
    row.get_by_role("link", name=invoice.number).click()
    page.wait_for_url(f"{public_url}/dashboard/invoices/{invoice.pk}")
    expect(page.get_by_text(invoice.irn).first).to_be_visible()
    qr = page.get_by_role("img", name=f"FIRS QR code for IRN {invoice.irn}")
    qr.wait_for()
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", qr.element_handle())
    history = page.get_by_role("region", name="FIRS history").locator("tbody tr")
    steps = history.all_inner_texts()
    assert len(steps) >= 3 and any("sign" in s for s in steps), steps
    screenshot(page, "invoice_detail")
    assert axe(page) == []

    with page.expect_download() as info:
        page.get_by_role("link", name="PDF").click()
    download = info.value
    data = open(download.path(), "rb").read()
    assert data.startswith(b"%PDF")
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages)
    assert invoice.irn in text.replace("\n", "")
