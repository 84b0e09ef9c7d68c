"""Benchmark of the HubSpot webhook intake: acknowledgement latency and ingest
rate, with a zero-loss check (SPEC §4: ack p99 < 50 ms, ≥ 500 events/s).

    DATABASE_URL=postgres://…/taxpoynt_bench REDIS_URL=redis://127.0.0.1:6379/9 \
        .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://…/taxpoynt_bench REDIS_URL=redis://127.0.0.1:6379/9 \
        .venv/bin/python bench/hubspot_webhooks.py --seconds 20 --clients 16 --batch 1

Starts gunicorn on a free loopback port (PUBLIC_BASE_URL set to it, so the v3
signatures verify), creates a bench organization with a HubSpot connection,
then N client threads POST signed deliveries (each `--batch` events with fresh
eventIds; every 10th delivery is a HubSpot retry of an earlier one) in a
closed loop for --seconds. Prints latency percentiles and events/s, checks
that every distinct event is stored exactly once, purges the processing tasks
it queued (no worker runs) and ends with one JSON line.
"""
import argparse
import itertools
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taxpoynt.settings")

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
from django.conf import settings  # noqa: E402

from integrations.connections.models import Connection, WebhookEvent  # noqa: E402
from integrations.crm.hubspot.webhooks import v3_signature  # noqa: E402
from taxpoynt.tenancy.services import organization_create  # noqa: E402

PATH = "/webhooks/crm/hubspot"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--batch", type=int, default=1, help="events per delivery")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    args = parser.parse_args()

    portal = str(random.randint(10**8, 10**9))
    org = organization_create(name=f"Webhook bench {portal}", tin=f"{portal[:8]}-0001")
    Connection.objects.create(organization=org, vendor="hubspot", kind="crm", status="connected",
                              external_account_id=portal)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PUBLIC_BASE_URL=base, LOG_LEVEL="WARNING")
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "taxpoynt.wsgi", "-b", f"127.0.0.1:{port}",
                               "-w", str(args.workers), "--threads", "8", "--log-level", "warning"],
                              cwd=ROOT, env=env)
    secret = settings.VENDORS["hubspot"]["client_secret"]
    ids = itertools.count(int(time.time() * 1000) * 1000)
    lock = threading.Lock()
    latencies, sent_ids, errors = [], set(), []
    try:
        for _ in range(100):
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        deadline = time.monotonic() + args.seconds

        def client():
            mine = []
            with httpx.Client(base_url=base, timeout=10) as http:
                while time.monotonic() < deadline:
                    retry = mine and random.random() < 0.1
                    batch = random.choice(mine) if retry else [next(ids) for _ in range(args.batch)]
                    events = [{"eventId": e, "subscriptionId": 1, "portalId": int(portal), "appId": 1,
                               "occurredAt": int(time.time() * 1000), "subscriptionType": "deal.propertyChange",
                               "attemptNumber": 1 if retry else 0, "objectId": 11000000001,
                               "propertyName": "dealstage", "propertyValue": "closedwon"} for e in batch]
                    body = json.dumps(events).encode()
                    ts = str(int(time.time() * 1000))
                    sig = v3_signature(secret=secret, method="POST", uri=base + PATH, body=body, timestamp=ts)
                    started = time.perf_counter()
                    r = http.post(PATH, content=body, headers={"Content-Type": "application/json",
                                                               "X-HubSpot-Signature-v3": sig,
                                                               "X-HubSpot-Request-Timestamp": ts})
                    elapsed = (time.perf_counter() - started) * 1000
                    with lock:
                        if r.status_code == 200:
                            latencies.append(elapsed)
                            sent_ids.update(batch)
                        else:
                            errors.append(r.status_code)
                    if not retry:
                        mine.append(batch)

        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
    finally:
        server.terminate()
        server.wait(timeout=15)

    stored = WebhookEvent.objects.filter(vendor="hubspot", event_id__in=[str(i) for i in sent_ids]).count()
    from taxpoynt.celery import app

    purged = app.control.purge()  # the processing tasks no worker will run
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0] * 99
    figures = {
        "deliveries": len(latencies), "distinct_events": len(sent_ids), "stored_events": stored,
        "lost": len(sent_ids) - stored, "errors": len(errors), "events_per_s": round(len(sent_ids) / wall, 1),
        "ack_p50_ms": round(q[49], 2), "ack_p95_ms": round(q[94], 2), "ack_p99_ms": round(q[98], 2),
        "clients": args.clients, "batch": args.batch, "seconds": round(wall, 1), "purged_tasks": purged,
    }
    print(f"deliveries {figures['deliveries']}, distinct events {figures['distinct_events']}, "
          f"stored {stored}, lost {figures['lost']}, non-200 {figures['errors']}")
    print(f"ingest {figures['events_per_s']} events/s; ack p50 {figures['ack_p50_ms']} ms, "
          f"p95 {figures['ack_p95_ms']} ms, p99 {figures['ack_p99_ms']} ms")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
