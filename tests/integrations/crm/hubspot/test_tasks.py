"""HubSpot webhook processing task: routed to the crm queue, converges with
the sync on the same upsert, so a webhook/sync race makes one invoice."""
import json
import threading
import time

import pytest
from celery.exceptions import Retry
from django.db import connections
from django.utils import timezone

from integrations.connections.models import WebhookEvent
from integrations.connections.sync import HISTORICAL, sync_run
from integrations.connections.webhooks import webhook_events_store
from integrations.crm.hubspot.sync import HubSpotDealSync
from integrations.crm.hubspot.tasks import process_webhook_event
from integrations.crm.hubspot.webhooks import parse_events
from integrations.crm.models import Deal
from invoicing.models import Invoice
from taxpoynt.celery import route_task

from .fixtures import connect


def _event_for(sandbox, deal_id, event_id):
    body = json.dumps([{"eventId": event_id, "subscriptionId": 1, "portalId": sandbox.portal_id, "appId": 54321,
                        "occurredAt": int(time.time() * 1000), "subscriptionType": "deal.propertyChange",
                        "attemptNumber": 0, "objectId": int(deal_id), "propertyName": "dealstage",
                        "propertyValue": "closedwon", "changeSource": "CRM_UI"}]).encode()
    [new] = webhook_events_store(vendor="hubspot", events=parse_events(body), body=body, headers={})
    return new.id


def test_tasks_route_to_their_queues():
    assert route_task("integrations.crm.hubspot.tasks.process_webhook_event", (), {}, {}) == {"queue": "crm"}
    assert route_task("integrations.connections.tasks.sync_connection", (), {}, {}) == {"queue": "sync"}


@pytest.mark.django_db
def test_webhook_event_is_processed_once(hubspot_connection, sandbox):
    deal = sandbox.create_deal({"dealname": "Fence", "amount": "5000", "dealstage": "closedwon"},
                               line_items=[{"name": "Fence", "quantity": "1", "price": "5000"}], notify=False)
    event_id = _event_for(sandbox, deal["id"], 7001)
    assert process_webhook_event.apply(kwargs={"event_id": str(event_id)}).get() == "processed"
    assert process_webhook_event.apply(kwargs={"event_id": str(event_id)}).get() == "skipped"  # already done
    event = WebhookEvent.objects.get(pk=event_id)
    assert event.status == "processed" and event.attempts == 1 and event.processed_at
    assert Deal.objects.get(external_id=deal["id"]).invoice_id


@pytest.mark.django_db
def test_deletion_event_after_won_asks_for_a_credit_note(hubspot_connection, sandbox):
    deal = sandbox.create_deal({"dealname": "Gate", "amount": "5000", "dealstage": "closedwon"}, notify=False)
    process_webhook_event.apply(kwargs={"event_id": str(_event_for(sandbox, deal["id"], 7101))})
    body = json.dumps([{"eventId": 7102, "portalId": sandbox.portal_id, "occurredAt": int(time.time() * 1000) + 5,
                        "subscriptionType": "deal.deletion", "objectId": int(deal["id"])}]).encode()
    [(eid, _, _)] = webhook_events_store(vendor="hubspot", events=parse_events(body), body=body, headers={})
    process_webhook_event.apply(kwargs={"event_id": str(eid)})
    row = Deal.objects.get(external_id=deal["id"])
    assert row.status == Deal.Status.DELETED
    assert row.invoice_error.startswith("Credit note pending")  # the invoice is not signed yet


@pytest.mark.django_db(transaction=True)
def test_webhook_and_sync_racing_make_one_invoice(hubspot_org, sandbox, monkeypatch):
    monkeypatch.setattr(HubSpotDealSync, "index_lag_ms", 0)
    connect(hubspot_org, sandbox)
    deals = [sandbox.create_deal({"dealname": f"Deal {i}", "amount": "1000", "dealstage": "closedwon"},
                                 line_items=[{"name": "Item", "quantity": "1", "price": "1000"}],
                                 notify=False)["id"] for i in range(5)]
    event_ids = [_event_for(sandbox, d, 8000 + i) for i, d in enumerate(deals)]
    conn_id = hubspot_org.connections.get().pk
    barrier = threading.Barrier(3)
    errors = []

    def run(fn):
        try:
            barrier.wait()
            fn()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    def webhooks():
        for eid in event_ids:
            process_webhook_event.apply(kwargs={"event_id": str(eid)}).get()

    threads = [threading.Thread(target=run, args=(f,)) for f in
               (webhooks, lambda: sync_run(connection_id=conn_id, mode=HISTORICAL), webhooks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert Deal.objects.count() == 5
    for deal_id in deals:
        assert Invoice.objects.filter(source_system="hubspot", source_id=deal_id).count() == 1


@pytest.mark.django_db
def test_association_change_refetches_the_deal(hubspot_connection, sandbox):
    deal = sandbox.create_deal({"dealname": "Roof", "amount": "9000", "dealstage": "closedwon"}, notify=False)
    body = json.dumps([{"eventId": 7201, "portalId": sandbox.portal_id, "occurredAt": int(time.time() * 1000),
                        "subscriptionType": "deal.associationChange", "associationType": "DEAL_TO_LINE_ITEM",
                        "fromObjectId": int(deal["id"]), "toObjectId": 31000000099,
                        "associationRemoved": False}]).encode()
    [(eid, _, _)] = webhook_events_store(vendor="hubspot", events=parse_events(body), body=body, headers={})
    assert process_webhook_event.apply(kwargs={"event_id": str(eid)}).get() == "processed"
    assert Deal.objects.get(external_id=deal["id"]).invoice_id


@pytest.mark.django_db
def test_a_token_refused_early_is_refreshed_and_the_event_processed(hubspot_connection, sandbox):
    deal = sandbox.create_deal({"dealname": "Tiles", "amount": "3000", "dealstage": "closedwon"}, notify=False)
    event_id = _event_for(sandbox, deal["id"], 7301)
    sandbox.expire_access_tokens()  # HubSpot says 401 though our clock says the token is fresh
    old_token = json.loads(hubspot_connection.credentials)["access_token"]
    with pytest.raises(Retry):
        process_webhook_event.apply(kwargs={"event_id": str(event_id)})
    assert WebhookEvent.objects.get(pk=event_id).status == "received"
    hubspot_connection.refresh_from_db()
    assert hubspot_connection.token_expires_at <= timezone.now()  # refresh first next time
    # The retry refreshes the token and processes the event.
    assert process_webhook_event.apply(kwargs={"event_id": str(event_id)}).get() == "processed"
    hubspot_connection.refresh_from_db()
    assert hubspot_connection.status == "connected"
    assert json.loads(hubspot_connection.credentials)["access_token"] != old_token
    assert Deal.objects.get(external_id=deal["id"]).invoice_id
