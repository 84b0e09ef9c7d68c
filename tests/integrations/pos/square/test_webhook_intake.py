"""POST /webhooks/pos/square (generic intake + SquareProvider.verify_webhook /
parse_webhook): Square's HMAC-SHA256 over the public notification URL + raw
body; forged, unsigned, re-signed-for-another-URL and malformed deliveries are
refused and nothing is stored; a duplicate event_id is acknowledged and
ignored; a good one is stored raw, routed to its connection and queued on
pos_realtime."""
import json

import pytest

from integrations.connections.models import RejectedWebhook, WebhookEvent
from integrations.pos.square.provider import SquareProvider
from taxpoynt.celery import route_task

from .fixtures import SIGNATURE_KEY, order_event, signed

pytestmark = pytest.mark.django_db
PUBLIC = "https://taxpoynt.example.ng"
URL = PUBLIC + "/webhooks/pos/square"


@pytest.fixture
def intake(settings):
    settings.PUBLIC_BASE_URL = PUBLIC
    settings.SQUARE_WEBHOOK_SIGNATURE_KEY = SIGNATURE_KEY


def _post(client, body, headers):
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k != "Content-Type"}
    return client.post("/webhooks/pos/square", data=body, content_type="application/json", **extra)


def _event(merchant="MLTEST", event_id="ev-1"):
    order = {"id": "ORDER1", "location_id": "L1", "version": 4, "created_at": "2026-11-22T10:00:00Z",
             "updated_at": "2026-11-22T10:01:00Z"}
    return order_event(merchant_id=merchant, order=order, event_id=event_id)


def test_good_delivery_is_stored_and_routed(client, intake, square_org, django_capture_on_commit_callbacks):
    from integrations.connections.models import Connection

    conn = Connection.objects.create(organization=square_org, vendor="square", kind="pos",
                                     status="connected", external_account_id="MLTEST")
    body, headers = signed(URL, _event())
    with django_capture_on_commit_callbacks() as callbacks:
        resp = _post(client, body, headers)
    assert resp.status_code == 200 and resp.json() == {"received": 1, "new": 1}
    event = WebhookEvent.objects.get()
    assert bytes(event.raw_body) == body and event.connection_id == conn.pk
    assert event.event_type == "order.updated" and event.status == "received"
    assert len(callbacks) == 1  # one enqueue, after commit
    assert route_task(SquareProvider.webhook_task, (), {}, {}) == {"queue": "pos_realtime"}


def test_duplicate_event_id_is_acknowledged_and_ignored(client, intake):
    body, headers = signed(URL, _event())
    assert _post(client, body, headers).json() == {"received": 1, "new": 1}
    again = _post(client, body, headers)
    assert again.status_code == 200 and again.json() == {"received": 1, "new": 0}
    assert WebhookEvent.objects.count() == 1


@pytest.mark.parametrize("case", ["forged", "unsigned", "other_url", "other_key", "tampered"])
def test_forged_deliveries_are_refused(client, intake, case):
    body, headers = signed(URL, _event())
    if case == "forged":
        headers["x-square-hmacsha256-signature"] = "bm90IGEgc2lnbmF0dXJl"
    elif case == "unsigned":
        del headers["x-square-hmacsha256-signature"]
    elif case == "other_url":
        body, headers = signed("http://127.0.0.1:8000/webhooks/pos/square", _event())
    elif case == "other_key":
        body, headers = signed(URL, _event(), key="someone-elses-key")
    elif case == "tampered":
        body = body.replace(b"ORDER1", b"ORDER2")
    resp = _post(client, body, headers)
    assert resp.status_code == 401
    assert resp.json()["code"] in ("bad_signature", "missing_signature")
    assert not WebhookEvent.objects.exists()
    assert RejectedWebhook.objects.get().vendor == "square"


def test_signed_but_malformed_is_400(client, intake):
    body = b'{"type": "order.updated"}'
    from integrations.pos.square.webhooks import compute_signature

    resp = _post(client, body, {"x-square-hmacsha256-signature": compute_signature(
        signature_key=SIGNATURE_KEY, notification_url=URL, body=body)})
    assert resp.status_code == 400 and resp.json()["code"] == "malformed"
    assert not WebhookEvent.objects.exists()


def test_wrong_kind_is_404(client, intake):
    body, headers = signed(PUBLIC + "/webhooks/crm/square", _event())
    extra = {"HTTP_X_SQUARE_HMACSHA256_SIGNATURE": headers["x-square-hmacsha256-signature"]}
    assert client.post("/webhooks/crm/square", data=body, content_type="application/json", **extra).status_code == 404
    assert json.loads(body)["type"] == "order.updated"
