"""Generic webhook intake: `POST /webhooks/<kind>/<vendor>`.

1. The provider verifies the delivery over the raw bytes and the full public
   URI (settings.PUBLIC_BASE_URL + path: proxies rewrite Host, the vendor
   signed the URL it called). Refused → 401 {code, message}, a log line and a
   RejectedWebhook row; nothing enters WebhookEvent.
2. Events are inserted (and routed to their connection) in one statement,
   ON CONFLICT (vendor, event_id) DO NOTHING, so a vendor's retry is
   acknowledged and ignored.
3. After commit, each new event is handed to the provider's task
   (`webhook_events_dispatch`: a batching provider's events by its wake,
   `wakes.py`); the answer is 200 at once (processing
   never happens in the request).

The acknowledgement is on the clock (ack p99 < 50 ms at 100 sales/s): the
path is one INSERT and one publish (or, for a sale counted on a pending
wake, one Redis increment), and taxpoynt.wsgi serves /webhooks/ with a
short middleware chain (no session, auth or CSRF: the signature is the auth).
"""
from __future__ import annotations

import hashlib
import json
import logging
import uuid
from typing import NamedTuple

from celery import current_app
from django.conf import settings
from django.db import connection as db_connection, transaction
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from taxpoynt.db import rows_params, rows_sql
from taxpoynt.errors import ApplicationError
from taxpoynt.ops import metrics

from . import wakes
from .models import Connection, RejectedWebhook, WebhookEvent
from .registry import ParsedEvent, WebhookRejected, get_provider

logger = logging.getLogger(__name__)

# Headers kept with the event (never Authorization / cookies).
_KEPT_HEADER_PREFIXES = ("x-", "content-type", "user-agent")


def _kept_headers(request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()
            if k.lower().startswith(_KEPT_HEADER_PREFIXES) and "authorization" not in k.lower()}


def public_uri(request) -> str:
    """The URI the vendor called, as configured publicly (path + query kept)."""
    return settings.PUBLIC_BASE_URL.rstrip("/") + request.get_full_path()


def _reject(request, vendor: str, reason: str, message: str, status: int = 401):
    body = request.body
    logger.warning("webhook rejected", extra={"vendor": vendor, "reason": reason,
                                              "remote": request.META.get("REMOTE_ADDR", "")})
    try:
        RejectedWebhook.objects.create(
            vendor=vendor[:40], reason=reason[:40], message=message[:300],
            remote_addr=request.META.get("REMOTE_ADDR", "")[:64], headers=_kept_headers(request),
            body_sha256=hashlib.sha256(body).hexdigest(), body_size=len(body))
    except Exception:  # the refusal must still be answered
        logger.exception("could not record rejected webhook")
    return JsonResponse({"code": reason, "message": message}, status=status)


UNROUTED = "No live connection for this vendor account when it arrived: nothing to process."


class StoredEvent(NamedTuple):
    id: uuid.UUID
    connection_id: uuid.UUID | None
    event_type: str


def webhook_events_store(*, vendor: str, events: list[ParsedEvent], body: bytes,
                         headers: dict) -> list[StoredEvent]:
    """Insert the events (duplicates skipped) and return the new rows (id,
    connection, type). Connection/organization are resolved from the event's account id
    (the vendor account's live connection: there is at most one,
    models.LIVE_ACCOUNT_CONSTRAINT).

    One statement does both, so it is atomic on its own (every event or none)
    and the routing is read in the same snapshot that writes the rows: no
    separate SELECT, no transaction to open, no cache that could route an
    event to a connection disconnected meanwhile.

    An event that routes to no live connection is stored already `ignored`
    (with the reason, UNROUTED): every vendor's processing ignores it, so it
    gets no task (`webhook_events_dispatch` skips it). A support replay routes
    it again (services.webhook_event_replay, by selectors.connection_for_account:
    the same rule)."""
    if not events:
        return []
    params = rows_params([[uuid.uuid4(), event.event_id[:200], event.event_type[:100], event.account_id]
                          for event in events])
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {WebhookEvent._meta.db_table} (id, vendor, event_id, event_type, organization_id, "
            f"connection_id, raw_body, headers, received_at, status, attempts, error, processed_at) "
            f"SELECT e.id, %s, e.event_id, e.event_type, c.organization_id, c.id, %s, %s::jsonb, now(), "
            f"CASE WHEN c.id IS NULL THEN %s ELSE %s END, 0, CASE WHEN c.id IS NULL THEN %s ELSE '' END, "
            f"CASE WHEN c.id IS NULL THEN now() END "
            f"FROM {rows_sql(['uuid', 'text', 'text', 'text'], len(events))} "
            f"AS e (id, event_id, event_type, account_id) "
            f"LEFT JOIN LATERAL (SELECT id, organization_id FROM {Connection._meta.db_table} "
            f"WHERE vendor = %s AND external_account_id = e.account_id AND status <> %s "
            f"LIMIT 1) c ON true "
            f"ON CONFLICT (vendor, event_id) DO NOTHING RETURNING id, connection_id, event_type",
            [vendor, body, json.dumps(headers), WebhookEvent.Status.IGNORED, WebhookEvent.Status.RECEIVED, UNROUTED,
             *params, vendor, Connection.Status.DISCONNECTED],
        )
        return [StoredEvent(*row) for row in cursor.fetchall()]


def enqueue_webhook_event(*, provider, event_id, wake=None, linger: float = 0.0) -> None:
    """Hand one stored event to the provider's task (`event_id` None: a wake
    for the backlog alone); `wake` (the provider's key) marks the message as
    the provider's wake, `linger` its wait (wakes.py)."""
    # Through the registered task (not send_task) so the zero-setup demo's
    # in-process mode runs it too; routing still goes by the task's module.
    # declare=[]: Celery publishes to the anonymous exchange (routing key =
    # queue name), which needs no binding, so re-declaring the queue on every
    # publish only costs CPU on the acknowledgement path.
    kwargs = {"event_id": None if event_id is None else str(event_id)}
    if wake is not None:
        kwargs["wake"] = str(wake)
    if linger:
        kwargs["linger"] = linger
    current_app.tasks[provider.webhook_task].apply_async(kwargs=kwargs, declare=[])


def webhook_events_dispatch(*, provider, stored: list[StoredEvent]) -> None:
    """Hand new events to the provider's task: each its own message, except a
    batching provider's batch types, which go by the provider's wake (the
    first arrival publishes it, the others are counted on it). An event that
    routed to no connection was stored ignored: it has nothing to hand over."""
    for event in stored:
        if event.connection_id is None:
            continue
        if provider.webhook_batch_size > 1 and event.event_type in provider.webhook_batch_event_types:
            arrival = wakes.arrive(provider.key)
            if not arrival.starts:
                metrics.webhook_wake_arrivals_total.labels(vendor=provider.key, outcome="counted").inc()
                continue
            metrics.webhook_wake_arrivals_total.labels(vendor=provider.key, outcome="published").inc()
            try:
                enqueue_webhook_event(provider=provider, event_id=event.id, wake=provider.key,
                                      linger=arrival.linger)
            except Exception:
                wakes.forget(provider.key)  # the next arrival publishes again
                raise
        else:
            enqueue_webhook_event(provider=provider, event_id=event.id)


@csrf_exempt
@require_POST
def webhook_receive(request, kind: str, vendor: str):
    try:
        provider = get_provider(vendor)
    except ApplicationError:
        return JsonResponse({"code": "unknown_vendor", "message": "No such webhook endpoint."}, status=404)
    if provider.kind != kind:
        return JsonResponse({"code": "unknown_vendor", "message": "No such webhook endpoint."}, status=404)
    body = request.body
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        provider.verify_webhook(method=request.method, uri=public_uri(request), body=body, headers=headers)
        events = provider.parse_webhook(body=body, headers=headers)
    except WebhookRejected as exc:
        return _reject(request, vendor, exc.reason, exc.message,
                       status=400 if exc.reason == "malformed" else 401)
    # A single statement (autocommit): the rows are committed when it returns.
    # on_commit then runs at once, or after the commit of a caller's atomic block.
    stored = webhook_events_store(vendor=provider.key, events=events, body=body, headers=_kept_headers(request))
    if stored:
        transaction.on_commit(lambda: webhook_events_dispatch(provider=provider, stored=stored))
    ack = provider.webhook_ack(received=len(events), new=len(stored))
    if ack is not None:  # committed above: the acknowledgement never precedes the stored event
        return HttpResponse(ack[0], content_type=ack[1], status=200)
    return JsonResponse({"received": len(events), "new": len(stored)}, status=200)
