"""Benchmark of the integrator API's list and detail endpoints on a large table.

Needs the bench fixture first (PostgreSQL; takes ~minutes for 1 M):

    DATABASE_URL=postgres://…/taxpoynt_bench .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://…/taxpoynt_bench .venv/bin/python manage.py bench_seed_invoices --count 1000000
    DATABASE_URL=postgres://…/taxpoynt_bench REDIS_URL=redis://127.0.0.1:6379/9 \
        .venv/bin/python bench/api.py --seconds 30 --clients 20

Starts gunicorn on a free loopback port with the API throttles lifted (or
uses --url of a running server: then the server's throttle rates apply),
authenticates with an API token of the bench user (member of one bench
organization) and, endpoint by endpoint, runs N concurrent clients (httpx,
one thread each) in a closed loop on that endpoint for --seconds (one slow
endpoint would otherwise set every other endpoint's latency). Prints
p50/p95/p99 and req/s per endpoint, then EXPLAIN (ANALYZE, BUFFERS) of each list query as the API builds
it (the same selector + filter serializer + `invoice_list_ordering` and page size),
says which indexes each plan uses, and ends with one JSON line.
"""
import argparse
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taxpoynt.settings")

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402

from integrations.connections.models import Connection  # noqa: E402
from invoicing.models import Invoice  # noqa: E402
from invoicing.selectors import invoice_list, invoice_list_ordering  # noqa: E402
from taxpoynt.api.pagination import CursorPagination  # noqa: E402
from taxpoynt.apitokens.services import token_create  # noqa: E402
from taxpoynt.ops.management.commands.bench_seed_invoices import BENCH_MULTI_USER, BENCH_USER  # noqa: E402
from taxpoynt.tenancy.selectors import organization_ids_for_user  # noqa: E402

PLAN_INDEX = re.compile(r"(?:Index Scan|Index Only Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\w+)")
PLAN_SEQ = re.compile(r"Seq Scan on (\w+)")


def percentile(values, q):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def list_cases(conn_id):
    """name → the list filters (query parameters) integrators use most."""
    return {
        "invoices": {},
        "invoices?firs_status=rejected": {"firs_status": "rejected"},
        "invoices?firs_status=confirmed": {"firs_status": "confirmed"},
        "invoices?issue_date=one month": {"issue_date_from": "2026-03-01", "issue_date_to": "2026-03-31"},
        "invoices?amount=1000..2000": {"amount_min": "1000", "amount_max": "2000"},
        "invoices?connection": {"connection": str(conn_id)},
        "invoices?connection+month+firs_status": {"connection": str(conn_id), "issue_date_from": "2026-03-01",
                                                  "issue_date_to": "2026-03-31", "firs_status": "confirmed"},
    }


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(workers, threads):
    port = free_port()
    env = {**os.environ, "API_THROTTLE_RATE_CALLER": "100000000/min", "API_THROTTLE_RATE_ORGANIZATION": "100000000/min",
           "LOG_LEVEL": "WARNING", "DEBUG": "false"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "taxpoynt.wsgi:application", "-b", f"127.0.0.1:{port}",
         "-w", str(workers), "-k", "gthread", "--threads", str(threads), "--log-level", "warning"],
        cwd=ROOT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("gunicorn did not answer /healthz")


def run_load(url, requests_plan, clients, seconds):
    """Closed loop: each client sends its next request as soon as the last answered."""
    latencies, errors = defaultdict(list), defaultdict(int)
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    start = threading.Barrier(clients)

    def client(n):
        rng = random.Random(n)
        local_lat, local_err = defaultdict(list), defaultdict(int)
        with httpx.Client(base_url=url, timeout=30) as http:
            start.wait()
            i = n
            while time.monotonic() < deadline:
                name, path, params, headers = requests_plan[i % len(requests_plan)]
                if callable(path):
                    path = path(rng)
                i += 1
                t0 = time.perf_counter()
                resp = http.get(path, params=params, headers=headers)
                elapsed = (time.perf_counter() - t0) * 1000
                local_lat[name].append(elapsed)
                if resp.status_code != 200:
                    local_err[f"{name} {resp.status_code}"] += 1
        with lock:
            for k, v in local_lat.items():
                latencies[k].extend(v)
            for k, v in local_err.items():
                errors[k] += v

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, dict(errors), time.monotonic() - t0


def first_page(qs, ordering=None):
    """What CursorPagination runs for the first page: ORDER BY the cursor ordering, LIMIT page_size + 1."""
    ordering = ordering or CursorPagination.ordering
    ordering = [ordering] if isinstance(ordering, str) else list(ordering)
    return qs.order_by(*ordering)[: (CursorPagination.page_size or 50) + 1]


def explain(qs):
    plan = qs.explain(analyze=True, buffers=True)
    execution = re.search(r"Execution Time: ([\d.]+) ms", plan)
    return {
        "indexes": sorted(set(PLAN_INDEX.findall(plan))),
        "seq_scans": sorted(set(PLAN_SEQ.findall(plan))),
        "execution_ms": float(execution.group(1)) if execution else None,
        "plan": plan,
    }


def explain_lists(user, cases):
    from invoicing.apis import InvoiceFilterSerializer

    out = {}
    for name, params in cases.items():
        filters = InvoiceFilterSerializer(data=params)
        filters.is_valid(raise_exception=True)
        out[name] = explain(first_page(invoice_list(user=user, filters=filters.validated_data),
                                       invoice_list_ordering(filters=filters.validated_data)))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="Load time per endpoint.")
    parser.add_argument("--only", help="Run only endpoints whose name contains this text.")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--url", help="A running server (default: start gunicorn here).")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (gthread).")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker.")
    parser.add_argument("--no-load", action="store_true", help="Only the EXPLAIN plans.")
    args = parser.parse_args()

    User = get_user_model()
    user = User.objects.filter(email=BENCH_USER).first()
    multi = User.objects.filter(email=BENCH_MULTI_USER).first()
    if user is None:
        raise SystemExit("no bench data: run `manage.py bench_seed_invoices` first")
    total = Invoice.objects.count()
    org_id = organization_ids_for_user(user=user)[0]
    conn_id = Connection.objects.filter(organization_id=org_id, vendor="hubspot").values_list("pk", flat=True)[0]
    detail_ids = [str(pk) for pk in Invoice.objects.filter(organization_id=org_id)
                  .order_by("?").values_list("pk", flat=True)[:2000]]
    cases = list_cases(conn_id)
    print(f"invoices in table: {total}; bench org has {Invoice.objects.filter(organization_id=org_id).count()}")

    result = {"bench": "api", "invoices": total, "clients": args.clients, "seconds": args.seconds,
              "cpus": os.cpu_count(), "loadavg_start": [round(x, 2) for x in os.getloadavg()],
              "endpoints": {}, "explain": {}}
    print(f"{os.cpu_count()} CPUs; load average before the run {result['loadavg_start']} "
          f"(other processes on this machine skew every figure)")
    if not args.no_load:
        auth = {"Authorization": f"Token {token_create(user=user, name='bench/api.py').plaintext}"}
        auth_multi = {"Authorization": f"Token {token_create(user=multi, name='bench/api.py').plaintext}"}
        plan = [(f"GET {name}", "/api/v1/invoices", params, auth) for name, params in cases.items()]
        plan.append(("GET invoices/{id}", lambda rng: f"/api/v1/invoices/{rng.choice(detail_ids)}", {}, auth))
        plan.append(("GET invoices (user in 4 orgs)", "/api/v1/invoices", {}, auth_multi))
        plan.append(("GET connections", "/api/v1/connections", {}, auth))
        plan.append(("GET organizations", "/api/v1/organizations", {}, auth))
        if args.only:
            plan = [p for p in plan if args.only in p[0]]
        proc = None
        url = args.url
        if url is None:
            proc, url = start_gunicorn(args.workers, args.threads)
            print(f"gunicorn at {url}: {args.workers} workers × {args.threads} threads (gthread)")
        print(f"\n{args.clients} clients per endpoint, {args.seconds:.0f}s each")
        print(f"{'endpoint':44} {'n':>6} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
        every, errors, wall_total = [], {}, 0.0
        try:
            run_load(url, plan, min(args.clients, 4), 3)  # warm-up: connections, caches, first plans
            for step in plan:
                latencies, step_errors, wall = run_load(url, [step], args.clients, args.seconds)
                values = latencies[step[0]]
                every.extend(values)
                errors.update(step_errors)
                wall_total += wall
                row = {"n": len(values), "rps": round(len(values) / wall, 1),
                       "p50_ms": round(percentile(values, 50), 1), "p95_ms": round(percentile(values, 95), 1),
                       "p99_ms": round(percentile(values, 99), 1)}
                result["endpoints"][step[0]] = row
                print(f"{step[0]:44} {row['n']:>6} {row['rps']:>7} {row['p50_ms']:>8} {row['p95_ms']:>8} "
                      f"{row['p99_ms']:>8}", flush=True)
        finally:
            if proc is not None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
        wall = wall_total
        result["all"] = {"n": len(every), "rps": round(len(every) / wall, 1),
                         "p50_ms": round(statistics.median(every), 1), "p95_ms": round(percentile(every, 95), 1),
                         "p99_ms": round(percentile(every, 99), 1)}
        print(f"{'all':44} {len(every):>6} {result['all']['rps']:>7} {result['all']['p50_ms']:>8} "
              f"{result['all']['p95_ms']:>8} {result['all']['p99_ms']:>8}")
        result["errors"] = errors
        result["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
        print(f"load average after the run {result['loadavg_end']}")
        if errors:
            print("non-200 answers:", errors)

    explained = explain_lists(user, cases)
    explained["invoices (user in 4 orgs)"] = explain_lists(multi, {"invoices": {}})["invoices"]
    from integrations.connections.selectors import connection_list
    from taxpoynt.tenancy.selectors import organization_list

    explained["connections"] = explain(first_page(connection_list(user=user, filters={})))
    explained["organizations"] = explain(first_page(organization_list(user=user)))
    for name, info in explained.items():
        print(f"\n--- EXPLAIN (ANALYZE, BUFFERS) {name}: indexes {info['indexes'] or 'NONE'}"
              f"{'; SEQ SCAN on ' + ', '.join(info['seq_scans']) if info['seq_scans'] else ''}")
        print(info["plan"])
        result["explain"][name] = {k: v for k, v in info.items() if k != "plan"}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
