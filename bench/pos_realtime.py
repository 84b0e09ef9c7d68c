"""Benchmark of the real-time POS path (Square): webhook acknowledgement,
sale → invoice confirmed by the FIRS sandbox, maximum ingest rate with zero
loss, and exactly one invoice per accepted sale event.

    createdb -h 127.0.0.1 -U postgres taxpoynt_bench_pos
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/taxpoynt_bench_pos REDIS_URL=redis://127.0.0.1:6379/13 \
        .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/taxpoynt_bench_pos REDIS_URL=redis://127.0.0.1:6379/13 \
        .venv/bin/python bench/pos_realtime.py --seconds 60 --rate 100 --firs-latency-ms 0

The real stack, each piece its own process(es), web and workers in
prometheus_client multiprocess mode as deployed: the FIRS and Square sandboxes
(`manage.py sandboxes --only firs square`, FIRS latency set through its
/_sandbox/latency control), gunicorn (`-w 2 -k gthread --threads 8`), and
Celery workers on pos_realtime only (`--worker-instances` processes, each a
`--pool` of `--workers-c`, prefetch 1), beat and a crm worker (the
due-submission sweep, which retries a FIRS call that failed), on PostgreSQL
and Redis. The sales exist in the Square sandbox
(seeded without webhooks); this script plays Square's webhook sender: it
signs `order.updated` (COMPLETED) deliveries itself (HMAC-SHA256 over the
public notification URL + body) and posts them open-loop at --rate per second
for --seconds. The worker fetches each order from the Square sandbox, builds
the invoice and runs it through FIRS validate → sign → transmit → confirm.

`--merchants N` deals the run's sales round N sandbox sellers, each its own
connection and organization (with a FIRS business of its own): a backlog
then holds several sellers' sales, each read from Square with its own token
and numbered in its own sequence.

Phase 2 measures the maximum sustained ingest (acknowledged and stored, zero
loss) with closed-loop clients for --ingest-seconds; its events name a
merchant with no connection, so they are verified, stored and acknowledged
exactly like real ones but stored already ignored, with no task (measuring
the intake, not a second invoice backlog; a real sale riding on its
provider's wake costs the intake one Redis increment more).

Prints the figures and ends with one JSON line.
"""
import argparse
import datetime as dt
import base64
import collections
import hashlib
import hmac
import http.client
import itertools
import json
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# Ports, settings and django.setup() (see square_stack's docstring).
from square_stack import (ROOT, SIGNATURE_KEY, SQUARE, WEB, WEB_PORT, celery_beat, celery_worker,  # noqa: E402
                          completed_orders, cpu_by_process, cpu_share, machine_speed_ms, machine_speed_sampled, pct,
                          print_cpu, running_stack, seed_sales, square_merchant,
                          start_sandboxes, wait_http)

import django  # noqa: E402
import httpx  # noqa: E402
from django.conf import settings  # noqa: E402

from integrations.connections.models import WebhookEvent  # noqa: E402
from integrations.pos.models import Location  # noqa: E402
from integrations.pos.square import services  # noqa: E402
from invoicing.models import Invoice, Submission, SubmissionAttempt  # noqa: E402

PATH = "/webhooks/pos/square"
DONE = (Submission.State.CONFIRMED, Submission.State.TRANSMITTED)


def sign(body: bytes) -> str:
    return base64.b64encode(hmac.new(SIGNATURE_KEY.encode(), (WEB + PATH).encode() + body,
                                     hashlib.sha256).digest()).decode()


def event_body(merchant_id: str, order: dict) -> bytes:
    return json.dumps({
        "merchant_id": merchant_id, "type": "order.updated", "event_id": str(uuid.uuid4()),
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "data": {"type": "order", "id": order["id"], "object": {"order_updated": {
            "order_id": order["id"], "location_id": order["location_id"], "state": "COMPLETED",
            "version": order.get("version", 1), "created_at": order["created_at"],
            "updated_at": order["updated_at"]}}}}, separators=(",", ":")).encode()


def setup(n_sales: int):
    """The bench merchant (square_stack.square_merchant) and `n_sales` completed sales."""
    org, conn = square_merchant()
    now = dt.datetime.now(dt.timezone.utc)
    seed_sales(count=n_sales, start=now - dt.timedelta(hours=6), end=now - dt.timedelta(minutes=1))
    with services.client_for(conn) as client:
        ids = [loc["id"] for loc in client.list_locations()]
    return org, conn, completed_orders(conn, ids)


def more_merchants(org, *, count: int, sales_each: int) -> tuple[list, list]:
    """`count` more Square sellers in the sandbox (a location each), each
    connected to `org` (if None, to an organization of its own, registered
    with FIRS as a business of its own) and with `sales_each` completed
    sales: (their connections, their orders, interleaved so the sender goes
    round them)."""
    conns, per_merchant = [], []
    now = dt.datetime.now(dt.timezone.utc)
    for n in range(count):
        made = httpx.post(SQUARE + "/_sandbox/merchants", json={"business_name": f"Bench seller {n}",
                                                                 "locations": 1}).json()
        _, conn = square_merchant(org, merchant_id=made["merchant"]["id"])
        ids = [loc["id"] for loc in made["locations"]]
        seed_sales(count=sales_each, start=now - dt.timedelta(hours=6), end=now - dt.timedelta(minutes=1),
                   location_ids=ids)
        per_merchant.append(completed_orders(conn, ids))
        conns.append(conn)
    interleaved = [o for round_ in itertools.zip_longest(*per_merchant) for o in round_ if o is not None]
    return conns, interleaved


_local = threading.local()


def _web_connection() -> http.client.HTTPConnection:
    """This thread's keep-alive connection to gunicorn. The standard library's
    client, not httpx: the sender shares the 2 cores with the stack it
    measures, and http.client costs a fraction of httpx's CPU a request."""
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = http.client.HTTPConnection("127.0.0.1", WEB_PORT, timeout=30)
    return conn


def post_one(merchant_id, order, out, lock):
    body = event_body(merchant_id, order)
    headers = {"Content-Type": "application/json", "x-square-hmacsha256-signature": sign(body)}
    sent = time.time()
    t0 = time.perf_counter()
    for _ in range(2):  # the second only after a stale keep-alive connection
        conn = _web_connection()
        reused = conn.sock is not None
        try:
            conn.request("POST", PATH, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            status = response.status
            new = json.loads(data).get("new") if status == 200 else 0
            break
        except (OSError, http.client.HTTPException, ValueError) as exc:
            conn.close()
            status, new = f"error {type(exc).__name__}", 0
            # gunicorn closes a keep-alive connection idle for 2 s; a thread
            # that finds its connection gone resends once on a new one, as
            # HTTP clients do (the delivery is idempotent by event_id).
            if not (reused and isinstance(exc, (BrokenPipeError, ConnectionResetError,
                                                http.client.RemoteDisconnected))):
                break
    ack_ms = (time.perf_counter() - t0) * 1000
    with lock:
        out.append({"order_id": order["id"], "sent": sent, "ack_ms": ack_ms, "status": status, "new": new})


def open_loop(merchant_of, orders, rate, seconds, threads=64):
    """Post one signed delivery every 1/rate s (open loop: a slow answer never
    slows the sender) for `seconds`, each in the name of its order's seller
    (`merchant_of`: location id → merchant id)."""
    out, lock = [], threading.Lock()
    n = min(len(orders), int(rate * seconds))
    with ThreadPoolExecutor(threads) as pool:
        start = time.perf_counter()
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(post_one, merchant_of[orders[i]["location_id"]], orders[i], out, lock)
    return out, orders[:n]


def closed_loop(seconds, clients):
    """As fast as `clients` concurrent senders go, for `seconds`."""
    fake = {"id": "X", "location_id": "L", "created_at": "2026-11-22T10:00:00Z", "updated_at": "2026-11-22T10:00:00Z"}
    out, lock = [], threading.Lock()
    deadline = time.monotonic() + seconds

    def run():
        while time.monotonic() < deadline:
            post_one("ML-NO-CONNECTION", {**fake, "id": uuid.uuid4().hex}, out, lock)

    ts = [threading.Thread(target=run) for _ in range(clients)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out, time.monotonic() - t0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=100, help="signed sale webhooks per second")
    parser.add_argument("--firs-latency-ms", type=int, default=0, help="latency added by the FIRS sandbox")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn processes (one per core)")
    parser.add_argument("--web-threads", type=int, default=8, help="gunicorn threads per process")
    parser.add_argument("--pool", choices=("prefork", "threads", "solo"), default="prefork",
                        help="pos_realtime worker pool: prefork for a fast FIRS, threads to overlap slow FIRS calls")
    parser.add_argument("--workers-c", type=int, default=4,
                        help="pos_realtime concurrency per worker instance (processes or threads)")
    parser.add_argument("--worker-instances", type=int, default=1,
                        help="pos_realtime worker processes started (each with --workers-c)")
    parser.add_argument("--merchants", type=int, default=1,
                        help="sellers the sales are dealt round, each its own connection and organization")
    parser.add_argument("--ingest-seconds", type=float, default=15)
    parser.add_argument("--ingest-clients", type=int, default=32)
    parser.add_argument("--drain-timeout", type=float, default=900, help="max wait for the backlog to confirm")
    parser.add_argument("--worker-nice", type=int, default=10,
                        help="run the worker at this niceness so acknowledgements win the CPU")
    args = parser.parse_args()
    speed_before = machine_speed_ms()

    # Web and workers in prometheus_client's multiprocess mode, as deployed
    # (docs/deployment.md): every metric write lands in a shared file.
    with running_stack(metrics_prefix="posbench-metrics-") as (env, procs):
        procs.append(start_sandboxes(env, firs_latency_ms=args.firs_latency_ms))
        warmup = 30
        sales = int(args.rate * args.seconds)
        org, conn, orders = setup(warmup + (sales if args.merchants == 1 else 0))
        conns = [conn]
        if args.merchants > 1:  # the warm-up on the first seller; the run's sales spread over the others
            more, orders_more = more_merchants(None, count=args.merchants, sales_each=-(-sales // args.merchants))
            conns, orders = more, orders[:warmup] + orders_more
        orgs = {org.pk, *(c.organization_id for c in conns)}
        merchant_of = dict(Location.objects.filter(connection__in=[conn, *conns]).values_list(
            "external_id", "connection__external_account_id"))
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "taxpoynt.wsgi", "-b", f"127.0.0.1:{WEB_PORT}", "-w",
             str(args.web_workers), "-k", "gthread", "--threads", str(args.web_threads), "--log-level", "warning"],
            cwd=ROOT, env=env))
        for n in range(args.worker_instances):
            procs.append(celery_worker(env, queues="pos_realtime", name=f"posbench{n}", pool=args.pool,
                                       concurrency=args.workers_c, nice=args.worker_nice))
        # The sweepers as deployed (docs/deployment.md): beat, and a crm worker for the
        # due-submission sweep it schedules, so a sale whose FIRS call failed is retried
        # after its backoff, as in production, and the drain does not wait out its timeout.
        procs.append(celery_beat(env))
        procs.append(celery_worker(env, queues="crm", name="posbench-crm", concurrency=1, nice=args.worker_nice))
        wait_http(WEB + "/healthz")

        # Warm up (imports, connection pools, schema compilation in each worker process); not measured.
        warm, _ = open_loop(merchant_of, orders[:warmup], rate=10, seconds=warmup / 10)
        warm_ids = [w["order_id"] for w in warm if w["status"] == 200]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and Submission.objects.filter(
                invoice__source_id__in=warm_ids, state__in=DONE).count() < len(warm_ids):
            time.sleep(0.5)

        # Phase 1: sustained sales at --rate for --seconds.
        phase1_start = dt.datetime.now(dt.timezone.utc)
        cpu_start, t_cpu = cpu_by_process(), time.monotonic()
        with machine_speed_sampled() as speed_during:
            results, sent_orders = open_loop(merchant_of, orders[warmup:], args.rate, args.seconds)
        cpu_phase1 = cpu_share(cpu_start, cpu_by_process(), time.monotonic() - t_cpu)
        sent_at = {r["order_id"]: r["sent"] for r in results}
        accepted = [r for r in results if r["status"] == 200]
        accepted_ids = [r["order_id"] for r in accepted]
        t_end_send = time.time()
        deadline = time.monotonic() + args.drain_timeout
        # Polled by organization (the run's own), not by the thousands of
        # order ids: a backlog's drain must not pay for the watcher's query.
        ended = Submission.objects.filter(invoice__organization__in=orgs, state__in=[
            *DONE, Submission.State.REJECTED, Submission.State.DEAD])
        while time.monotonic() < deadline and ended.count() < len(warm_ids) + len(accepted_ids):
            time.sleep(1)
        drained_after = time.time() - t_end_send
        subs = Submission.objects.filter(invoice__source_id__in=accepted_ids, state__in=DONE).values_list(
            "invoice__source_id", "updated_at")
        sale_to_confirmed = sorted((u.timestamp() - sent_at[s]) * 1000 for s, u in subs)
        # SPEC §4 states its target to the invoice transmitted (one FIRS call before confirmed).
        transmitted = (SubmissionAttempt.objects.filter(submission__invoice__organization__in=orgs,
                                                        submission__invoice__source_id__in=accepted_ids,
                                                        to_state=Submission.State.TRANSMITTED)
                       .values_list("submission__invoice__source_id")
                       .annotate(at=django.db.models.Min("created_at")))
        sale_to_transmitted = sorted((at.timestamp() - sent_at[s]) * 1000 for s, at in transmitted)
        ack = sorted(r["ack_ms"] for r in accepted)
        invoices_per_order = dict(Invoice.objects.filter(organization__in=orgs, source_system="square",
                                                         source_id__in=accepted_ids)
                                  .values_list("source_id").annotate(n=django.db.models.Count("id")))
        exactly_one = sum(1 for i in accepted_ids if invoices_per_order.get(i) == 1)
        duplicates = sum(1 for n in invoices_per_order.values() if n > 1)
        stored = WebhookEvent.objects.filter(connection__in=[conn, *conns]).count() - len(warm_ids)
        states = dict(Submission.objects.filter(invoice__organization__in=orgs).values_list("state")
                      .annotate(n=django.db.models.Count("id")))
        mismatched = Invoice.objects.filter(organization__in=orgs, tax_mismatch=True).count()
        # How the sales were taken: a run's events are finished by one statement,
        # so they share its processed_at (wakes.py: the linger is what makes runs).
        run_sizes = collections.Counter(WebhookEvent.objects.filter(
            connection__in=conns, received_at__gte=phase1_start, processed_at__isnull=False)
            .values_list("processed_at").annotate(n=django.db.models.Count("id")).values_list("n", flat=True))
        sales_by_run_size = {str(size): size * runs for size, runs in sorted(run_sizes.items())}

        # Phase 2: maximum ingest (acknowledged + stored), zero loss.
        cpu_start, t_cpu = cpu_by_process(), time.monotonic()
        ingest, wall = closed_loop(args.ingest_seconds, args.ingest_clients)
        cpu_phase2 = cpu_share(cpu_start, cpu_by_process(), time.monotonic() - t_cpu)
        ok = [r for r in ingest if r["status"] == 200]
        stored_ingest = WebhookEvent.objects.filter(vendor="square", event_id__isnull=False,
                                                    connection__isnull=True,
                                                    received_at__gte=dt.datetime.fromtimestamp(
                                                        min(r["sent"] for r in ingest) - 1, dt.timezone.utc)).count()
        ingest_ack = sorted(r["ack_ms"] for r in ok)
    speed_after = machine_speed_ms()  # the stack stopped

    figures = {
        "seconds": args.seconds, "rate": args.rate, "firs_latency_ms": args.firs_latency_ms,
        "web_workers": args.web_workers, "web_threads": args.web_threads, "pos_pool": args.pool,
        "pos_worker_instances": args.worker_instances,
        "pos_concurrency_per_instance": args.workers_c, "worker_nice": args.worker_nice,
        "merchants": args.merchants,
        "sent": len(results), "accepted": len(accepted), "non_200": len(results) - len(accepted),
        "non_200_statuses": sorted({str(r["status"]) for r in results if r["status"] != 200}),
        "ack_p50_ms": pct(ack, 50), "ack_p99_ms": pct(ack, 99),
        "sale_to_confirmed_p50_ms": pct(sale_to_confirmed, 50), "sale_to_confirmed_p95_ms": pct(sale_to_confirmed, 95),
        "sale_to_confirmed_p99_ms": pct(sale_to_confirmed, 99), "confirmed": len(sale_to_confirmed),
        "sale_to_transmitted_p50_ms": pct(sale_to_transmitted, 50),
        "sale_to_transmitted_p95_ms": pct(sale_to_transmitted, 95),
        "sale_to_transmitted_p99_ms": pct(sale_to_transmitted, 99), "transmitted": len(sale_to_transmitted),
        "drained_after_s": round(drained_after, 1),
        "confirmed_per_s": round(len(sale_to_confirmed) / (args.seconds + drained_after), 1),
        "events_stored": stored, "invoices_exactly_one": exactly_one,
        "accepted_without_exactly_one_invoice": len(accepted_ids) - exactly_one,
        "orders_with_more_than_one_invoice": duplicates,
        "submission_states": states, "tax_mismatch": mismatched,
        "wake_linger_ms": settings.WEBHOOK_WAKE_LINGER_MS, "sales_by_run_size": sales_by_run_size,
        "cpu_percent_of_one_core_while_sending": cpu_phase1,
        "ingest_clients": args.ingest_clients, "ingest_sent": len(ingest), "ingest_accepted": len(ok),
        "ingest_stored": stored_ingest, "ingest_lost": len(ok) - stored_ingest,
        "ingest_per_s": round(len(ok) / wall, 1), "ingest_ack_p50_ms": pct(ingest_ack, 50),
        "ingest_ack_p99_ms": pct(ingest_ack, 99), "cpu_percent_of_one_core_while_ingesting": cpu_phase2,
        "machine_speed_ms_before": speed_before, "machine_speed_ms_after": speed_after,
        "machine_speed_ms_during": statistics.median(speed_during) if speed_during else None,
    }
    print(f"machine speed (CPU ms of a fixed workload, lower is faster): {speed_before} before, "
          f"{figures['machine_speed_ms_during']} while sending (median), {speed_after} after")
    print(f"phase 1: {figures['sent']} signed sale webhooks at {args.rate}/s for {args.seconds}s, "
          f"FIRS +{args.firs_latency_ms} ms; accepted {figures['accepted']}, non-200 {figures['non_200']}")
    print(f"  ack p50 {figures['ack_p50_ms']} ms, p99 {figures['ack_p99_ms']} ms")
    print(f"  sale → confirmed p50 {figures['sale_to_confirmed_p50_ms']} ms, p95 "
          f"{figures['sale_to_confirmed_p95_ms']} ms, p99 {figures['sale_to_confirmed_p99_ms']} ms "
          f"({figures['confirmed']} confirmed, backlog drained {figures['drained_after_s']} s after the last "
          f"webhook, {figures['confirmed_per_s']} confirmed/s)")
    print(f"  sale → transmitted (SPEC §4's measure) p50 {figures['sale_to_transmitted_p50_ms']} ms, p95 "
          f"{figures['sale_to_transmitted_p95_ms']} ms, p99 {figures['sale_to_transmitted_p99_ms']} ms")
    print(f"  every accepted event → exactly one invoice: {exactly_one}/{len(accepted_ids)}; "
          f"submission states {states}")
    print(f"  sales by the size of the run that took them (wake linger {settings.WEBHOOK_WAKE_LINGER_MS} ms): "
          f"{sales_by_run_size}")
    print_cpu("sending", cpu_phase1)
    print(f"phase 2: max ingest {figures['ingest_per_s']} webhooks/s with {args.ingest_clients} clients; "
          f"accepted {len(ok)}, stored {stored_ingest}, lost {figures['ingest_lost']}; ack p50 "
          f"{figures['ingest_ack_p50_ms']} ms, p99 {figures['ingest_ack_p99_ms']} ms")
    print_cpu("ingesting", cpu_phase2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
