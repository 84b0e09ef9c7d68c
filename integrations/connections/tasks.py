"""Thin Celery tasks for the generic machinery. `sync_connection` lands on the
`sync` queue by its name (taxpoynt.celery.route_task)."""
from __future__ import annotations

import datetime
import logging

from celery import shared_task
from django.utils import timezone

from taxpoynt.ops import metrics

from .http import RateLimited, VendorAuthError, VendorNotFound, VendorUnavailable
from .models import WebhookEvent
from .oauth import NeedsReauth, connection_expire_token
from .registry import get_provider
from .services import (webhook_event_claim, webhook_event_finish, webhook_events_claim_backlog,
                       webhook_events_finish, webhook_events_release, webhook_events_requeue_unclaimed)
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


# An event that has waited this long for a task is part of a backlog: the
# provider's batch (webhook_batch_size) is then taken in one run. Below it a
# task finds at most the events arriving with its own, and each sale keeps
# the latency of running alone. 50 ms, not 200: at 40 sales/s near the
# machine's capacity the batches forming sooner cut p95 from 429 to 256 ms
# (bench/pos_realtime.py, docs/performance.md), and with FIRS at +150 ms
# they did not lengthen it (4.6 s, 5.3 s at 200 ms).
BACKLOG_WAITED_SECONDS = 0.05


def webhook_event_run(task, *, event_id: str, process, retry_on=(), fail_on=(), process_many=None) -> str:
    """The body of every vendor's `process_webhook_event` task (the task itself
    stays in the vendor's module, which decides its queue): claim the stored
    event, run the vendor's `process(event=...)`, record the outcome.

    Rate limits wait as told; an unavailable vendor (or a `retry_on` error)
    backs off exponentially until the task's max_retries, then fails; a token
    refused before its expiry is refreshed on a retry; a dead grant, a missing
    object or a `fail_on` error fails the event for support to replay.

    With `process_many(events=...)` ({event id: (status, error)}) and a
    backlog (events of the provider's `webhook_batch_event_types` on the same
    connection that have waited BACKLOG_WAITED_SECONDS), the run takes up to
    `webhook_batch_size` of them at once: one claim, the vendor's bulk path,
    one write of the outcomes. Should that fail, the others are given back,
    each to a task of its own, and this event takes the one-at-a-time path."""
    event = webhook_event_claim(event_id=event_id)
    if event is None:
        return "skipped"
    if process_many is not None:
        outcome = _run_with_backlog(event=event, process_many=process_many)
        if outcome is not None:
            return outcome
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


def _run_with_backlog(*, event: WebhookEvent, process_many) -> str | None:
    """`event` and its connection's backlog through `process_many`; this
    event's status, or None when there was no backlog or the batch failed."""
    provider = get_provider(event.vendor)
    if provider.webhook_batch_size <= 1 or event.event_type not in provider.webhook_batch_event_types:
        return None
    # The queue is first in, first out: when this event did not wait, the
    # ones behind it waited less, and looking for a backlog is a statement
    # for nothing (the common case away from a burst).
    if timezone.now() - event.received_at < datetime.timedelta(seconds=BACKLOG_WAITED_SECONDS):
        return None
    others = webhook_events_claim_backlog(event=event, event_types=provider.webhook_batch_event_types,
                                          limit=provider.webhook_batch_size - 1,
                                          waited_seconds=BACKLOG_WAITED_SECONDS)
    if not others:
        return None
    try:
        outcomes = process_many(events=[event, *others])
    except Exception:  # noqa: BLE001 - each event is run alone again, with its own retries
        logger.warning("a %s webhook batch failed; its events run one at a time", event.vendor, exc_info=True)
        webhook_events_release(events=others)
        return None
    webhook_events_finish(outcomes=outcomes)
    metrics.webhook_events_per_run.labels(vendor=event.vendor).observe(1 + len(others))
    return outcomes[event.pk][0]


@shared_task(ignore_result=True)
def requeue_unclaimed_webhook_events() -> int:
    """Beat (every minute, migrations 0003 and 0006): stored events whose
    publish was lost, and events whose claim ran out (their worker died)."""
    return webhook_events_requeue_unclaimed()
