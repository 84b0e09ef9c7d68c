"""End to end over real sockets, both ways of connecting:

1. Web server flow: the merchant connects through the dashboard (allauth,
   the sandbox's consent page) → sets the org's outbound message to our
   listener URL → a user closes an opportunity as won → the sandbox POSTs the
   SOAP outbound message to our live server → stored, acked → a real Celery
   worker re-reads the opportunity, builds, stamps and transmits the invoice
   to the FIRS sandbox until confirmed → the write-back beat task PATCHes
   invoice number, IRN and status onto the opportunity → visible in the
   dashboard, the API and the admin.
2. JWT bearer flow: server-to-server connect → the opportunity is won → "Sync
   now" on the dashboard → the worker's delta sync invoices it → confirmed →
   written back."""
import html
import re
import time
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from integrations.connections.models import Connection, WebhookEvent
from integrations.connections.services import connection_update_config
from integrations.crm.models import Deal
from integrations.crm.salesforce.oauth import connection_connect_jwt
from integrations.crm.salesforce.tasks import writeback_due
from integrations.crm.salesforce.webhooks import listener_url
from invoicing.models import Invoice, Submission
from taxpoynt import sandboxing

from .support import SEED
from tests.e2e import signed_in_http, wait_for

# The buyer's email lives in the org's custom Account field Email__c (FIRS requires one).
DATA = {**SEED, "accounts": [{**SEED["accounts"][0], "Email__c": "ap@dangote.example.ng"}]}


@pytest.fixture
def sfbox(settings, jwt_keys):
    """The Salesforce sandbox delivering outbound messages by itself."""
    vendor = settings.VENDORS["salesforce"]
    running = sandboxing.start("salesforce", host="127.0.0.1", port=0, outbound_first_interval=0.05,
                               outbound_max_interval=0.5, outbound_window=30.0, outbound_timeout=10)
    box = running.app.sandbox
    box.configure_app(consumer_key=vendor["client_id"], consumer_secret=vendor["client_secret"],
                      certificate_pem=jwt_keys[1].decode(), preauthorized_usernames=[box.store.username])
    settings.VENDORS = {**settings.VENDORS, "salesforce": {**vendor, "base_url": running.url}}
    yield running
    box.outbound.stop()
    running.stop()


@pytest.fixture
def merchant(firs_merchant):
    return firs_merchant("owner@adaeze.example.ng", "Adaeze Trading Ltd")


@pytest.fixture
def worker(celery_worker, sfbox, firs_sandbox, settings):
    vendor = settings.VENDORS["salesforce"]
    return celery_worker("crm,sync", FIRS_BASE_URL=firs_sandbox.url, SALESFORCE_BASE_URL=sfbox.url,
                         SALESFORCE_CLIENT_ID=vendor["client_id"], SALESFORCE_CLIENT_SECRET=vendor["client_secret"])


def _invoiced_confirmed_written_back(sfbox, opp, worker):
    invoice = wait_for(lambda: Invoice.objects.filter(source_system="salesforce", source_id=opp).first(),
                    what="the invoice", worker=worker)
    wait_for(lambda: Submission.objects.filter(invoice=invoice, state=Submission.State.CONFIRMED).exists(),
          timeout=90, what="FIRS confirmation", worker=worker)
    invoice.refresh_from_db()
    assert invoice.irn and invoice.stamp and invoice.number and invoice.customer_tin == "12345678-0001"
    assert str(invoice.tax_exclusive_amount) == "4650000.00" and str(invoice.tax_amount) == "348750.00"

    def written():
        writeback_due.delay()  # what the beat entry does every minute
        time.sleep(0.5)
        return sfbox.app.sandbox.opportunity(opp).get("TaxPoynt_IRN__c") == invoice.irn
    wait_for(written, timeout=60, what="the write-back", worker=worker)
    record = sfbox.app.sandbox.opportunity(opp)
    assert record["TaxPoynt_Invoice_Number__c"] == invoice.number and record["TaxPoynt_Status__c"] == "Confirmed"
    return invoice


def _visible(http, client, live_server, make_user, invoice, opp):
    deals_page = http.get("/dashboard/connections/deals")
    assert invoice.irn in deals_page.text and "ERP rollout" in deals_page.text
    assert invoice.irn in http.get(f"/dashboard/invoices/{invoice.pk}").text
    api_deals = http.get("/api/v1/crm/deals", params={"status": "won"}).json()["results"]
    assert [d["invoice"]["irn"] for d in api_deals] == [invoice.irn]
    assert http.get(f"/api/v1/invoices/{invoice.pk}").json()["irn"] == invoice.irn
    # Last: signing the admin in on the same test client ends the merchant's session.
    admin = signed_in_http(client, live_server, make_user(is_staff=True, is_superuser=True))
    assert invoice.irn in admin.get(f"/admin/invoicing/invoice/{invoice.pk}/change/").text
    assert invoice.number in admin.get("/admin/crm/deal/", params={"q": opp}).text


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_web_flow_outbound_message_to_written_back_invoice(client, live_server, settings, merchant, sfbox,
                                                           firs_sandbox, worker, make_user):
    settings.PUBLIC_BASE_URL = live_server.url
    box = sfbox.app.sandbox
    box.configure_app(redirect_uris=[live_server.url + "/api/v1/crm/salesforce/callback"])
    http = signed_in_http(client, live_server, merchant.owner)

    page = http.get("/dashboard/connections/")
    assert page.status_code == 200 and "Connect Salesforce" in page.text
    csrf = http.cookies["csrftoken"]
    start = http.post("/dashboard/connections/connect/salesforce", data={"csrfmiddlewaretoken": csrf})
    assert start.status_code == 302
    authorize_url = start.headers["location"]
    assert authorize_url.startswith(sfbox.url + "/services/oauth2/authorize?")
    assert httpx.get(authorize_url).status_code == 200
    form = {k: v[0] for k, v in parse_qs(urlparse(authorize_url).query).items()} | {"decision": "allow"}
    granted = httpx.post(sfbox.url + "/services/oauth2/authorize", data=form)
    assert granted.status_code == 302
    callback = http.get(granted.headers["location"])
    assert callback.status_code == 302, callback.text[:500]
    conn = Connection.objects.get(organization=merchant, vendor="salesforce")
    assert conn.status == Connection.Status.CONNECTED

    # The merchant maps the buyer's email from the custom Account field.
    saved = http.post(f"/dashboard/connections/{conn.pk}", data={
        "csrfmiddlewaretoken": csrf, "won_stages": "Closed Won", "lost_stages": "Closed Lost",
        "tax_category": "STANDARD_VAT", "tax_rate": "7.5", "map:customer.email": "account.Email__c"})
    assert saved.status_code == 302
    conn.refresh_from_db()
    assert conn.field_map == {"customer.email": "account.Email__c"}

    # The org's admin reads the listener URL and how to send to it off the connection's page, and
    # points the outbound message at it (sent by a record-triggered flow: workflow rules are retired).
    detail = http.get(f"/dashboard/connections/{conn.pk}")
    facts_shown = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", detail.text))
    shown_url = html.unescape(facts_shown["Outbound message endpoint URL"])
    assert shown_url == listener_url(conn, base_url=live_server.url)
    assert "record-triggered flow on Opportunity" in facts_shown["Sending it from Salesforce"]
    assert "workflow" not in detail.text.lower()
    box.configure_outbound(url=shown_url)
    opp = box.seed(**DATA)["opportunities"][0]["Id"]
    box.update_opportunity(opp, StageName="Closed Won")
    assert box.outbound.wait_idle(timeout=20)
    log = box.outbound.log
    assert log and log[-1]["acked"] and log[-1]["status_code"] == 200

    invoice = _invoiced_confirmed_written_back(sfbox, opp, worker)
    assert WebhookEvent.objects.filter(vendor="salesforce", status="processed").exists()
    _visible(http, client, live_server, make_user, invoice, opp)

    # Salesforce resends the notification: acknowledged, never a second invoice or write-back.
    box.outbound.resend()
    assert box.outbound.wait_idle(timeout=20)
    time.sleep(1.0)
    assert Invoice.objects.filter(source_system="salesforce", source_id=opp).count() == 1
    assert firs_sandbox.app.sandbox.requests["sign"] == 1
    conn.refresh_from_db()
    assert conn.settings["writeback"][opp]["state"] == "done"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_jwt_flow_sync_to_written_back_invoice(client, live_server, settings, merchant, sfbox, firs_sandbox,
                                               worker, jwt_keys, make_user):
    box = sfbox.app.sandbox
    conn = connection_connect_jwt(organization=merchant, username=box.store.username,
                                  private_key_pem=jwt_keys[0].decode(), user=merchant.owner)
    assert conn.status == Connection.Status.CONNECTED
    connection_update_config(connection=conn, trigger_rule={"won_stages": ["Closed Won"]},
                             field_map={"customer.email": "account.Email__c"})
    opp = box.seed(**DATA)["opportunities"][0]["Id"]
    box.update_opportunity(opp, StageName="Closed Won")

    http = signed_in_http(client, live_server, merchant.owner)
    assert "Sync now" in http.get(f"/dashboard/connections/{conn.pk}").text
    csrf = http.cookies["csrftoken"]
    synced = http.post(f"/dashboard/connections/{conn.pk}/sync", data={"csrfmiddlewaretoken": csrf})
    assert synced.status_code == 302
    invoice = _invoiced_confirmed_written_back(sfbox, opp, worker)
    assert Deal.objects.get(connection=conn, external_id=opp).invoice_id == invoice.pk
    _visible(http, client, live_server, make_user, invoice, opp)
