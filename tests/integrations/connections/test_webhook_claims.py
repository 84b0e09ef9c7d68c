"""Claiming stored webhook events (integrations/connections/services.py):
the claim lease, a provider's backlog taken in one statement, outcomes
written at once, a failed batch's events handed back, on PostgreSQL."""
import datetime
import uuid

import pytest
from django.utils import timezone

from integrations.connections.models import Connection, WebhookEvent
from integrations.connections.services import (webhook_event_claim, webhook_event_finish,
                                               webhook_events_claim_backlog, webhook_events_finish,
                                               webhook_events_release)

from .test_requeue_unclaimed import take_queued_event_ids

pytestmark = pytest.mark.django_db

TYPES = ("order.updated", "payment.updated")


@pytest.fixture
def two_connections(make_org):
    org = make_org()
    return [Connection.objects.create(organization=org, vendor="square", kind="pos", status="connected",
                                      external_account_id=f"M{n}") for n in range(2)]


def stored(conn, *, waited: float, event_type="order.updated", status=WebhookEvent.Status.RECEIVED):
    event = WebhookEvent.objects.create(vendor="square", event_id=uuid.uuid4().hex, event_type=event_type,
                                        organization_id=conn.organization_id, connection=conn, raw_body=b"{}",
                                        headers={"x": "1"}, status=status)
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - datetime.timedelta(seconds=waited))
    event.refresh_from_db()
    return event


def test_a_claimed_event_is_skipped_until_its_claim_ends_or_runs_out(two_connections):
    event = stored(two_connections[0], waited=1)
    first = webhook_event_claim(event_id=event.pk)
    assert first is not None and first.status == WebhookEvent.Status.PROCESSING and first.claimed_until
    assert webhook_event_claim(event_id=event.pk) is None  # another task's message: taken

    # A run that will retry gives its claim back with its outcome: the retry claims it.
    webhook_event_finish(event=first, status=WebhookEvent.Status.RECEIVED, error="Square 503")
    event.refresh_from_db()
    assert event.claimed_until is None and event.error == "Square 503"
    again = webhook_event_claim(event_id=event.pk)
    assert again is not None and again.attempts == 2

    # Its worker died: once the claim has run out, it can be taken again.
    assert webhook_event_claim(event_id=event.pk) is None
    WebhookEvent.objects.filter(pk=event.pk).update(claimed_until=timezone.now() - datetime.timedelta(seconds=1))
    assert webhook_event_claim(event_id=event.pk) is not None

    webhook_event_finish(event=again, status=WebhookEvent.Status.PROCESSED)
    assert webhook_event_claim(event_id=event.pk) is None  # done


def test_the_backlog_is_the_providers_fresh_events_of_the_types_of_any_connection_oldest_first(
        two_connections, make_org, django_assert_num_queries):
    conn, other_conn = two_connections
    other_org = Connection.objects.create(organization=make_org(), vendor="square", kind="pos",
                                          status="connected", external_account_id="M-other-org")
    mine = webhook_event_claim(event_id=stored(conn, waited=9).pk)
    backlog = [stored(c, waited=w) for c, w in ((conn, 8), (other_conn, 5), (other_org, 3), (conn, 2),
                                               (conn, 0.01))]
    refund = stored(conn, waited=7, event_type="refund.updated")
    done = stored(conn, waited=6, status=WebhookEvent.Status.PROCESSED)
    running = stored(conn, waited=6)
    assert webhook_event_claim(event_id=running.pk) is not None
    # Taken before and given back (a failed batch, its own task's retry): it runs with its own task.
    retrying = stored(other_conn, waited=6)
    webhook_event_finish(event=webhook_event_claim(event_id=retrying.pk), status=WebhookEvent.Status.RECEIVED,
                         error="Square 503")
    retrying.refresh_from_db()

    with django_assert_num_queries(3):  # the pick, the claim, and the connections not in hand
        taken, full = webhook_events_claim_backlog(vendor="square", event_types=TYPES, limit=3,
                                                   connections=[mine.connection])
    assert full  # a whole batch: more may wait
    assert [e.pk for e in taken] == [e.pk for e in backlog[:3]]
    for event in taken:
        assert event.status == WebhookEvent.Status.PROCESSING and event.attempts == 1 and event.claimed_until
        assert event.headers == {"x": "1"} and bytes(event.raw_body) == b"{}"
        assert webhook_event_claim(event_id=event.pk) is None  # their own tasks skip them
    assert taken[0].connection is mine.connection  # the one in hand, not read again
    assert [e.connection.pk for e in taken] == [conn.pk, other_conn.pk, other_org.pk]
    assert taken[2].connection.organization.pk == other_org.organization_id  # read with it

    with django_assert_num_queries(2):  # every connection in hand
        rest, full = webhook_events_claim_backlog(vendor="square", event_types=TYPES, limit=9,
                                                  connections=[mine.connection])
    assert [e.pk for e in rest] == [e.pk for e in backlog[3:]] and not full
    assert all(e.connection is mine.connection for e in rest)
    assert webhook_events_claim_backlog(vendor="hubspot", event_types=TYPES, limit=9) == ([], False)
    for untouched in (refund, done, retrying):
        before = untouched.status, untouched.attempts
        untouched.refresh_from_db()
        assert (untouched.status, untouched.attempts) == before


def test_one_sellers_flood_does_not_hold_back_another_sellers_sale(two_connections, make_org):
    flooding, other = two_connections
    third = Connection.objects.create(organization=make_org(), vendor="square", kind="pos", status="connected",
                                      external_account_id="M-third")
    flood = [stored(flooding, waited=60 - n) for n in range(30)]  # all older than the others' sales
    sale = stored(other, waited=0.5)
    later = [stored(third, waited=0.2), stored(third, waited=0.1)]

    # Each seller's oldest (oldest first among them), then each one's second: returned oldest first.
    taken, full = webhook_events_claim_backlog(vendor="square", event_types=TYPES, limit=5)
    assert [e.pk for e in taken] == [flood[0].pk, flood[1].pk, sale.pk, later[0].pk, later[1].pk] and full
    taken, full = webhook_events_claim_backlog(vendor="square", event_types=TYPES, limit=2)
    assert [e.pk for e in taken] == [flood[2].pk, flood[3].pk] and full
    rest, full = webhook_events_claim_backlog(vendor="square", event_types=TYPES, limit=50)
    assert [e.pk for e in rest] == [e.pk for e in flood[4:]] and not full


def test_with_more_sellers_waiting_than_a_claim_reads_it_starts_at_the_oldest_sale_and_wraps_round(
        make_org, monkeypatch):
    from integrations.connections import services

    monkeypatch.setattr(services, "BACKLOG_FAIR_SCAN", 1)  # a claim of three reads three sellers
    org = make_org()
    conns = sorted((Connection.objects.create(organization=org, vendor="square", kind="pos", status="connected",
                                              external_account_id=f"M{n}") for n in range(8)), key=lambda c: c.pk)
    # Every seller two sales; the oldest of all at the second-to-last seller by id.
    heads = {c.pk: stored(c, waited=100 if n == 6 else 40 - n) for n, c in enumerate(conns)}
    seconds = [stored(c, waited=20 - n) for n, c in enumerate(conns)]

    # Read: that seller, the last, then round to the first; their heads, oldest first.
    taken, full = webhook_events_claim_backlog(vendor="square", event_types=TYPES, limit=3)
    assert [e.pk for e in taken] == [heads[conns[6].pk].pk, heads[conns[0].pk].pk, heads[conns[7].pk].pk] and full

    # Draining it claim by claim: each takes the oldest sale still waiting, and every sale is taken once.
    seen = [e.pk for e in taken]
    while True:
        waiting = WebhookEvent.objects.filter(status=WebhookEvent.Status.RECEIVED).order_by("received_at")
        oldest = waiting.values_list("pk", flat=True).first()
        taken, full = webhook_events_claim_backlog(vendor="square", event_types=TYPES, limit=3)
        if not taken:
            break
        assert oldest in [e.pk for e in taken]
        seen += [e.pk for e in taken]
    assert sorted(seen) == sorted([e.pk for e in heads.values()] + [e.pk for e in seconds])


def test_outcomes_are_written_at_once_and_end_the_claims(two_connections):
    conn = two_connections[0]
    events = [webhook_event_claim(event_id=stored(conn, waited=1).pk) for _ in range(3)]
    webhook_events_finish(outcomes={events[0].pk: (WebhookEvent.Status.PROCESSED, ""),
                                    events[1].pk: (WebhookEvent.Status.IGNORED, ""),
                                    events[2].pk: (WebhookEvent.Status.FAILED, "Square has no order X")})
    rows = {e.pk: e for e in WebhookEvent.objects.filter(pk__in=[e.pk for e in events])}
    assert [(rows[e.pk].status, rows[e.pk].error) for e in events] == [
        ("processed", ""), ("ignored", ""), ("failed", "Square has no order X")]
    assert all(r.claimed_until is None and r.processed_at for r in rows.values())


@pytest.mark.django_db(transaction=True)
def test_released_events_wait_again_each_with_a_task_of_its_own(make_org, settings):
    if settings.CELERY_TASK_ALWAYS_EAGER:
        pytest.skip("no Redis broker: tasks run in-process")
    org = make_org()
    conn = Connection.objects.create(organization=org, vendor="square", kind="pos", status="connected",
                                     external_account_id="M-release")
    webhook_event_claim(event_id=stored(conn, waited=5).pk)  # the run's own event, taken by its task
    others, _ = webhook_events_claim_backlog(vendor="square", event_types=TYPES, limit=5, connections=[conn])
    assert others == []
    waiting = [stored(conn, waited=3) for _ in range(2)]
    others, _ = webhook_events_claim_backlog(vendor="square", event_types=TYPES, limit=5, connections=[conn])
    assert {e.pk for e in others} == {e.pk for e in waiting}

    webhook_events_release(events=others)
    for event in waiting:
        event.refresh_from_db()
        assert event.status == WebhookEvent.Status.RECEIVED and event.claimed_until is None
    queued = take_queued_event_ids("pos_realtime", {str(e.pk) for e in waiting})
    assert {str(e.pk) for e in waiting} <= set(queued)
    assert webhook_event_claim(event_id=waiting[0].pk) is not None


@pytest.mark.django_db(transaction=True)
def test_concurrent_backlog_claims_never_take_the_same_event(make_org):
    """Four threads (four database sessions) claim the provider's backlog,
    spread over two connections, at once, again and again: every event is
    taken exactly once."""
    import threading

    from django.db import connection as db_connection

    org = make_org()
    conns = [Connection.objects.create(organization=org, vendor="square", kind="pos", status="connected",
                                       external_account_id=f"M-race-{n}") for n in range(2)]
    anchors = [webhook_event_claim(event_id=stored(conns[0], waited=9).pk) for _ in range(4)]
    backlog = {stored(conns[n % 2], waited=5).pk for n in range(60)}
    taken: list = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def claim(anchor):
        try:
            start.wait()
            while True:
                got, full = webhook_events_claim_backlog(vendor="square", event_types=TYPES, limit=4,
                                                         connections=[anchor.connection])
                if not got and not full:  # a full pick another claim took: look again, as a run's wake would
                    return
                with lock:
                    taken.extend(e.pk for e in got)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=claim, args=(a,)) for a in anchors]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) == len(set(taken)) == len(backlog) and set(taken) == backlog
    assert WebhookEvent.objects.filter(pk__in=backlog, attempts=1, status="processing").count() == 60
