"""Celery on the real Redis broker with a real worker process (not eager mode)."""
import os
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import connection as db

from taxpoynt.celery import app, route_task
from taxpoynt.ops.models import WorkerHeartbeat
from taxpoynt.ops.tasks import heartbeat


@pytest.mark.parametrize("name, queue", [
    ("integrations.pos.square.tasks.process_webhook_event", "pos_realtime"),
    ("integrations.pos.square.tasks.batch_reconcile_window", "batch"),
    ("integrations.crm.hubspot.tasks.process_webhook_event", "crm"),
    ("integrations.connections.tasks.sync_connection", "sync"),
    ("invoicing.tasks.batch_process_transactions", "batch"),
    ("invoicing.tasks.submit_invoice", "crm"),
])
def test_route_task_by_module(name, queue):
    assert route_task(name, (), {}, {}) == {"queue": queue}


def test_queues_and_reliability_settings():
    assert [q.name for q in app.conf.task_queues] == ["pos_realtime", "crm", "batch", "sync"]
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_always_eager is False
    assert app.conf.broker_url.startswith("redis://")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_task_runs_in_a_real_worker_process():
    env = os.environ.copy()
    db_settings = db.settings_dict
    env["DATABASE_URL"] = (f"postgres://{db_settings['USER']}@{db_settings['HOST']}:{db_settings['PORT']}/"
                           f"{db_settings['NAME']}")
    env["REDIS_URL"] = settings.REDIS_URL
    env["DJANGO_SETTINGS_MODULE"] = "taxpoynt.settings_test"
    app.control.purge()
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "taxpoynt", "worker", "-Q", "crm", "--pool", "solo",
         "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "WARNING"],
        env=env, cwd=settings.BASE_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        heartbeat.apply_async(args=["crm"])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not WorkerHeartbeat.objects.filter(queue="crm").exists():
            time.sleep(0.2)
        beat = WorkerHeartbeat.objects.filter(queue="crm").first()
        assert beat is not None, worker.stdout.read1().decode() if worker.poll() is not None else "no heartbeat"
        assert beat.beats == 1
    finally:
        worker.terminate()
        worker.wait(timeout=15)


@pytest.mark.django_db(transaction=True)
def test_around_each_task_a_usable_connection_is_kept_and_a_broken_one_dropped(settings):
    """Celery's fixup recycles connections only every CELERY_DB_REUSE_MAX
    tasks; our task signals do what Django's request cycle does."""
    from celery.signals import task_postrun, task_prerun

    assert settings.CELERY_DB_REUSE_MAX and app.conf.get("CELERY_DB_REUSE_MAX") == settings.CELERY_DB_REUSE_MAX
    db.ensure_connection()
    kept = db.connection
    with db.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    task_prerun.send(sender=heartbeat, task_id="t1", task=heartbeat, args=(), kwargs={})
    task_postrun.send(sender=heartbeat, task_id="t1", task=heartbeat, args=(), kwargs={}, retval=None, state="SUCCESS")
    with db.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] == backend and db.connection is kept  # no new PostgreSQL backend

    db.connection.close()  # the server went away under us
    db.errors_occurred = True
    task_prerun.send(sender=heartbeat, task_id="t2", task=heartbeat, args=(), kwargs={})
    assert db.connection is None  # dropped; the task's first query opens a fresh one
    with db.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
