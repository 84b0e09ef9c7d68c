"""Thin Celery tasks for the generic machinery. `sync_connection` lands on the
`sync` queue by its name (taxpoynt.celery.route_task)."""
from __future__ import annotations

import logging
import time

from celery import shared_task
from django.utils import timezone

from taxpoynt.ops import metrics

from . import wakes
from .http import RateLimited, VendorAuthError, VendorNotFound, VendorUnavailable
from .models import WebhookEvent
from .oauth import NeedsReauth, connection_expire_token
from .services import (REVOKE_RETRY_DELAYS, RevokeUnconfirmed, connection_revocations_overdue_end,
                       connection_revoke_disconnected, webhook_event_claim,
                       webhook_event_finish, webhook_events_claim_backlog, webhook_events_finish,
                       webhook_events_release, webhook_events_requeue_unclaimed)
from .sync import DELTA, sync_record_failure, sync_run
from .webhooks import enqueue_webhook_event

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


@shared_task(bind=True, max_retries=len(REVOKE_RETRY_DELAYS), acks_late=True, ignore_result=True)
def revoke_disconnected_account(self, connection_id: str):
    """A disconnect the vendor did not confirm, asked again on the delays of
    REVOKE_RETRY_DELAYS; the last try gives up (the service erases the kept
    token and tells the merchant)."""
    try:
        connection_revoke_disconnected(connection_id=connection_id,
                                       last_try=self.request.retries >= self.max_retries)
    except RevokeUnconfirmed as exc:
        raise self.retry(exc=exc, countdown=REVOKE_RETRY_DELAYS[self.request.retries])


@shared_task(ignore_result=True)
def end_overdue_revocations() -> int:
    """Beat (every 15 minutes, migration 0012): pending revocations whose
    retry task was lost are ended, so no kept token outlives its window."""
    return connection_revocations_overdue_end()


# A task whose event has waited this long for it is part of a backlog (the
# workers are busy), whatever its wake counted: the provider's batch
# (webhook_batch_size) is then taken in one run. Below it, and with nothing
# else counted on its wake, the event runs alone, with no backlog statement.
BACKLOG_WAITED_SECONDS = 0.05
# Retries of an event the vendor rate-limits, and of one whose (refreshed)
# token it refuses. Past them the event fails, for support to replay: the
# sweep takes only events no task ever took, so one left `received` would
# wait forever.
RATE_LIMITED_RETRIES = 50
AUTH_REFUSED_RETRIES = 2


def webhook_event_run(task, *, event_id: str | None, process, retry_on=(), fail_on=(), process_many=None,
                      provider=None, wake: str | None = None, linger: float = 0.0) -> str:
    """The body of every vendor's `process_webhook_event` task (the task itself
    stays in the vendor's module, which decides its queue): claim the stored
    event, run the vendor's `process(event=...)`, record the outcome.

    Rate limits wait as told (and back off while they last); an unavailable
    vendor (or a `retry_on` error) backs off exponentially until the task's
    max_retries; a token refused before its expiry is refreshed on a retry;
    each fails the event once its retries are spent, as a dead grant, a
    missing object or a `fail_on` error does at once, for support to replay.

    With `process_many(events=...)` ({event id: (status, error)}) and its
    `provider`, a backlog of the provider's fresh events of its
    `webhook_batch_event_types`, whichever connections they came to, is taken
    with this one, up to `webhook_batch_size` at once: one claim, the
    vendor's bulk path, one write of the outcomes. A backlog is what this
    message's `wake` (the provider's key, wakes.py) counted besides its
    event, or an event that waited BACKLOG_WAITED_SECONDS for its task; a
    wake's `linger` (wakes.py) is waited out before its counter is taken.
    Events whose outcome is `received` are given back: each goes to a task of
    its own (this event: the one-at-a-time path, here). Should the whole
    batch fail, all are given back so. A wake with no event (`event_id`
    None) is for the backlog alone."""
    event = webhook_event_claim(event_id=event_id) if event_id is not None else None
    if process_many is not None:
        outcome = _run_with_backlog(event=event, provider=provider, process_many=process_many,
                                    wake=wake if not task.request.retries else None, has_own=event_id is not None,
                                    linger=linger)
        if outcome is not None:
            return outcome
    if event is None:
        return "skipped"
    received, failed = WebhookEvent.Status.RECEIVED, WebhookEvent.Status.FAILED
    try:
        outcome = process(event=event)
    except RateLimited as exc:
        if task.request.retries >= RATE_LIMITED_RETRIES:
            webhook_event_finish(event=event, status=failed, error=f"still rate limited after "
                                                                    f"{RATE_LIMITED_RETRIES} retries: {exc}")
            raise
        webhook_event_finish(event=event, status=received, error=str(exc))
        # As long as the vendor asks, and longer the more often it refuses
        # (Square names no wait: 1 s each time would hammer it).
        countdown = max(1, int(exc.retry_after + 0.999), min(600, 2 ** task.request.retries))
        raise task.retry(exc=exc, countdown=countdown, max_retries=RATE_LIMITED_RETRIES)
    except (VendorUnavailable, *retry_on) as exc:
        if task.request.retries >= task.max_retries:
            webhook_event_finish(event=event, status=failed, error=str(exc))
            raise
        webhook_event_finish(event=event, status=received, error=str(exc))
        raise task.retry(exc=exc, countdown=min(600, 2 ** task.request.retries * 5))
    except VendorAuthError as exc:
        if task.request.retries >= AUTH_REFUSED_RETRIES:
            webhook_event_finish(event=event, status=failed, error=f"token refused after a refresh: {exc}")
            raise
        webhook_event_finish(event=event, status=received, error=str(exc))
        if event.connection_id:
            connection_expire_token(connection_id=event.connection_id)
        raise task.retry(exc=exc, countdown=5, max_retries=AUTH_REFUSED_RETRIES)
    except (NeedsReauth, VendorNotFound, *fail_on) as exc:
        webhook_event_finish(event=event, status=failed, error=str(exc))
        return "failed"
    except Exception as exc:
        webhook_event_finish(event=event, status=failed, error=f"{type(exc).__name__}: {exc}")
        raise
    webhook_event_finish(event=event, status=outcome)
    return outcome


def _wake_for_the_rest(*, provider) -> None:
    """A full batch may have left events behind: the next batch starts now,
    in another process (its own wake, or the one already pending)."""
    if not wakes.arrive(provider.key).starts:
        return
    try:
        enqueue_webhook_event(provider=provider, event_id=None, wake=provider.key)
    except Exception:  # noqa: BLE001 - this batch still runs; the rest wait for the next wake or the sweep
        wakes.forget(provider.key)
        logger.warning("could not publish a wake for the rest of a %s backlog", provider.key, exc_info=True)


def _backlog_due(*, event: WebhookEvent | None, wake: str | None, has_own: bool, linger: float) -> bool:
    waited = (timezone.now() - event.received_at).total_seconds() if event is not None else 0.0
    if wake is not None and event is not None and linger > 0:
        # The provider's sales come close together: the next ones join this run.
        time.sleep(min(linger, max(0.0, linger - waited)))
    # A wake is taken first, claimed after: every event counted on it is committed.
    # 1 is this message's own event alone; a wake with no event is for the backlog.
    if wake is not None and (wakes.take(wake) != 1 or not has_own):
        return True
    # An event that waited for its task waited behind others: while the workers
    # are busy (a slow FIRS), a batch costs one sale's wait, so take one.
    return waited >= BACKLOG_WAITED_SECONDS


def _run_with_backlog(*, event: WebhookEvent | None, provider, process_many, wake: str | None,
                      has_own: bool, linger: float) -> str | None:
    """`event` (if it was still to do) and the provider's backlog through
    `process_many`; this message's outcome, or None when there was no
    backlog or `event` is to run alone (the batch failed, or gave it back)."""
    if provider.webhook_batch_size <= 1 or (event is not None
                                            and event.event_type not in provider.webhook_batch_event_types):
        return None
    if not _backlog_due(event=event, wake=wake, has_own=has_own, linger=linger):
        return None
    limit = provider.webhook_batch_size - (event is not None)
    backlog = webhook_events_claim_backlog(
        vendor=provider.key, event_types=provider.webhook_batch_event_types, limit=limit,
        connections=[event.connection] if event is not None and event.connection is not None else [])
    if backlog.full:
        _wake_for_the_rest(provider=provider)
    others = backlog.events
    if not others:
        return None if event is not None else "skipped"
    batch = [event, *others] if event is not None else others
    try:
        outcomes = process_many(events=batch)
    except Exception:  # noqa: BLE001 - each event is run alone again, with its own retries
        logger.warning("a %s webhook batch failed; its events run one at a time", provider.key, exc_info=True)
        webhook_events_release(events=others)
        return None if event is not None else "released"
    # `received`: given back (its connection's part failed), to run alone.
    given_back = {pk for pk, (status, _) in outcomes.items() if status == WebhookEvent.Status.RECEIVED}
    webhook_events_finish(outcomes={pk: outcome for pk, outcome in outcomes.items() if pk not in given_back})
    webhook_events_release(events=[other for other in others if other.pk in given_back])
    metrics.webhook_events_per_run.labels(vendor=provider.key).observe(len(batch) - len(given_back))
    if event is None:
        return "processed"
    return None if event.pk in given_back else outcomes[event.pk][0]


@shared_task(ignore_result=True)
def requeue_unclaimed_webhook_events() -> int:
    """Beat (every minute, migrations 0003 and 0006): stored events whose
    publish was lost, and events whose claim ran out (their worker died)."""
    return webhook_events_requeue_unclaimed()
