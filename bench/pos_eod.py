"""Benchmark of the end-of-day batch (SPEC §4: 100 000 POS transactions →
invoices in under 2 minutes): Square's end-of-day reconciliation finds a
day's completed sales that have no invoice and invoices them.

    createdb -h 127.0.0.1 -U postgres taxpoynt_bench_eod
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/taxpoynt_bench_eod REDIS_URL=redis://127.0.0.1:6379/14 \
        .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/taxpoynt_bench_eod REDIS_URL=redis://127.0.0.1:6379/14 \
        .venv/bin/python bench/pos_eod.py --sales 100000

The real stack, each piece its own process: the FIRS and Square sandboxes
(`manage.py sandboxes --only firs square`), Celery workers on `batch` (the
queue the reconciliation and its invoices' FIRS submissions run on; the
live-sale queue is left alone), PostgreSQL and Redis. --sales completed
sales are seeded in the Square sandbox across yesterday (Lagos time) with no
webhooks: the worst end of day, where every webhook was lost. The script
then sends the beat task `batch_reconcile_day` for that day, prints progress
counts while it runs, and measures:

- invoiced: every sale has its invoice (stored with totals, rules checked,
  its FIRS submission queued), the SPEC's "→ invoices";
- confirmed: every invoice confirmed by the FIRS sandbox, if that happens
  within --confirm-timeout (B2C sales are reported to FIRS within 24 h, so
  the FIRS backlog of an end of day drains at the batch workers' pace);
- exactly one invoice per sale, and none made twice.

Ends with one JSON line.
"""
import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

# Ports, settings and django.setup() (see square_stack's docstring).
from square_stack import (celery_worker, cpu_by_process, cpu_share, print_cpu, running_stack, seed_sales,  # noqa: E402
                          square_merchant, start_sandboxes)

from django.db.models import Count  # noqa: E402

from integrations.pos.models import Transaction  # noqa: E402
from integrations.pos.square.tasks import batch_reconcile_day  # noqa: E402
from invoicing.models import Invoice, Submission  # noqa: E402

LAGOS = ZoneInfo("Africa/Lagos")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sales", type=int, default=100_000, help="completed sales seeded for the day")
    parser.add_argument("--workers-c", type=int, default=2, help="batch worker processes (prefork)")
    parser.add_argument("--invoice-timeout", type=float, default=1800, help="max wait for every sale's invoice")
    parser.add_argument("--confirm-timeout", type=float, default=0,
                        help="after invoicing, max wait for every invoice's FIRS confirmation (0: don't wait)")
    args = parser.parse_args()

    with running_stack(metrics_prefix="eodbench-metrics-") as (env, procs):
        procs.append(start_sandboxes(env))
        org, conn = square_merchant()
        day = dt.datetime.now(LAGOS).date() - dt.timedelta(days=1)
        t0 = time.monotonic()
        seed_sales(count=args.sales, start=dt.datetime.combine(day, dt.time(7), tzinfo=LAGOS),
                   end=dt.datetime.combine(day, dt.time(22), tzinfo=LAGOS))
        print(f"seeded {args.sales} completed sales on {day} in {time.monotonic() - t0:.1f} s", flush=True)
        procs.append(celery_worker(env, queues="batch", name="eodbench", concurrency=args.workers_c))
        time.sleep(3)  # the worker's own start-up is not the batch's time

        invoices = Invoice.objects.filter(organization=org)
        confirmed = Submission.objects.filter(invoice__organization=org, state=Submission.State.CONFIRMED)
        cpu_start, t_start = cpu_by_process(), time.monotonic()
        batch_reconcile_day.apply_async(kwargs={"day": day.isoformat(), "connection_id": str(conn.pk)},
                                        queue="batch")
        invoiced_s = confirmed_s = None
        deadline = t_start + args.invoice_timeout
        last, last_shown = 0, t_start
        while time.monotonic() < deadline:
            # Read once a second (a count over the day's invoices is not free:
            # polled faster, the watcher's queries took a third of a core).
            time.sleep(1)
            made = invoices.count()
            now = time.monotonic()
            if made >= args.sales:
                invoiced_s = now - t_start
            if now - last_shown >= 5 or invoiced_s is not None:
                print(f"  {now - t_start:6.1f} s  invoices {made:>7} / {args.sales}  "
                      f"({(made - last) / (now - last_shown):.0f}/s)", flush=True)
                last, last_shown = made, now
            if invoiced_s is not None:
                break
        cpu_invoicing = cpu_share(cpu_start, cpu_by_process(), time.monotonic() - t_start)
        if invoiced_s is not None and args.confirm_timeout:
            deadline = time.monotonic() + args.confirm_timeout
            while time.monotonic() < deadline:
                time.sleep(10)
                done = confirmed.count()
                print(f"  {time.monotonic() - t_start:6.1f} s  confirmed {done:>7} / {args.sales}", flush=True)
                if done >= args.sales:
                    confirmed_s = time.monotonic() - t_start
                    break
        per_sale = dict(invoices.filter(source_system="square").values_list("source_id")
                        .annotate(n=Count("id")).values_list("source_id", "n"))
        sales = Transaction.objects.filter(connection=conn).count()
        states = dict(Submission.objects.filter(invoice__organization=org).values_list("state")
                      .annotate(n=Count("id")).values_list("state", "n"))
        queues = dict(Submission.objects.filter(invoice__organization=org).values_list("queue")
                      .annotate(n=Count("id")).values_list("queue", "n"))

    figures = {
        "sales": args.sales, "batch_workers": args.workers_c, "day": day.isoformat(),
        "invoiced_seconds": round(invoiced_s, 1) if invoiced_s is not None else None,
        "invoices_per_s": round(args.sales / invoiced_s, 1) if invoiced_s else None,
        "confirmed_seconds": round(confirmed_s, 1) if confirmed_s is not None else None,
        "transactions_mirrored": sales, "invoices": sum(per_sale.values()),
        "sales_with_exactly_one_invoice": sum(1 for n in per_sale.values() if n == 1),
        "sales_with_more_than_one_invoice": sum(1 for n in per_sale.values() if n > 1),
        "submission_states": states, "submission_queues": queues,
        "cpu_percent_of_one_core_while_invoicing": cpu_invoicing,
    }
    print(f"{args.sales} sales → invoices in {figures['invoiced_seconds']} s ({figures['invoices_per_s']}/s); "
          f"exactly one invoice: {figures['sales_with_exactly_one_invoice']}, more than one: "
          f"{figures['sales_with_more_than_one_invoice']}; submissions {states} on {queues}")
    print_cpu("invoicing", cpu_invoicing)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
