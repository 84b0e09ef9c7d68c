"""HubSpot Celery tasks (crm queue by module, taxpoynt.celery.route_task).
Thin: claim, call the service, record the outcome."""
from __future__ import annotations

import logging

from celery import shared_task

from integrations.connections.http import RateLimited, VendorAuthError, VendorNotFound, VendorUnavailable
from integrations.connections.models import WebhookEvent
from integrations.connections.oauth import NeedsReauth, connection_expire_token
from integrations.connections.services import webhook_event_claim, webhook_event_finish

from .services import webhook_event_process

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=10, acks_late=True)
def process_webhook_event(self, event_id: str):
    event = webhook_event_claim(event_id=event_id)
    if event is None:
        return "skipped"
    try:
        outcome = webhook_event_process(event=event)
    except RateLimited as exc:
        webhook_event_finish(event=event, status=WebhookEvent.Status.RECEIVED, error=str(exc))
        raise self.retry(exc=exc, countdown=max(1, int(exc.retry_after + 0.999)))
    except VendorUnavailable as exc:
        if self.request.retries >= self.max_retries:
            webhook_event_finish(event=event, status=WebhookEvent.Status.FAILED, error=str(exc))
            raise
        webhook_event_finish(event=event, status=WebhookEvent.Status.RECEIVED, error=str(exc))
        raise self.retry(exc=exc, countdown=min(600, 2 ** self.request.retries * 5))
    except VendorAuthError as exc:
        # Token refused before its expiry: refresh it on the retry.
        webhook_event_finish(event=event, status=WebhookEvent.Status.RECEIVED, error=str(exc))
        if event.connection_id:
            connection_expire_token(connection_id=event.connection_id)
        raise self.retry(exc=exc, countdown=5, max_retries=2)
    except (NeedsReauth, VendorNotFound) as exc:
        webhook_event_finish(event=event, status=WebhookEvent.Status.FAILED, error=str(exc))
        return "failed"
    except Exception as exc:
        webhook_event_finish(event=event, status=WebhookEvent.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    webhook_event_finish(event=event, status=outcome)
    return outcome
