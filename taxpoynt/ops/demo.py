"""The demo world `make demo` shows: the demo organization registered with the
FIRS sandbox, HubSpot connected through its real OAuth pages (driven over HTTP
like a merchant's browser would), seeded deals some of which close, and — when
the Square connector is present — a Square location with live sales.

Everything goes through the product's own front door (dashboard forms, OAuth
redirects, signed webhooks); this module only plays the merchant and the
vendors' users. DEMO ONLY: never imported by the product.
"""
import datetime
import logging
import time
import uuid
from urllib.parse import urljoin

import httpx
import lxml.html
from django.conf import settings

from taxpoynt.tenancy.models import Organization

logger = logging.getLogger(__name__)

SQUARE_LIVE_SALES_PER_SECOND = 0.2  # one sale every five seconds
SQUARE_LIVE_HOURS = 12
DEMO_COMPANIES = [
    {"name": "Zenith Foods Ltd", "tin": "87654321-0001", "city": "Lagos", "country": "NG", "address": "5 Marina",
     "phone": "+2348098765432"},
    {"name": "Okafor Logistics Ltd", "tin": "24681357-0001", "city": "Abuja", "country": "NG",
     "address": "14 Aminu Kano Crescent", "phone": "+2348031234567"},
    {"name": "Adeyemi Pharmacy", "tin": "13572468-0001", "city": "Ibadan", "country": "NG",
     "address": "3 Ring Road", "phone": "+2348051112222"},
]
DEMO_DEALS = [
    ("Cold room install", "contractsent", [("Cold room panels", "5", "40000"), ("Installation", "1", "50000")], 0),
    ("Fleet tracking units", "closedwon", [("GPS tracker", "12", "18500"), ("Annual service", "1", "60000")], 1),
    ("Pharmacy POS terminals", "closedwon", [("POS terminal", "3", "95000")], 2),
    ("Warehouse shelving", "qualifiedtobuy", [("Steel shelf bay", "20", "12000")], 1),
    ("Staff training", "closedlost", [("Training day", "2", "75000")], 0),
    ("Solar backup", "presentationscheduled", [("Inverter 5kVA", "2", "480000")], 2),
]


def firs_register(*, organization: Organization, firs_app) -> None:
    """Register the org with the FIRS sandbox (its memory is new each start) and
    store the credentials and stamp keys it issues on the org (encrypted)."""
    business = firs_app.sandbox.register_business(
        name=organization.name, tin=organization.tin, service_id=organization.firs_service_id,
        business_id=str(organization.firs_business_id or uuid.uuid4()), email=organization.email)
    organization.firs_business_id = uuid.UUID(business.business_id)
    organization.firs_api_key = business.api_key
    organization.firs_api_secret = business.api_secret
    organization.firs_crypto_keys = business.crypto_keys_json
    organization.save()
    # FIRS refuses transmissions for a business without a webhook URL; the demo has no listener.
    firs_app.sandbox.set_webhook(business.business_id, "http://127.0.0.1:9/firs-webhook")


def _browser(base_url: str, email: str, password: str) -> httpx.Client:
    """A signed-in 'browser' on our own server (allauth's login form)."""
    http = httpx.Client(base_url=base_url, timeout=30)
    http.get("/accounts/login/")
    resp = http.post("/accounts/login/", data={"login": email, "password": password,
                                               "csrfmiddlewaretoken": http.cookies["csrftoken"]})
    if resp.status_code != 302:
        raise RuntimeError(f"demo login failed: {resp.status_code}")
    return http


def _oauth_connect(http: httpx.Client, vendor: str, *, grant: str, extra: dict | None = None) -> str:
    """Press "Connect <vendor>", submit the vendor's consent form with its
    `grant` button (plus any `extra` choices, e.g. which seller account), follow
    the callback; returns where the dashboard sent us."""
    start = http.post(f"/dashboard/connections/connect/{vendor}",
                      data={"csrfmiddlewaretoken": http.cookies["csrftoken"]})
    if start.status_code != 302:
        raise RuntimeError(f"connect {vendor}: {start.status_code} {start.text[:200]}")
    authorize_url = start.headers["location"]
    consent = httpx.get(authorize_url, timeout=30)
    consent.raise_for_status()
    form = lxml.html.fromstring(consent.text).forms[0]
    fields = {i.get("name"): i.get("value") or "" for i in form.inputs if i.get("name") and i.tag == "input"}
    granted = httpx.post(urljoin(authorize_url, form.action), timeout=30,
                         data={**fields, **(extra or {}), "decision": grant})
    if granted.status_code != 302:
        raise RuntimeError(f"{vendor} consent: {granted.status_code} {granted.text[:200]}")
    callback = http.get(granted.headers["location"])
    if callback.status_code != 302:
        raise RuntimeError(f"{vendor} callback: {callback.status_code} {callback.text[:300]}")
    return callback.headers["location"]


def hubspot_world(*, base_url: str, email: str, password: str, hubspot_app) -> None:
    """Connect HubSpot, map the buyer TIN, seed deals and close two of them."""
    sandbox = hubspot_app.sandbox
    sandbox.configure_app(webhook_url=base_url + "/webhooks/crm/hubspot")
    http = _browser(base_url, email, password)
    connection_page = _oauth_connect(http, "hubspot", grant="grant")
    http.post(connection_page, data={
        "csrfmiddlewaretoken": http.cookies["csrftoken"], "won_stages": "closedwon", "lost_stages": "closedlost",
        "tax_category": "STANDARD_VAT", "tax_rate": "7.5", "map:customer.tin": "company.tin"})
    companies = [sandbox.create_company(c, notify=False) for c in DEMO_COMPANIES]
    contacts = [sandbox.create_contact({"firstname": n, "lastname": "Demo", "email": f"{n.lower()}@example.ng",
                                        "phone": "+2348000000000"}, notify=False)
                for n in ("Ngozi", "Tunde", "Amaka")]
    closing = []
    for name, stage, items, who in DEMO_DEALS:
        final = stage in ("closedwon", "closedlost")
        deal = sandbox.create_deal(
            {"dealname": name, "amount": str(sum(int(q) * int(p) for _, q, p in items)), "deal_currency_code": "NGN",
             "dealstage": "contractsent" if final else stage, "pipeline": "default",
             "closedate": time.strftime("%Y-%m-%dT09:00:00.000Z")},
            line_items=[{"name": n, "quantity": q, "price": p} for n, q, p in items],
            company_id=companies[who]["id"], contact_ids=[contacts[who]["id"]], notify=False)
        if final:
            closing.append((deal["id"], stage))
    # A historical import brings the open deals in; closing deals arrive as signed webhooks.
    http.post(connection_page + "/sync", data={"csrfmiddlewaretoken": http.cookies["csrftoken"],
                                               "mode": "historical"})
    for deal_id, stage in closing:
        sandbox.move_deal_stage(deal_id, stage)
    sandbox.wait_for_webhooks(timeout=30)


def square_world(*, base_url: str, email: str, password: str, square_app) -> None:
    """Connect Square, import yesterday's sales, then keep live sales coming."""
    sandbox = square_app.sandbox
    sandbox.set_subscription(notification_url=base_url + "/webhooks/pos/square",
                             signature_key=settings.SQUARE_WEBHOOK_SIGNATURE_KEY)
    now = datetime.datetime.now(datetime.timezone.utc)
    sandbox.seed_history(count=40, start=now - datetime.timedelta(days=1), end=now - datetime.timedelta(minutes=5))
    http = _browser(base_url, email, password)
    connection_page = _oauth_connect(http, "square", grant="allow",
                                     extra={"merchant_id": sandbox.default_merchant_id})
    # Yesterday's sales come in by a historical import (sync queue, submissions on batch) …
    http.post(connection_page + "/sync", data={"csrfmiddlewaretoken": http.cookies["csrftoken"],
                                               "mode": "historical"})
    # … and live sales at the first location as signed webhooks (pos_realtime).
    first = sorted(sandbox.merchant_locations(sandbox.default_merchant_id), key=lambda x: x["id"])[0]
    sandbox.start_load(rate=SQUARE_LIVE_SALES_PER_SECOND, seconds=SQUARE_LIVE_HOURS * 3600, location_ids=[first["id"]])
