"""Square Celery tasks. Thin: claim, call the service, record the outcome.

Every task in this module lands on `pos_realtime` by its module
(taxpoynt.celery.route_task) — a sale never waits behind a sync or a batch —
except where a caller names another queue: the end-of-day reconciliation and
batch re-processing are sent to `batch` explicitly (beat entry / apply_async).
"""
from __future__ import annotations

import datetime as dt
import logging

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
def process_webhook_event(self, event_id: str):
    return webhook_event_run(self, event_id=event_id, process=services.webhook_event_process,
                             retry_on=(services.InvoiceNotReady,), fail_on=(ApplicationError,))


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
def batch_reconcile_day(self, day: str | None = None, connection_id: str | None = None):
    """End-of-day reconciliation for one connection, or every connected Square
    account (beat, on the batch queue). `day` defaults to yesterday (Lagos)."""
    from django.utils import timezone

    the_day = dt.date.fromisoformat(day) if day else timezone.localdate() - dt.timedelta(days=1)
    conns = Connection.objects.filter(vendor=SquareProvider.key, status__in=[
        Connection.Status.CONNECTED, Connection.Status.SYNCING, Connection.Status.ERROR])
    if connection_id:
        conns = conns.filter(pk=connection_id)
    totals = {"completed": 0, "invoiced_now": 0}
    for connection in conns:
        try:
            result = services.reconcile_day(connection=connection, day=the_day)
        except (RateLimited, VendorUnavailable) as exc:
            raise self.retry(exc=exc, countdown=getattr(exc, "retry_after", 30) or 30)
        except NeedsReauth:
            continue
        for k in totals:
            totals[k] += result[k]
    return totals
