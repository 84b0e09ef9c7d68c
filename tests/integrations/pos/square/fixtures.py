"""Square wiring fixtures (imported by tests/integrations/pos/conftest.py): the
Square sandbox whose OAuth app uses our client id/secret (redirect URL taken
from the authorize request), settings pointing at it, a connected merchant
holding real sandbox tokens, and helpers to sign webhooks and build sales."""
import datetime
import json

import pytest
from django.utils import timezone

from integrations.connections.models import Connection
from integrations.pos.square import services
from integrations.pos.square.webhooks import compute_signature
from taxpoynt import sandboxing
from tests import e2e
from tests.e2e import stop_worker  # noqa: F401 (the Square tests import it from here)

SIGNATURE_KEY = "test-square-signature-key"


@pytest.fixture
def square_sandbox(settings):
    vendor = settings.VENDORS["square"]
    running = sandboxing.start("square", port=0, time_scale=0.0001, seed=4321, client_id=vendor["client_id"],
                               client_secret=vendor["client_secret"])
    settings.VENDORS = {**settings.VENDORS, "square": {**vendor, "base_url": running.url}}
    settings.SQUARE_WEBHOOK_SIGNATURE_KEY = SIGNATURE_KEY
    yield running
    running.stop()
    running.app.sandbox.close()


@pytest.fixture
def sq(square_sandbox):
    return square_sandbox.app.sandbox


@pytest.fixture
def square_org(make_org, make_user):
    owner = make_user()
    org = make_org(owner=owner, name="Mama Put Lagos Ltd", tin="12345678-0001", email="billing@mamaput.example.ng",
                   telephone="+2348012345678", street_name="12 Adeola Odeku Street", city_name="Lagos",
                   postal_zone="101241")
    org.owner = owner
    return org


def connect(org, sandbox, *, pkce=False, merchant_id=None, **fields) -> Connection:
    """`org` connected to the sandbox's seller `merchant_id` (its default seller if None)."""
    tokens = sandbox.issue_token(pkce=pkce, merchant_id=merchant_id)
    conn = Connection.objects.create(
        organization=org, vendor="square", kind="pos", status=Connection.Status.CONNECTED,
        external_account_id=tokens["merchant_id"],
        credentials=json.dumps({"access_token": tokens["access_token"], "refresh_token": tokens["refresh_token"],
                                "merchant_id": tokens["merchant_id"], "pkce": pkce}),
        token_expires_at=timezone.now() + datetime.timedelta(days=30),
        **{"display_name": "Mama Put Lagos Ltd", **fields})
    services.locations_refresh(connection=conn)
    return conn


@pytest.fixture
def square_connection(square_org, sq):
    return connect(square_org, sq)


@pytest.fixture
def second_seller(sq, firs_sandbox, firs_test_keys, firs_merchant):
    """Another Square seller (a location of its own) connected to another
    organization, registered with FIRS as a business of its own."""
    b = firs_sandbox.app.sandbox.register_business(name="Bukka Hut Ltd", tin="40213377-0001", service_id="7C3D19A2",
                                                   keys=firs_test_keys)
    org = firs_merchant("owner@bukka.example.ng", "Bukka Hut Ltd", business=b)
    seller = sq.add_merchant(business_name="Bukka Hut")
    sq.seed_locations(merchant_id=seller["id"])
    return connect(org, sq, merchant_id=seller["id"], display_name="Bukka Hut Ltd")


def signed(url: str, event: dict, key: str = SIGNATURE_KEY) -> tuple[bytes, dict]:
    body = json.dumps(event, separators=(",", ":")).encode()
    return body, {"Content-Type": "application/json",
                  "x-square-hmacsha256-signature": compute_signature(signature_key=key, notification_url=url,
                                                                     body=body)}


def order_event(*, merchant_id: str, order: dict, event_id: str, state: str = "COMPLETED") -> dict:
    return {"merchant_id": merchant_id, "type": "order.updated", "event_id": event_id,
            "created_at": order.get("updated_at", "2026-11-22T10:00:00Z"),
            "data": {"type": "order", "id": order["id"], "object": {"order_updated": {
                "order_id": order["id"], "location_id": order["location_id"], "state": state,
                "version": order.get("version", 1), "created_at": order.get("created_at"),
                "updated_at": order.get("updated_at")}}}}


def m(amount):
    return {"amount": amount, "currency": "NGN"}


def vat_sale(*, qty="2", price=250000, tax_type="ADDITIVE", metadata=None, **extra) -> dict:
    """A CreateOrder body: one line, 7.5 % VAT (additive or inclusive)."""
    order = {"line_items": [{"uid": "jollof", "name": "Jollof rice", "quantity": qty, "base_price_money": m(price),
                             "applied_taxes": [{"tax_uid": "vat"}]}],
             "taxes": [{"uid": "vat", "name": "VAT", "percentage": "7.5", "type": tax_type, "scope": "LINE_ITEM"}]}
    if metadata:
        order["metadata"] = metadata
    order.update(extra)
    return order


def exchange_a_jollof(sq, sale, price, **kw) -> dict:
    """One jollof of `sale` (a `vat_sale`) exchanged at the till for a juice at
    `price` (kobo, + 7.5 % VAT): the sandbox's create_exchange answer."""
    return sq.create_exchange(order_id=sale["order"]["id"],
                              returns=[{"source_line_item_uid": "jollof", "quantity": "1"}],
                              order={"line_items": [{"uid": "juice", "name": "Juice", "quantity": "1",
                                                     "base_price_money": m(price),
                                                     "applied_taxes": [{"tax_uid": "vat"}]}],
                                     "taxes": [{"uid": "vat", "name": "VAT", "percentage": "7.5", "type": "ADDITIVE",
                                                "scope": "LINE_ITEM"}]}, **kw)


def gift_card_line(amount=1000000, uid="gc"):
    """A Square gift card sold (or reloaded) at the till: item_type GIFT_CARD,
    no catalog object, no tax."""
    return {"uid": uid, "name": "Gift Card", "quantity": "1", "item_type": "GIFT_CARD", "base_price_money": m(amount)}


def start_worker(settings, *, queues: str, firs_url: str, square_url: str, concurrency: int = 1,
                 pool: str = "solo", name: str = "w", **env):
    """A real Celery worker process (tests.e2e.start_worker) pointed at the
    Square sandbox, with `env` added to its environment."""
    return e2e.start_worker(settings, queues=queues, name=name, pool=pool, concurrency=concurrency,
                            FIRS_BASE_URL=firs_url, SQUARE_BASE_URL=square_url,
                            SQUARE_CLIENT_ID=settings.VENDORS["square"]["client_id"],
                            SQUARE_CLIENT_SECRET=settings.VENDORS["square"]["client_secret"],
                            SQUARE_WEBHOOK_SIGNATURE_KEY=SIGNATURE_KEY, **env)

