"""CPU a live Square sale costs the pos_realtime worker, measured in one
process: the webhook task's body (claim the stored event, fetch the order
from the Square sandbox, invoice it, freeze and stamp it, FIRS validate →
sign → transmit → confirm) run for --sales stored sale events, one after the
other, against the sandboxes in a process of their own. No web server, no
broker, no pool: what is left is the product's own work a sale, which
`bench/pos_realtime.py` cannot separate from Celery and the other processes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/taxpoynt_sqw_bench REDIS_URL=redis://127.0.0.1:6379/12 \
        .venv/bin/python bench/pos_worker_cpu.py --sales 300 [--backlog] [--merchants N] [--firs-latency-ms 150] \
            [--profile 40] [--sql]

`--backlog` stores the events as a backlog (received a second ago), so each
task run takes Square's batch of them (SquareProvider.webhook_batch_size,
`integrations.pos.square.services.webhook_events_process`) and the tasks of
the events it took find them claimed, as under a burst. `--merchants N` deals
the sales round N sellers, each its own connection (and organization), as
many sellers' sales arrive together.
Prints the task runs' CPU a sale (this process) and the sandboxes' and
PostgreSQL's CPU a sale over the same window (one at a time, PostgreSQL's
includes storing each event just before its task), and the CPU of this
process's own PostgreSQL backend alone (the figure to compare when other
clients share the server), optionally the top of a cProfile by own time,
then one JSON line.
"""
import argparse
import collections
import contextlib
import cProfile
import datetime as dt
import json
import os
import pstats
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from square_stack import cpu_by_process, machine_speed_ms, running_stack, start_sandboxes  # noqa: E402
from pos_realtime import event_body, more_merchants, setup  # noqa: E402

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from integrations.connections.models import WebhookEvent  # noqa: E402
from integrations.connections.webhooks import webhook_events_store  # noqa: E402
from integrations.pos.models import Location  # noqa: E402
from integrations.pos.square.provider import SquareProvider  # noqa: E402
from invoicing.models import Submission  # noqa: E402


def stored_events(sales) -> list:
    """One stored order.updated (COMPLETED) event a (connection, order), as the intake stores them."""
    ids = []
    for conn, order in sales:
        body = event_body(conn.external_account_id, order)
        ids += [stored.id for stored in webhook_events_store(
            vendor="square", events=SquareProvider.parse_webhook(body=body, headers={}), body=body, headers={})]
    return ids


def backend_cpu_seconds() -> tuple[int, float]:
    """CPU seconds so far of this process's PostgreSQL backend: the server's
    work for these sales alone, when other clients share the server (the
    "postgresql" figure counts every PostgreSQL process)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return pid, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sales", type=int, default=300)
    parser.add_argument("--backlog", action="store_true", help="the events wait as a backlog")
    parser.add_argument("--merchants", type=int, default=1, help="the sales dealt round this many sellers")
    parser.add_argument("--firs-latency-ms", type=int, default=0, help="FIRS sandbox latency a call")
    parser.add_argument("--profile", type=int, default=0, help="print this many lines of a cProfile")
    parser.add_argument("--sql", action="store_true", help="print the statements a sale, grouped and counted")
    args = parser.parse_args()

    from integrations.pos.square import tasks

    speed_before = machine_speed_ms()
    with running_stack(metrics_prefix="posworker-metrics-") as (env, procs):
        procs.append(start_sandboxes(env, firs_latency_ms=args.firs_latency_ms))
        warmup = 20
        org, conn, orders = setup(warmup + (args.sales if args.merchants == 1 else 0))
        sales = [(conn, order) for order in orders]
        if args.merchants > 1:  # the warm-up on the first seller; the measured sales dealt round the others
            conns, dealt = more_merchants(None, count=args.merchants, sales_each=-(-args.sales // args.merchants))
            by_location = {loc: c for c in conns
                           for loc in Location.objects.filter(connection=c).values_list("external_id", flat=True)}
            sales += [(by_location[order["location_id"]], order) for order in dealt[:args.sales]]
        if args.backlog:  # stored at once, then taken by the workers a second later
            events = stored_events(sales)
            WebhookEvent.objects.filter(pk__in=events).update(received_at=timezone.now() - dt.timedelta(seconds=1))

        speed_during = []

        def run(first: int, end: int) -> float:
            """CPU seconds of the task runs of sales[first:end] (a live sale's
            event stored just before its task, and every 40th sale the
            machine's speed, outside the timing)."""
            spent = 0.0
            for i in range(first, end):
                if i % 40 == 0:
                    speed_during.append(machine_speed_ms(rounds=1))
                event_id = events[i] if args.backlog else stored_events([sales[i]])[0]
                t0 = time.process_time()
                tasks.process_webhook_event.apply(kwargs={"event_id": str(event_id)}).get()
                spent += time.process_time() - t0
            return spent

        run(0, warmup)
        profiler = cProfile.Profile(time.process_time) if args.profile else None  # CPU, not waits
        statements = collections.Counter()

        def count_statement(execute, sql, params, many, context):
            statements[re.sub(r"\"s\d+_x\d+\"", "\"…\"", re.sub(r"\s+", " ", sql))[:160]] += 1
            return execute(sql, params, many, context)

        backend = backend_cpu_seconds()
        before, wall0 = cpu_by_process(), time.monotonic()
        if profiler:
            profiler.enable()
        with connection.execute_wrapper(count_statement) if args.sql else contextlib.nullcontext():
            cpu = run(warmup, len(sales))
        if profiler:
            profiler.disable()
        wall, after = time.monotonic() - wall0, cpu_by_process()
        (pid0, backend0), (pid1, backend1) = backend, backend_cpu_seconds()
        if pid0 != pid1:
            raise SystemExit("the run's PostgreSQL connection changed: its backend's CPU is not this run's")
        backend = backend1 - backend0
        measured_ids = list(WebhookEvent.objects.filter(vendor="square").order_by("received_at")
                            .values_list("pk", flat=True))[warmup:]
        confirmed = Submission.objects.filter(state=Submission.State.CONFIRMED).count()
        processed = WebhookEvent.objects.filter(pk__in=measured_ids, status=WebhookEvent.Status.PROCESSED).count()

    speed_after = machine_speed_ms()  # the sandboxes stopped
    n = len(sales) - warmup
    other = {k: round((after[0].get(k, 0) - before[0].get(k, 0)) / n * 1000, 2)
             for k in ("sandboxes", "postgresql")}
    figures = {"sales": n, "backlog": args.backlog, "merchants": args.merchants, "processed": processed, "confirmed": confirmed - warmup,
               "worker_cpu_ms_per_sale": round(cpu / n * 1000, 2), "wall_ms_per_sale": round(wall / n * 1000, 2),
               "sandboxes_cpu_ms_per_sale": other["sandboxes"], "postgresql_cpu_ms_per_sale": other["postgresql"],
               "postgresql_backend_cpu_ms_per_sale": round(backend / n * 1000, 2),
               "machine_speed_ms_before": speed_before, "machine_speed_ms_after": speed_after,
               "machine_speed_ms_during": statistics.median(speed_during)}
    print(f"machine speed (CPU ms of a fixed workload, lower is faster): {speed_before} before, "
          f"{figures['machine_speed_ms_during']} during (median), {speed_after} after")
    print(f"{n} sales{' (a backlog)' if args.backlog else ''}: worker CPU {figures['worker_cpu_ms_per_sale']} ms a sale, "
          f"sandboxes {other['sandboxes']} ms, PostgreSQL {other['postgresql']} ms "
          f"(this run's own backend {figures['postgresql_backend_cpu_ms_per_sale']} ms); wall "
          f"{figures['wall_ms_per_sale']} ms; processed {processed}, confirmed {figures['confirmed']}")
    if args.sql:
        n_statements = sum(statements.values())
        figures["statements_per_sale"] = round(n_statements / n, 2)
        print(f"{n_statements / n:.2f} statements a sale:")
        for sql, count in statements.most_common():
            print(f"  {count / n:6.2f}  {sql}")
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.profile)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(
            r"taxpoynt|invoicing|integrations|celery/app/trace", args.profile)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
