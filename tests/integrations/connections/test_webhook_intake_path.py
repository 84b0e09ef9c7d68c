"""The acknowledgement path of POST /webhooks/<kind>/<vendor>:
- taxpoynt.wsgi sends /webhooks/… through a short middleware chain (no
  session, auth, CSRF …) and every other path through settings.MIDDLEWARE;
- webhook_events_store routes and inserts in one statement (oldest live
  connection of the account, never a disconnected one; duplicates skipped);
- the Celery message goes to the provider's queue without a per-publish
  queue declaration."""
import io
from contextlib import contextmanager

import pytest
from celery.signals import before_task_publish
from django.core import signals
from django.db import close_old_connections

from integrations.connections.models import Connection, WebhookEvent
from integrations.connections.registry import ParsedEvent, get_provider
from integrations.connections.webhooks import UNROUTED, enqueue_webhook_event, webhook_events_store
from taxpoynt import wsgi
from tests.integrations.pos.square.fixtures import SIGNATURE_KEY, order_event, signed, square_org  # noqa: F401

pytestmark = pytest.mark.django_db
PUBLIC = "https://taxpoynt.example.ng"
PATH = "/webhooks/pos/square"


@pytest.fixture
def intake(settings):
    settings.PUBLIC_BASE_URL = PUBLIC
    settings.SQUARE_WEBHOOK_SIGNATURE_KEY = SIGNATURE_KEY


@contextmanager
def _test_db_connection_kept():
    # A real handler closes "old" connections around each request; the test's
    # transaction must survive it (as django.test.Client does).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _call(method, path, body=b"", headers=None):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "testserver",
               "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
               "wsgi.input": io.BytesIO(body), "wsgi.errors": io.StringIO(), "CONTENT_LENGTH": str(len(body)),
               "HTTP_HOST": "testserver", "HTTP_COOKIE": "sessionid=abc; csrftoken=xyz", "REMOTE_ADDR": "127.0.0.1"}
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"], answer["headers"] = int(status.split()[0]), dict(response_headers)

    with _test_db_connection_kept():
        response = wsgi.application(environ, start_response)
        content = b"".join(response)
        response.close()
    return answer["status"], answer["headers"], content


def _square_event(merchant="MLFAST", event_id="ev-fast-1"):
    order = {"id": "ORDER1", "location_id": "L1", "version": 4, "created_at": "2026-11-22T10:00:00Z",
             "updated_at": "2026-11-22T10:01:00Z"}
    return order_event(merchant_id=merchant, order=order, event_id=event_id)


def test_webhook_chain_leaves_out_browser_middleware(settings):
    chain = wsgi.webhook_middleware()
    assert chain == [m for m in settings.MIDDLEWARE if m not in settings.BROWSER_MIDDLEWARE]
    for name in ("SessionMiddleware", "CsrfViewMiddleware", "AuthenticationMiddleware", "AccountMiddleware",
                 "MessageMiddleware", "WhiteNoiseMiddleware"):
        assert not any(m.endswith(name) for m in chain), name
    assert "django.middleware.security.SecurityMiddleware" in chain
    assert any("Prometheus" in m for m in chain)


def test_signed_delivery_through_the_wsgi_entry_point(intake, square_org, django_capture_on_commit_callbacks):  # noqa: F811
    conn = Connection.objects.create(organization=square_org, vendor="square", kind="pos", status="connected",
                                     external_account_id="MLFAST")
    body, headers = signed(PUBLIC + PATH, _square_event())
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        status, response_headers, content = _call("POST", PATH, body, headers)
    assert status == 200 and content == b'{"received": 1, "new": 1}'
    # No session, CSRF or X-Frame-Options machinery ran for the delivery.
    assert "Set-Cookie" not in response_headers and "X-Frame-Options" not in response_headers
    event = WebhookEvent.objects.get()
    assert bytes(event.raw_body) == body and event.connection_id == conn.pk
    assert event.organization_id == square_org.pk
    assert len(callbacks) == 1  # the enqueue waits for the commit

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        status, _, content = _call("POST", PATH, body, headers)  # the vendor's retry
    assert status == 200 and content == b'{"received": 1, "new": 0}' and not callbacks
    assert WebhookEvent.objects.count() == 1


def test_refusals_and_unknown_paths_through_the_wsgi_entry_point(intake):
    body, headers = signed(PUBLIC + PATH, _square_event())
    headers["x-square-hmacsha256-signature"] = "bm90IGEgc2lnbmF0dXJl"
    status, _, content = _call("POST", PATH, body, headers)
    assert status == 401 and b"bad_signature" in content
    assert _call("GET", PATH)[0] == 405
    assert _call("POST", "/webhooks/pos/nosuchvendor", b"{}")[0] == 404
    assert _call("POST", "/webhooks/not-a-kind", b"{}")[0] == 404
    assert not WebhookEvent.objects.exists()


def test_other_paths_keep_the_full_middleware():
    status, headers, _ = _call("GET", "/healthz")
    assert status == 200 and headers.get("X-Frame-Options") == "DENY"


def _events(*pairs):
    return [ParsedEvent(event_id=eid, event_type="order.updated", account_id=account, payload={})
            for eid, account in pairs]


def test_store_routes_to_the_accounts_live_connection(square_org, make_org):  # noqa: F811
    other = make_org(name="Second Org Ltd", tin="87654321-0001")
    # The account was another organization's before (disconnected): only the live connection counts.
    Connection.objects.create(organization=other, vendor="square", kind="pos", status="disconnected",
                              external_account_id="MLSHARED")
    live = Connection.objects.create(organization=square_org, vendor="square", kind="pos", status="connected",
                                     external_account_id="MLSHARED")
    Connection.objects.create(organization=other, vendor="hubspot", kind="crm", status="connected",
                              external_account_id="MLOTHERVENDOR")
    stored = webhook_events_store(vendor="square", events=_events(("a", "MLSHARED"), ("b", "MLOTHERVENDOR"),
                                                                    ("c", "MLNOBODY")),
                                  body=b"raw", headers={"x-a": "1"})
    assert len(stored) == 3
    rows = {e.event_id: e for e in WebhookEvent.objects.all()}
    assert {(s.id, s.connection_id, s.event_type) for s in stored} == {
        (r.pk, r.connection_id, r.event_type) for r in rows.values()}
    assert (rows["a"].connection_id, rows["a"].organization_id) == (live.pk, square_org.pk)
    assert rows["b"].connection_id is None and rows["c"].connection_id is None  # another vendor's account / none
    assert all(bytes(r.raw_body) == b"raw" and r.headers == {"x-a": "1"} for r in rows.values())
    assert (rows["a"].status, rows["a"].error, rows["a"].processed_at) == ("received", "", None)
    # Routed to no live connection: stored, and already ignored (every vendor ignores it), with the reason.
    for unrouted in (rows["b"], rows["c"]):
        assert (unrouted.status, unrouted.error) == ("ignored", UNROUTED) and unrouted.processed_at


def test_store_never_routes_to_a_disconnected_connection(square_org):  # noqa: F811
    conn = Connection.objects.create(organization=square_org, vendor="square", kind="pos", status="connected",
                                     external_account_id="MLGONE")
    webhook_events_store(vendor="square", events=_events(("before", "MLGONE")), body=b"{}", headers={})
    Connection.objects.filter(pk=conn.pk).update(status="disconnected")
    webhook_events_store(vendor="square", events=_events(("after", "MLGONE")), body=b"{}", headers={})
    assert WebhookEvent.objects.get(event_id="before").connection_id == conn.pk
    after = WebhookEvent.objects.get(event_id="after")
    assert after.connection_id is None and after.organization_id is None


def test_store_skips_known_and_repeated_event_ids():
    first = webhook_events_store(vendor="square", events=_events(("x", "M"), ("x", "M"), ("y", "M")),
                                 body=b"{}", headers={})
    assert len(first) == 2
    again = webhook_events_store(vendor="square", events=_events(("y", "M"), ("z", "M")), body=b"{}", headers={})
    assert len(again) == 1 and WebhookEvent.objects.get(pk=again[0].id).event_id == "z"
    assert webhook_events_store(vendor="hubspot", events=_events(("x", "M")), body=b"{}", headers={})  # per vendor
    assert webhook_events_store(vendor="square", events=[], body=b"{}", headers={}) == []


def test_enqueue_publishes_to_the_vendor_queue_without_declaring(settings, monkeypatch):
    if not settings.CELERY_BROKER_URL.startswith("redis") or settings.CELERY_TASK_ALWAYS_EAGER:
        pytest.skip("no Redis broker: tasks run in-process")
    from kombu.transport import redis as kombu_redis

    published, declared = [], []
    before_task_publish.connect(lambda declare=None, **kw: declared.append(declare), weak=False,
                                dispatch_uid="test-enqueue-declare")
    # Recorded instead of pushed: the message would be LPUSHed onto this list.
    monkeypatch.setattr(kombu_redis.Channel, "_put", lambda self, queue, message, **kw: published.append(
        (queue, message["headers"]["task"], message["headers"]["published_at"] > 0)))
    try:
        enqueue_webhook_event(provider=get_provider("square"), event_id="00000000-0000-0000-0000-000000000000")
    finally:
        before_task_publish.disconnect(dispatch_uid="test-enqueue-declare")
    assert published == [("pos_realtime", "integrations.pos.square.tasks.process_webhook_event", True)]
    assert declared == [[]]
