"""The Square part of `make demo` (DEMO ONLY; never imported by the product):
the demo merchant connects Square through the dashboard and Square's consent
page (driven over HTTP like a browser), the sandbox's webhook subscription
points at our server, a day of history is imported, and the sandbox's load
generator keeps completing sales at a location — each one arrives as a signed
webhook and turns into an invoice on the pos_realtime worker.

`taxpoynt.ops.demo` exposes `square_world` (run_demo calls it when present).
"""
from __future__ import annotations

import datetime as dt

import httpx
import lxml.html
from django.conf import settings

LIVE_SALES_PER_SECOND = 0.2  # one sale every five seconds
LIVE_HOURS = 12


def _connect(http: httpx.Client, square_base: str, merchant_id: str) -> str:
    start = http.post("/dashboard/connections/connect/square", data={"csrfmiddlewaretoken": http.cookies["csrftoken"]})
    if start.status_code != 302:
        raise RuntimeError(f"connect square: {start.status_code} {start.text[:200]}")
    consent = httpx.get(start.headers["location"], timeout=30)
    consent.raise_for_status()
    form = {i.get("name"): i.get("value") or "" for i in lxml.html.fromstring(consent.text).iter("input")}
    granted = httpx.post(square_base + "/oauth2/authorize", timeout=30,
                         data={**form, "merchant_id": merchant_id, "decision": "allow"})
    if granted.status_code != 302:
        raise RuntimeError(f"square consent: {granted.status_code} {granted.text[:200]}")
    callback = http.get(granted.headers["location"])
    if callback.status_code != 302:
        raise RuntimeError(f"square callback: {callback.status_code} {callback.text[:300]}")
    return callback.headers["location"]


def square_world(*, base_url: str, email: str, password: str, square_app) -> None:
    from taxpoynt.ops.demo import _browser

    sandbox = square_app.sandbox
    sandbox.set_subscription(notification_url=base_url + "/webhooks/pos/square",
                             signature_key=settings.SQUARE_WEBHOOK_SIGNATURE_KEY)
    now = dt.datetime.now(dt.timezone.utc)
    sandbox.seed_history(count=40, start=now - dt.timedelta(days=1), end=now - dt.timedelta(minutes=5))
    http = _browser(base_url, email, password)
    connection_page = _connect(http, sandbox.base_url, sandbox.default_merchant_id)
    # Yesterday's sales come in by a historical import (sync queue, submissions on batch) …
    http.post(connection_page + "/sync", data={"csrfmiddlewaretoken": http.cookies["csrftoken"],
                                               "mode": "historical"})
    # … and live sales at the first location as signed webhooks (pos_realtime).
    first = sorted(sandbox.merchant_locations(sandbox.default_merchant_id), key=lambda x: x["id"])[0]
    sandbox.start_load(rate=LIVE_SALES_PER_SECOND, seconds=LIVE_HOURS * 3600, location_ids=[first["id"]])
