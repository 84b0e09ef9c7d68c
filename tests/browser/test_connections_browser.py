"""Connecting systems in a real browser, against the vendor sandboxes over real
sockets: HubSpot through its consent page, then the field-mapping editor (a bad
value shows its error, a good one saves); Square through its consent page, a
sale completed in the Square sandbox arriving live on the transactions page
with its FIRS status (a real Celery worker process, the FIRS sandbox), the
invoice detail with its QR code and history, and the PDF download."""
import io
import time
import uuid

import pypdf
import pytest

from integrations.connections.models import Connection
from integrations.pos.models import Location
from invoicing.models import Invoice, Submission
from tests.integrations.pos.square.fixtures import SIGNATURE_KEY, start_worker, stop_worker, vat_sale

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "browser-pass-123"
DONE = {Submission.State.CONFIRMED, Submission.State.TRANSMITTED}


def _wait(predicate, timeout=60.0, what="condition", worker=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    output = ""
    if worker is not None and worker.poll() is None:
        worker.terminate()
        output = worker.stdout.read().decode(errors="replace")[-3000:]
    raise AssertionError(f"timed out waiting for {what}; worker: {output}")


def test_connect_hubspot_and_edit_the_field_mapping(page, public_url, make_user, make_org, login, sandbox, screenshot,
                                                    axe):
    owner = make_user(email="owner@adaeze.example.ng", password=PASSWORD)
    org = make_org(name="Adaeze Trading Ltd", owner=owner)
    login(page, "owner@adaeze.example.ng", PASSWORD)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Connections").click()
    assert page.get_by_role("heading", name="Connections", exact=True).is_visible()
    screenshot(page, "connections")
    assert axe(page) == []

    # HubSpot's consent page (the sandbox), then back to our connection page.
    page.get_by_role("button", name="Connect HubSpot").click()
    page.get_by_role("button", name="Grant access").click()
    page.wait_for_url(f"{public_url}/dashboard/connections/*")
    conn = Connection.objects.get(organization=org, vendor="hubspot")
    assert conn.status == Connection.Status.CONNECTED and conn.external_account_id == str(sandbox.portal_id)
    assert page.url == f"{public_url}/dashboard/connections/{conn.pk}"
    assert page.get_by_role("heading", name="HubSpot", exact=False).first.is_visible()
    assert page.locator("#connection-status").inner_text() in ("Connected", "Syncing", "connected", "syncing")

    # A bad value: the TIN mapping without its object, and a VAT rate over 100 %.
    tin = page.get_by_label("Customer TIN", exact=True)
    tin.fill("tin")
    page.get_by_label("VAT rate (%)").fill("150")
    page.get_by_role("button", name="Save settings").click()
    assert page.get_by_role("alert").filter(has_text="Please correct the errors below.").is_visible()
    assert page.get_by_text("Write it as <object>.<property>", exact=False).is_visible()
    assert page.get_by_text("A percentage between 0 and 100.").is_visible()
    assert page.locator(".message.error").first.is_visible()  # the flash message too
    screenshot(page, "connection_detail_errors")
    assert axe(page) == []
    conn.refresh_from_db()
    assert conn.field_map.get("customer.tin") != "tin"

    # A good one saves, with a success message.
    page.get_by_label("Customer TIN", exact=True).fill("company.tin")
    page.get_by_label("VAT rate (%)").fill("7.5")
    page.get_by_role("button", name="Save settings").click()
    assert page.locator(".message.success").filter(has_text="Settings saved.").is_visible()
    conn.refresh_from_db()
    assert conn.field_map["customer.tin"] == "company.tin"
    screenshot(page, "connection_detail")
    assert axe(page) == []

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Deals").click()
    screenshot(page, "deals")
    assert axe(page) == []


@pytest.fixture
def square_merchant(make_user, make_org, firs_business, firs_sandbox, settings):
    settings.FIRS_BASE_URL = firs_sandbox.url
    b = firs_business
    # FIRS refuses transmissions for a business without a webhook URL; nothing listens here.
    firs_sandbox.app.sandbox.set_webhook(b.business_id, "http://127.0.0.1:9/firs-webhook")
    owner = make_user(email="owner@mamaput.example.ng", password=PASSWORD)
    return make_org(owner=owner, name="Mama Put Lagos Ltd", tin=b.tin, email="billing@mamaput.example.ng",
                    telephone="+2348012345678", street_name="12 Adeola Odeku Street", city_name="Lagos",
                    postal_zone="101241", firs_business_id=uuid.UUID(str(b.business_id)),
                    firs_service_id=b.service_id, firs_api_key=b.api_key, firs_api_secret=b.api_secret,
                    firs_crypto_keys=b.crypto_keys_json)


@pytest.fixture
def pos_worker(square_sandbox, firs_sandbox, settings):
    from taxpoynt.celery import app

    app.control.purge()  # stale messages from earlier runs on this Redis db
    proc = start_worker(settings, queues="pos_realtime", firs_url=firs_sandbox.url, square_url=square_sandbox.url)
    yield proc
    stop_worker(proc)


def test_connect_square_sale_becomes_invoice_live(page, public_url, square_merchant, login, sq, square_sandbox,
                                                 firs_sandbox, pos_worker, screenshot, axe):
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
    _wait(lambda: Location.objects.filter(connection=conn).count() == len(sq.locations), what="locations",
          worker=pos_worker)

    # The transactions page, narrowed to one location, then a sale there.
    location_id = sorted(sq.locations)[0]
    location = Location.objects.get(connection=conn, external_id=location_id)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Transactions").click()
    page.get_by_label("Location").select_option(label=location.name)
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**/dashboard/transactions?*")
    assert page.get_by_text("No transactions yet.").is_visible()
    sale = sq.create_sale(order=vat_sale(), location_id=location_id)
    order_id = sale["order"]["id"]

    # The row appears without a reload, and its FIRS status moves on to done.
    row = page.locator("#transactions tbody tr", has_text=order_id)
    row.wait_for(timeout=30000)
    _wait(lambda: Submission.objects.filter(invoice__source_id=order_id, state__in=DONE).exists(),
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
    assert page.get_by_text(invoice.irn).first.is_visible()
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
