"""Helpers and fixtures shared by the end-to-end tests (real worker processes,
sandboxes over sockets). Registered as a plugin in tests/conftest.py; the
fixtures here need the FIRS sandbox fixtures (tests.invoicing.firs.plugin) in
the requesting module's scope."""
import os
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from integrations.connections.models import WebhookEvent
from invoicing.models import Submission

PASSWORD = "browser-pass-123"


def wait_for(predicate, timeout=60.0, what="condition", worker=None):
    """Poll `predicate` until it returns something truthy; on timeout fail with
    what the pipeline holds (events, submissions) and the worker's last output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    output = ""
    if worker is not None:
        if worker.poll() is None:
            worker.terminate()
        output = worker.stdout.read().decode(errors="replace")[-4000:]
    events = list(WebhookEvent.objects.values_list("event_type", "status", "error"))
    subs = list(Submission.objects.values_list("state", "error", "errors"))
    raise AssertionError(f"timed out waiting for {what}; events {events}; submissions {subs}; worker: {output}")


def start_worker(settings, *, queues: str, name: str = "e2e", pool: str = "solo", concurrency: int = 1, **env):
    """A real Celery worker process on this test's database and Redis db; `env`
    points it at the sandboxes (FIRS_BASE_URL=…, <VENDOR>_BASE_URL=…)."""
    from django.db import connection as db_connection

    db = db_connection.settings_dict
    full_env = dict(os.environ, DJANGO_SETTINGS_MODULE="taxpoynt.settings_test", REDIS_URL=settings.REDIS_URL,
                    DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
                    PUBLIC_BASE_URL=settings.PUBLIC_BASE_URL, **env)
    args = [sys.executable, "-m", "celery", "-A", "taxpoynt", "worker", "-Q", queues, "--pool", pool,
            "-n", f"{name}@%h", "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "WARNING"]
    if pool != "solo":
        args += ["-c", str(concurrency)]
    return subprocess.Popen(args, env=full_env, cwd=settings.BASE_DIR, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


def stop_worker(proc):
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def signed_in_http(client, live_server, user) -> httpx.Client:
    """An httpx 'browser' on the live server, signed in as `user`, with the csrftoken cookie set."""
    client.force_login(user)
    http = httpx.Client(base_url=live_server.url, cookies={"sessionid": client.cookies["sessionid"].value},
                        timeout=20)
    http.get("/accounts/login/")
    return http


@pytest.fixture
def celery_worker(settings):
    """start(queues, **env) → a real Celery worker process (see start_worker); stopped at teardown."""
    from taxpoynt.celery import app

    procs = []

    def start(queues, **env):
        app.control.purge()  # stale messages from earlier runs on this Redis db
        procs.append(start_worker(settings, queues=queues, name=f"e2e{len(procs)}", **env))
        return procs[-1]

    yield start
    for proc in procs:
        stop_worker(proc)


@pytest.fixture
def firs_merchant(make_user, make_org, firs_business, firs_sandbox, settings):
    """make(email, name, business=None) → an organization registered with the
    FIRS sandbox (as `firs_business`, or `business`), owned by a user
    (`org.owner`) signing in with `email` / PASSWORD."""
    settings.FIRS_BASE_URL = firs_sandbox.url

    def make(email, name, business=None):
        b = business or firs_business  # another registered business: an organization of its own at FIRS
        # FIRS refuses transmissions for a business without a webhook URL; nothing listens here.
        firs_sandbox.app.sandbox.set_webhook(b.business_id, "http://127.0.0.1:9/firs-webhook")
        owner = make_user(email=email, password=PASSWORD)
        org = make_org(owner=owner, name=name, tin=b.tin, email=f"billing@{email.split('@')[1]}",
                       telephone="+2348012345678", street_name="12 Adeola Odeku Street", city_name="Lagos",
                       postal_zone="101241", firs_business_id=uuid.UUID(str(b.business_id)),
                       firs_service_id=b.service_id, firs_api_key=b.api_key, firs_api_secret=b.api_secret,
                       firs_crypto_keys=b.crypto_keys_json)
        org.owner = owner
        return org
    return make
