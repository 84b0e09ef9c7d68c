"""The sweep that re-enqueues stored webhook events whose publish was lost,
checked on the real Redis broker."""
import base64
import datetime
import json
import uuid

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from integrations.connections.models import WebhookEvent
from integrations.connections.services import webhook_events_requeue_unclaimed


def take_queued_event_ids(queue: str, wanted: set[str]) -> list[str]:
    """The event ids of the queue's messages; those in `wanted` are removed
    (no later test's worker should get them)."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    ids = []
    for raw in client.lrange(queue, 0, -1):
        message = json.loads(raw)
        event_id = json.loads(base64.b64decode(message["body"]))[1].get("event_id")  # protocol 2: [args, kwargs, …]
        ids.append(event_id)
        if event_id in wanted:
            client.lrem(queue, 0, raw)
    return ids


def stored(*, age_seconds: float, status=WebhookEvent.Status.RECEIVED, attempts=0) -> WebhookEvent:
    event = WebhookEvent.objects.create(vendor="square", event_id=uuid.uuid4().hex, event_type="order.updated",
                                        raw_body=b"{}", headers={}, status=status, attempts=attempts)
    WebhookEvent.objects.filter(pk=event.pk).update(
        received_at=timezone.now() - datetime.timedelta(seconds=age_seconds))
    return event


@pytest.mark.django_db(transaction=True)
def test_only_old_never_claimed_events_are_handed_over_again():
    if settings.CELERY_TASK_ALWAYS_EAGER:
        pytest.skip("no Redis broker: tasks run in-process")
    lost = stored(age_seconds=600)
    fresh = stored(age_seconds=5)  # its task is probably just queued
    retrying = stored(age_seconds=600, attempts=1)  # a task took it and scheduled its own retry
    done = stored(age_seconds=600, status=WebhookEvent.Status.PROCESSED)

    assert webhook_events_requeue_unclaimed(older_than_seconds=300) >= 1
    queued = take_queued_event_ids("pos_realtime", {str(e.pk) for e in (lost, fresh, retrying, done)})
    assert str(lost.pk) in queued
    assert not {str(fresh.pk), str(retrying.pk), str(done.pk)} & set(queued)


@pytest.mark.django_db(transaction=True)
def test_a_claim_that_ran_out_is_handed_over_again():
    """A task claimed the event (alone or with a backlog batch) and its worker
    died: once the claim has run out, the sweep hands the event over again;
    a claim still running is left alone."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        pytest.skip("no Redis broker: tasks run in-process")
    crashed = stored(age_seconds=60, status=WebhookEvent.Status.PROCESSING, attempts=1)
    running = stored(age_seconds=60, status=WebhookEvent.Status.PROCESSING, attempts=1)
    WebhookEvent.objects.filter(pk=crashed.pk).update(claimed_until=timezone.now() - datetime.timedelta(seconds=1))
    WebhookEvent.objects.filter(pk=running.pk).update(claimed_until=timezone.now() + datetime.timedelta(seconds=60))

    assert webhook_events_requeue_unclaimed(older_than_seconds=300) >= 1
    queued = take_queued_event_ids("pos_realtime", {str(crashed.pk), str(running.pk)})
    assert str(crashed.pk) in queued and str(running.pk) not in queued
