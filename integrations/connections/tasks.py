"""Thin Celery tasks for the generic machinery. `sync_connection` lands on the
`sync` queue by its name (taxpoynt.celery.route_task)."""
from __future__ import annotations

import logging

from celery import shared_task

from .http import RateLimited, VendorAuthError, VendorNotFound, VendorUnavailable
from .models import WebhookEvent
from .oauth import NeedsReauth, connection_expire_token
from .services import webhook_event_claim, webhook_event_finish, webhook_events_requeue_unclaimed
from .sync import DELTA, sync_record_failure, sync_run

logger = logging.getLogger(__name__)

PAGES_PER_TASK = 50  # bound one task's run; it re-enqueues itself to continue


@shared_task(bind=True, max_retries=8, acks_late=True)
def sync_connection(self, connection_id: str, mode: str = DELTA):
    try:
        result = sync_run(connection_id=connection_id, mode=mode, max_pages=PAGES_PER_TASK)
    except RateLimited as exc:
        # The checkpoint keeps the place; come back when the vendor allows.
        raise self.retry(exc=exc, countdown=max(1, int(exc.retry_after + 0.999)), max_retries=50)
    except NeedsReauth:
        return {"skipped": "needs_reauth"}
    except VendorAuthError as exc:
        # Token refused early: refresh it on the retry (a dead grant then shows as needs_reauth).
        connection_expire_token(connection_id=connection_id)
        raise self.retry(exc=exc, countdown=5, max_retries=2)
    except VendorUnavailable as exc:
        if self.request.retries >= self.max_retries:
            sync_record_failure(connection_id=connection_id, error=str(exc))
            raise
        raise self.retry(exc=exc, countdown=min(600, 2 ** self.request.retries * 5))
    if not result.complete and not result.skipped:
        sync_connection.apply_async(kwargs={"connection_id": connection_id, "mode": mode})
    return {"pages": result.pages, "records": result.records, "complete": result.complete,
            "skipped": result.skipped}


def webhook_event_run(task, *, event_id: str, process, retry_on=(), fail_on=()) -> str:
    """The body of every vendor's `process_webhook_event` task (the task itself
    stays in the vendor's module, which decides its queue): claim the stored
    event, run the vendor's `process(event=...)`, record the outcome.

    Rate limits wait as told; an unavailable vendor (or a `retry_on` error)
    backs off exponentially until the task's max_retries, then fails; a token
    refused before its expiry is refreshed on a retry; a dead grant, a missing
    object or a `fail_on` error fails the event for support to replay."""
    event = webhook_event_claim(event_id=event_id)
    if event is None:
        return "skipped"
    received, failed = WebhookEvent.Status.RECEIVED, WebhookEvent.Status.FAILED
    try:
        outcome = process(event=event)
    except RateLimited as exc:
        webhook_event_finish(event=event, status=received, error=str(exc))
        raise task.retry(exc=exc, countdown=max(1, int(exc.retry_after + 0.999)), max_retries=50)
    except (VendorUnavailable, *retry_on) as exc:
        if task.request.retries >= task.max_retries:
            webhook_event_finish(event=event, status=failed, error=str(exc))
            raise
        webhook_event_finish(event=event, status=received, error=str(exc))
        raise task.retry(exc=exc, countdown=min(600, 2 ** task.request.retries * 5))
    except VendorAuthError as exc:
        webhook_event_finish(event=event, status=received, error=str(exc))
        if event.connection_id:
            connection_expire_token(connection_id=event.connection_id)
        raise task.retry(exc=exc, countdown=5, max_retries=2)
    except (NeedsReauth, VendorNotFound, *fail_on) as exc:
        webhook_event_finish(event=event, status=failed, error=str(exc))
        return "failed"
    except Exception as exc:
        webhook_event_finish(event=event, status=failed, error=f"{type(exc).__name__}: {exc}")
        raise
    webhook_event_finish(event=event, status=outcome)
    return outcome


@shared_task(ignore_result=True)
def requeue_unclaimed_webhook_events() -> int:
    """Beat (every 5 minutes, migration 0003): stored events whose publish was lost."""
    return webhook_events_requeue_unclaimed()
