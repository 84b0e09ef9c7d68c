"""HubSpot webhook intake: v3 signature over the raw request, 5-minute window,
duplicates acknowledged and ignored, nothing unverified stored as an event."""
import json
import time

import pytest

from integrations.connections.models import RejectedWebhook, WebhookEvent
from integrations.crm.hubspot.sandbox.webhooks import v3_signature as sandbox_signature
from integrations.crm.hubspot.webhooks import v3_signature, verify_v3
from integrations.connections.registry import WebhookRejected

from .fixtures import connect

PUBLIC = "https://taxpoynt.example"
PATH = "/webhooks/crm/hubspot"


@pytest.fixture
def public_url(settings):
    settings.PUBLIC_BASE_URL = PUBLIC
    return PUBLIC + PATH


def _event(portal_id, event_id=1001, object_id="11000000001", **extra):
    return {"eventId": event_id, "subscriptionId": 100001, "portalId": portal_id, "appId": 54321,
            "occurredAt": int(time.time() * 1000), "subscriptionType": "deal.propertyChange",
            "attemptNumber": 0, "objectId": int(object_id), "propertyName": "dealstage",
            "propertyValue": "closedwon", "changeSource": "CRM_UI", **extra}


def _post(client, settings, body: bytes, *, timestamp=None, secret=None, uri=None, signature=None):
    timestamp = str(timestamp if timestamp is not None else int(time.time() * 1000))
    secret = secret or settings.VENDORS["hubspot"]["client_secret"]
    sig = signature or sandbox_signature(secret, "POST", uri or PUBLIC + PATH, body.decode(), timestamp)
    return client.post(PATH, data=body, content_type="application/json",
                       headers={"X-HubSpot-Signature-v3": sig, "X-HubSpot-Request-Timestamp": timestamp})


def test_our_signature_matches_the_sandbox_sender():
    body = b'[{"eventId":1}]'
    ours = v3_signature(secret="s3cret", method="POST", uri="https://x.example/webhooks/crm/hubspot?a=%3A",
                        body=body, timestamp="1700000000000")
    assert ours == sandbox_signature("s3cret", "POST", "https://x.example/webhooks/crm/hubspot?a=%3A",
                                     body.decode(), "1700000000000")


def test_verify_rejects_each_tampered_part():
    body, ts, uri = b'[{"eventId":1}]', "1700000000000", "https://x.example/w"
    good = v3_signature(secret="k", method="POST", uri=uri, body=body, timestamp=ts)
    headers = {"x-hubspot-signature-v3": good, "x-hubspot-request-timestamp": ts}
    verify_v3(secret="k", method="POST", uri=uri, body=body, headers=headers, now_ms=1700000000000 + 1000)
    for kwargs in ({"body": body + b" "}, {"uri": uri + "x"}, {"method": "PUT"}, {"secret": "other"}):
        args = {"secret": "k", "method": "POST", "uri": uri, "body": body, "headers": headers,
                "now_ms": 1700000000000, **kwargs}
        with pytest.raises(WebhookRejected) as exc:
            verify_v3(**args)
        assert exc.value.reason == "bad_signature"


@pytest.mark.django_db
def test_valid_delivery_is_stored_then_queued(client, settings, public_url, hubspot_org, sandbox, monkeypatch,
                                              django_capture_on_commit_callbacks):
    from integrations.connections import webhooks

    published = []
    monkeypatch.setattr(webhooks, "enqueue_webhook_event", lambda **kw: published.append(kw))
    conn = connect(hubspot_org, sandbox)
    body = json.dumps([_event(sandbox.portal_id, 1001), _event(sandbox.portal_id, 1002)]).encode()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _post(client, settings, body)
    assert response.status_code == 200
    assert response.json() == {"received": 2, "new": 2}
    events = WebhookEvent.objects.filter(vendor="hubspot").order_by("event_id")
    assert [e.event_id for e in events] == ["1001", "1002"]
    assert all(e.connection_id == conn.pk and e.organization_id == hubspot_org.pk for e in events)
    assert bytes(events[0].raw_body) == body
    assert len(callbacks) == 1 and published == []  # the publishing waits for the commit
    callbacks[0]()
    # One processing task per new event: HubSpot takes no batches, so no wakes.
    assert sorted(str(kw["event_id"]) for kw in published) == sorted(str(e.pk) for e in events)
    assert all(kw.get("wake") is None for kw in published)


@pytest.mark.django_db
def test_duplicate_delivery_is_acknowledged_and_ignored(client, settings, public_url, hubspot_org, sandbox,
                                                        django_capture_on_commit_callbacks):
    connect(hubspot_org, sandbox)
    body = json.dumps([_event(sandbox.portal_id, 2001)]).encode()
    assert _post(client, settings, body).status_code == 200
    retry = json.dumps([_event(sandbox.portal_id, 2001, attemptNumber=1)]).encode()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _post(client, settings, retry)
    assert response.status_code == 200
    assert response.json() == {"received": 1, "new": 0}
    assert WebhookEvent.objects.filter(vendor="hubspot", event_id="2001").count() == 1
    assert callbacks == []


@pytest.mark.django_db
@pytest.mark.parametrize("case,reason", [
    ("bad_signature", "bad_signature"),
    ("wrong_secret", "bad_signature"),
    ("wrong_uri", "bad_signature"),
    ("old_timestamp", "stale_timestamp"),
    ("missing", "missing_signature"),
])
def test_refused_deliveries_store_nothing_valid(client, settings, public_url, hubspot_org, sandbox, case, reason):
    connect(hubspot_org, sandbox)
    body = json.dumps([_event(sandbox.portal_id, 3001)]).encode()
    now = int(time.time() * 1000)
    if case == "bad_signature":
        response = _post(client, settings, body, signature="bm90IGEgc2lnbmF0dXJl")
    elif case == "wrong_secret":
        response = _post(client, settings, body, secret="not-our-secret")
    elif case == "wrong_uri":
        response = _post(client, settings, body, uri="https://evil.example" + PATH)
    elif case == "old_timestamp":
        response = _post(client, settings, body, timestamp=now - 301_000)  # correctly signed, too old
    else:
        response = client.post(PATH, data=body, content_type="application/json")
    assert response.status_code == 401
    assert response.json()["code"] == reason
    assert response.json()["message"]
    assert not WebhookEvent.objects.exists()
    rejected = RejectedWebhook.objects.get()
    assert rejected.reason == reason and rejected.vendor == "hubspot" and rejected.body_size == len(body)


@pytest.mark.django_db
def test_tampered_body_after_signing_is_refused(client, settings, public_url, hubspot_org, sandbox):
    connect(hubspot_org, sandbox)
    ts = str(int(time.time() * 1000))
    body = json.dumps([_event(sandbox.portal_id, 4001)])
    sig = sandbox_signature(settings.VENDORS["hubspot"]["client_secret"], "POST", public_url, body, ts)
    forged = body.replace("closedwon", "closedlost").encode()
    response = client.post(PATH, data=forged, content_type="application/json",
                           headers={"X-HubSpot-Signature-v3": sig, "X-HubSpot-Request-Timestamp": ts})
    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_unknown_portal_is_stored_ignored_with_no_task(client, settings, public_url, sandbox, monkeypatch, make_org,
                                                       django_capture_on_commit_callbacks):
    from integrations.connections import webhooks

    published = []
    monkeypatch.setattr(webhooks, "enqueue_webhook_event", lambda **kw: published.append(kw))
    body = json.dumps([_event(999999, 5001)]).encode()
    with django_capture_on_commit_callbacks(execute=True):
        assert _post(client, settings, body).status_code == 200
    event = WebhookEvent.objects.get(event_id="5001")
    assert event.connection_id is None
    assert (event.status, event.error) == (WebhookEvent.Status.IGNORED, webhooks.UNROUTED) and event.processed_at
    assert published == []  # nothing to process: no task

    # A support replay routes it again: still no connection for the portal, so nothing is queued …
    from integrations.connections.services import webhook_event_replay
    from taxpoynt.errors import ApplicationError
    from tests import factories

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with pytest.raises(ApplicationError) as refused:
            webhook_event_replay(event=event)
    assert refused.value.code == "unrouted" and "999999" in refused.value.message
    assert callbacks == []
    event.refresh_from_db()
    assert (event.status, event.connection_id) == (WebhookEvent.Status.IGNORED, None)

    # … once the merchant connects that portal, the replay routes it there and queues it.
    conn = factories.connection(make_org(), vendor="hubspot", external_account_id="999999")
    with django_capture_on_commit_callbacks(execute=True):
        webhook_event_replay(event=event)
    event.refresh_from_db()
    assert (event.connection_id, event.organization_id) == (conn.pk, conn.organization_id)
    assert event.status == WebhookEvent.Status.RECEIVED and event.error == ""
    assert [p["event_id"] for p in published] == [event.pk]


@pytest.mark.django_db
def test_malformed_body_is_400(client, settings, public_url):
    response = _post(client, settings, b'{"not": "an array"}')
    assert response.status_code == 400
    assert response.json()["code"] == "malformed"
    assert not WebhookEvent.objects.exists()
