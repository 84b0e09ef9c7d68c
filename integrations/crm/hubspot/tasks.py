"""HubSpot Celery tasks (crm queue by module, taxpoynt.celery.route_task).
Thin: claim, call the service, record the outcome."""
from __future__ import annotations

import logging

from celery import shared_task

from integrations.connections.tasks import webhook_event_run

from .services import webhook_event_process

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=10, acks_late=True)
def process_webhook_event(self, event_id: str):
    return webhook_event_run(self, event_id=event_id, process=webhook_event_process)
