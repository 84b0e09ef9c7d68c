"""Salesforce Celery tasks (crm queue by module, taxpoynt.celery.route_task).
Thin: claim, call the service, record the outcome.

- `process_webhook_event`: one stored outbound-message / change event.
- `writeback_due`: the write-back beat (every WRITEBACK_BEAT_SECONDS, entry
  created when the first Salesforce connection is authorized; editable in admin).
- `poll_change_events`: store new CDC-style events of one connection.
"""
from __future__ import annotations

import logging

from celery import shared_task

from integrations.connections.models import Connection
from integrations.connections.tasks import webhook_event_run

from .provider import SalesforceProvider

logger = logging.getLogger(__name__)

WRITEBACK_TASK = "integrations.crm.salesforce.tasks.writeback_due"
WRITEBACK_BEAT_NAME = "salesforce write-back"
WRITEBACK_BEAT_SECONDS = 60


def writeback_schedule() -> None:
    """The beat entry running `writeback_due` (created once, idempotent)."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    schedule, _ = IntervalSchedule.objects.get_or_create(every=WRITEBACK_BEAT_SECONDS,
                                                         period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.get_or_create(name=WRITEBACK_BEAT_NAME,
                                       defaults={"task": WRITEBACK_TASK, "interval": schedule})


@shared_task(bind=True, max_retries=10, acks_late=True)
def process_webhook_event(self, event_id: str):
    from .services import webhook_event_process

    return webhook_event_run(self, event_id=event_id, process=webhook_event_process)


@shared_task(acks_late=True)
def writeback_due(connection_id: str | None = None):
    from .writeback import connection_writeback_due

    connections = Connection.objects.filter(vendor=SalesforceProvider.key).exclude(
        status__in=[Connection.Status.DISCONNECTED, Connection.Status.NEEDS_REAUTH])
    if connection_id:
        connections = connections.filter(pk=connection_id)
    totals: dict[str, int] = {}
    for connection in connections:
        for outcome, count in connection_writeback_due(connection=connection).items():
            totals[outcome] = totals.get(outcome, 0) + count
    return totals


@shared_task(acks_late=True)
def poll_change_events(connection_id: str):
    from integrations.connections.webhooks import webhook_events_dispatch

    from .webhooks import change_events_poll

    connection = Connection.objects.get(pk=connection_id)
    stored = change_events_poll(connection=connection)
    webhook_events_dispatch(provider=SalesforceProvider, stored=stored)
    return len(stored)
