"""The worker: two workers never send one submission twice; the beat task
claims due rows with SKIP LOCKED and leases; tasks go to the submission's queue."""
import datetime
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from invoicing import services, tasks
from invoicing.models import Submission
from tests.concurrency import race
from tests.invoicing.test_services import create, firs, firs_org, make_canonical  # noqa: F401 - fixtures

S = Submission.State


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_on_one_submission_sign_once(firs, firs_org, make_canonical):  # noqa: F811
    # Latency makes both workers overlap for the whole run.
    firs.app.sandbox.set_latency("fixed", ms=150)
    inv = create(firs_org, make_canonical())
    sub = inv.submissions.get()
    race(2, lambda: services.submission_process(submission_id=sub.pk))
    sub.refresh_from_db()
    assert sub.state == S.CONFIRMED
    requests = firs.app.sandbox.requests
    assert (requests["validate"], requests["sign"], requests["transmit"], requests["confirm"]) == (1, 1, 1, 1)
    assert sub.attempts.filter(step="sign").count() == 1
    assert sub.lease_token is None and sub.locked_until is None


@pytest.mark.django_db(transaction=True)
def test_beat_workers_racing_process_each_submission_once(firs, firs_org, make_canonical):  # noqa: F811
    firs.app.sandbox.set_latency("fixed", ms=30)
    subs = [create(firs_org, make_canonical()).submissions.get() for _ in range(6)]
    race(3, tasks.process_due_submissions)
    states = set(Submission.objects.filter(pk__in=[s.pk for s in subs]).values_list("state", flat=True))
    assert states == {S.CONFIRMED}
    assert firs.app.sandbox.requests["sign"] == 6
    assert len(firs.app.sandbox.invoices()) == 6


@pytest.mark.django_db(transaction=True)
def test_claim_skips_rows_locked_by_another_transaction(firs_org, make_canonical):  # noqa: F811
    locked = create(firs_org, make_canonical()).submissions.get()
    free = create(firs_org, make_canonical()).submissions.get()
    held, release = threading.Event(), threading.Event()

    def hold_lock():
        with transaction.atomic():
            Submission.objects.select_for_update().get(pk=locked.pk)
            held.set()
            release.wait(10)
        connection.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    held.wait(10)
    try:
        claimed = dict(services.submission_claim_due(limit=10))
    finally:
        release.set()
        holder.join()
    assert free.pk in claimed and locked.pk not in claimed
    # The claim is a lease: claiming again skips the leased row.
    assert free.pk not in dict(services.submission_claim_due(limit=10))
    services.submission_release(submission_id=free.pk, token=claimed[free.pk])
    assert free.pk in dict(services.submission_claim_due(limit=10))


@pytest.mark.django_db
def test_due_selection(firs_org, make_canonical):  # noqa: F811
    now = timezone.now()
    rows = {}
    for name, state, next_at in [("due_null", S.DRAFT, None), ("due_past", S.UNKNOWN, now - datetime.timedelta(1)),
                                 ("later", S.SIGNED, now + datetime.timedelta(hours=1)),
                                 ("dead", S.DEAD, None), ("confirmed", S.CONFIRMED, None),
                                 ("rejected", S.REJECTED, None), ("transmitted", S.TRANSMITTED, None)]:
        sub = create(firs_org, make_canonical()).submissions.get()
        Submission.objects.filter(pk=sub.pk).update(state=state, next_attempt_at=next_at)
        rows[name] = sub.pk
    claimed = {pk for pk, _ in services.submission_claim_due(limit=50)}
    assert claimed == {rows["due_null"], rows["due_past"], rows["transmitted"]}


@pytest.mark.django_db
def test_expired_lease_is_claimed_again(firs_org, make_canonical):  # noqa: F811
    sub = create(firs_org, make_canonical()).submissions.get()
    Submission.objects.filter(pk=sub.pk).update(locked_until=timezone.now() - datetime.timedelta(seconds=1),
                                                lease_token="00000000-0000-0000-0000-000000000001")
    assert sub.pk in {pk for pk, _ in services.submission_claim_due()}


@pytest.mark.django_db(transaction=True)
def test_create_enqueues_on_the_submissions_queue(firs_org, make_canonical, monkeypatch):  # noqa: F811
    sent = []
    # Observe the enqueue call itself; the broker is the real Redis in every other respect.
    monkeypatch.setattr(tasks.process_submission, "apply_async",
                        lambda args=None, queue=None, **kw: sent.append((args, queue)))
    inv = create(firs_org, make_canonical(), queue="pos_realtime")
    assert sent == [([str(inv.submissions.get().pk)], "pos_realtime")]


@pytest.mark.django_db(transaction=True)
def test_a_chunk_task_runs_each_of_its_submissions_once(firs, firs_org, make_canonical):  # noqa: F811
    invoices = services.invoices_create_from_canonicals(organization=firs_org, queue="batch",
                                                        canonicals=[make_canonical() for _ in range(3)])
    ids = [str(inv.submissions.get().pk) for inv in invoices]
    tasks.process_submissions(ids + ids[:1])  # a resent chunk, or a row the sweep took, is not sent twice
    assert set(Submission.objects.filter(pk__in=ids).values_list("state", flat=True)) == {S.CONFIRMED}
    assert firs.app.sandbox.requests["sign"] == 3


def test_process_submission_is_a_thin_task():
    assert tasks.process_submission.name == "invoicing.tasks.process_submission"
    assert tasks.process_due_submissions.name == "invoicing.tasks.process_due_submissions"
    assert tasks.process_submissions.name == "invoicing.tasks.process_submissions"


@pytest.mark.django_db
def test_beat_schedule_is_registered():
    from django_celery_beat.models import PeriodicTask

    beat = PeriodicTask.objects.get(task="invoicing.tasks.process_due_submissions")
    assert beat.enabled and beat.interval.every <= 10 and beat.interval.period == "seconds"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_real_worker_runs_the_pipeline_on_the_submissions_queue(firs, firs_org, make_canonical):  # noqa: F811
    """create → on_commit enqueue (queue=pos_realtime) → a real Celery worker
    consuming only pos_realtime → confirmed at FIRS."""
    import os
    import subprocess
    import sys
    import time

    from django.conf import settings

    from taxpoynt.celery import app

    db = connection.settings_dict
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="taxpoynt.settings_test", REDIS_URL=settings.REDIS_URL,
               DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
               FIRS_BASE_URL=firs.url)
    app.control.purge()
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "taxpoynt", "worker", "-Q", "pos_realtime", "--pool", "solo",
         "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "WARNING"],
        env=env, cwd=settings.BASE_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        sub = create(firs_org, make_canonical(), queue="pos_realtime").submissions.get()
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            sub.refresh_from_db()
            if sub.state not in (S.DRAFT, S.VALIDATED, S.SIGNED, S.TRANSMITTED):
                break
            time.sleep(0.2)
        assert sub.state == S.CONFIRMED, (sub.state, sub.error,
                                          worker.stdout.read1().decode() if worker.poll() is not None else "")
        assert firs.app.sandbox.requests["sign"] == 1
    finally:
        worker.terminate()
        worker.wait(timeout=15)


@pytest.mark.django_db(transaction=True)
def test_a_run_ends_its_lease_in_its_last_transition(firs, firs_org, make_canonical):  # noqa: F811
    from django.test.utils import CaptureQueriesContext

    sub = create(firs_org, make_canonical()).submissions.get()
    with CaptureQueriesContext(connection) as queries:
        services.submission_process(submission_id=sub.pk)
    sub.refresh_from_db()
    assert sub.state == S.CONFIRMED and sub.lease_token is None and sub.locked_until is None
    # The move to confirmed cleared the lease: no separate release statement followed it.
    releases = [q["sql"] for q in queries.captured_queries
                if q["sql"].startswith('UPDATE "invoicing_submission" SET "lease_token" = NULL')]
    assert releases == []


@pytest.mark.django_db(transaction=True)
def test_a_run_that_stops_in_a_live_state_gives_its_lease_back(firs, firs_org, make_canonical):  # noqa: F811
    firs.app.sandbox.set_fault("sign", "503")
    sub = create(firs_org, make_canonical()).submissions.get()
    services.submission_process(submission_id=sub.pk)
    sub.refresh_from_db()
    assert sub.state == S.VALIDATED and sub.next_attempt_at is not None  # backing off
    assert sub.lease_token is None and sub.locked_until is None
