"""Square Celery tasks. Thin: claim, call the service, record the outcome.

Every task in this module lands on `pos_realtime` by its module
(taxpoynt.celery.route_task) — a sale never waits behind a sync or a batch —
except the `batch*` ones (the end-of-day reconciliation and its windows),
which land on `batch` by name, as do the ones a caller sends there (batch
re-processing).
"""
from __future__ import annotations

import datetime as dt
import logging
import random

from celery import shared_task

from integrations.connections.http import RateLimited, VendorUnavailable
from integrations.connections.models import Connection
from integrations.connections.oauth import NeedsReauth
from integrations.connections.tasks import webhook_event_run
from taxpoynt.errors import ApplicationError

from . import services
from .provider import SquareProvider

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=10, acks_late=True)
def process_webhook_event(self, event_id: str | None = None, wake: str | None = None, linger: float = 0.0):
    return webhook_event_run(self, event_id=event_id, process=services.webhook_event_process,
                             retry_on=(services.InvoiceNotReady,), fail_on=(ApplicationError,),
                             process_many=services.webhook_events_process, provider=SquareProvider, wake=wake,
                             linger=linger)


@shared_task(bind=True, max_retries=5, acks_late=True)
def refresh_locations(self, connection_id: str):
    connection = Connection.objects.filter(pk=connection_id, vendor=SquareProvider.key).first()
    if connection is None or connection.status == Connection.Status.DISCONNECTED:
        return 0
    try:
        return len(services.locations_refresh(connection=connection))
    except VendorUnavailable as exc:
        raise self.retry(exc=exc, countdown=min(300, 2 ** self.request.retries * 5))


@shared_task(bind=True, max_retries=5, acks_late=True)
def batch_reconcile_day(self, day: str | None = None, connection_id: str | None = None) -> int:
    """End-of-day reconciliation (beat, on the batch queue) of one connection
    or every connected Square account: `day` (default yesterday, Lagos) cut
    in services.RECONCILE_WINDOWS windows, each a `batch_reconcile_window`
    task on `batch`, so all the batch workers share a big day. Returns how many
    windows it sent."""
    from django.utils import timezone

    the_day = dt.date.fromisoformat(day) if day else timezone.localdate() - dt.timedelta(days=1)
    conns = Connection.objects.filter(vendor=SquareProvider.key, status__in=[
        Connection.Status.CONNECTED, Connection.Status.SYNCING, Connection.Status.ERROR])
    if connection_id:
        conns = conns.filter(pk=connection_id)
    sent = 0
    for connection in conns:
        for start, end in services.reconcile_windows(day=the_day):
            batch_reconcile_window.apply_async(kwargs={"connection_id": str(connection.pk), "start": start.isoformat(),
                                                 "end": end.isoformat()}, queue=services.BATCH_QUEUE)
            sent += 1
    return sent


@shared_task(bind=True, max_retries=20, acks_late=True)
def batch_reconcile_window(self, connection_id: str, start: str, end: str) -> dict | None:
    """One window of a connection's end of day (services.reconcile_window)."""
    connection = Connection.objects.filter(pk=connection_id, vendor=SquareProvider.key).first()
    if connection is None or connection.status in (Connection.Status.DISCONNECTED, Connection.Status.PENDING):
        return None
    try:
        return services.reconcile_window(connection=connection, start=dt.datetime.fromisoformat(start),
                                         end=dt.datetime.fromisoformat(end))
    except (RateLimited, VendorUnavailable) as exc:
        # A day's windows go out together and meet Square's limit together:
        # each waits longer every time (the last sales a webhook and the delta
        # sync both missed are here), spread so they do not return together,
        # and never sooner than Square asked.
        backoff = min(900, 5 * 2 ** self.request.retries) * random.uniform(0.5, 1.5)
        raise self.retry(exc=exc, countdown=max(getattr(exc, "retry_after", 0) or 0, backoff))
    except NeedsReauth:
        return None
