"""Bench fixture: N invoices (default 1 000 000) with their lines and FIRS
submissions, for bench/api.py. NEVER run it on a production database.

Rows are generated inside PostgreSQL with INSERT … SELECT generate_series in
batches (no Python per row), ids derived from the row number (md5 → uuid) so
lines and submissions reference their invoice without a lookup. Columns the
bench does not care about get their model default, so the command follows
model changes. Frozen invoices refuse new lines through a trigger (migration
invoicing 0003); like the real pipeline, which writes an invoice's lines in
the transaction that freezes it, the fixture inserts lines with triggers off
(`session_replication_role = replica`, PostgreSQL superuser only).

    manage.py bench_seed_invoices --count 1000000 [--orgs 4] [--batch 100000] [--reset]

It also creates the bench users: bench@taxpoynt.local (member of the first
bench org only: the common case) and bench-multi@taxpoynt.local (member of
every bench org).
"""
import json
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, models, transaction

from integrations.connections.models import Connection
from invoicing.models import Invoice, InvoiceLine, Submission
from taxpoynt.tenancy.models import Membership, Organization
from taxpoynt.tenancy.services import organization_create

BENCH_SYSTEM = "bench"
BENCH_USER = "bench@taxpoynt.local"
BENCH_MULTI_USER = "bench-multi@taxpoynt.local"
# FIRS status mix of a healthy tenant (share of invoices per submission state).
STATE_MIX = [("confirmed", 85), ("transmitted", 5), ("signed", 3), ("rejected", 3), ("unknown", 1),
             ("dead", 1), ("draft", 2)]
SPAN_DAYS = 730  # invoices spread over two years of created_at / issue_date


def _state_case(expr: str) -> str:
    parts, upto = [], 0
    for state, share in STATE_MIX:
        upto += share
        parts.append(f"WHEN ({expr}) % 100 < {upto} THEN '{state}'")
    return "CASE " + " ".join(parts) + " END"


class Command(BaseCommand):
    help = "Generate N bench invoices (with lines and submissions) in PostgreSQL for bench/api.py."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=1_000_000)
        parser.add_argument("--orgs", type=int, default=4)
        parser.add_argument("--batch", type=int, default=100_000)
        parser.add_argument("--lines", type=int, default=2, help="Lines per invoice.")
        parser.add_argument("--reset", action="store_true", help="Delete earlier bench invoices first.")

    def handle(self, *args, count, orgs, batch, lines, reset, **options):
        if connection.vendor != "postgresql":
            raise CommandError("bench_seed_invoices needs PostgreSQL (set DATABASE_URL).")
        started = time.monotonic()
        org_ids, conn_ids = self._tenants(orgs)
        if reset:
            self._reset()
        offset = Invoice.objects.filter(source_system=BENCH_SYSTEM).count()
        self.stdout.write(f"{offset} bench invoices exist; adding {count} in batches of {batch}")
        for start in range(offset + 1, offset + count + 1, batch):
            end = min(start + batch - 1, offset + count)
            t0 = time.monotonic()
            with transaction.atomic():
                self._insert_batch(start, end, org_ids, conn_ids, lines, total=offset + count)
            self.stdout.write(f"  rows {start}..{end} in {time.monotonic() - t0:.1f}s")
        t0 = time.monotonic()
        with connection.cursor() as cur:
            for model in (Invoice, InvoiceLine, Submission):
                cur.execute(f"ANALYZE {model._meta.db_table}")
        self.stdout.write(f"ANALYZE in {time.monotonic() - t0:.1f}s")
        self.stdout.write(self.style.SUCCESS(
            f"bench: {offset + count} invoices in {len(org_ids)} orgs; {time.monotonic() - started:.0f}s"))

    # --- tenants ----------------------------------------------------------------
    def _tenants(self, n):
        User = get_user_model()
        user, _ = User.objects.get_or_create(username="bench", defaults={"email": BENCH_USER})
        multi, _ = User.objects.get_or_create(username="bench-multi", defaults={"email": BENCH_MULTI_USER})
        org_ids, conn_ids = [], []
        for i in range(1, n + 1):
            org = Organization.objects.filter(slug=f"bench-org-{i}").first() or organization_create(
                name=f"Bench Org {i}", tin=f"9000{i:04d}-0001", slug=f"bench-org-{i}", firs_service_id="94ND90NR")
            if i == 1:
                Membership.objects.get_or_create(user=user, organization=org, defaults={"role": "owner"})
            Membership.objects.get_or_create(user=multi, organization=org, defaults={"role": "viewer"})
            conns = []
            for vendor, kind in (("hubspot", "crm"), ("square", "pos")):
                conn, _ = Connection.objects.get_or_create(
                    organization=org, vendor=vendor, kind=kind, external_account_id=f"bench-{i}-{vendor}",
                    defaults={"status": Connection.Status.CONNECTED, "display_name": f"Bench {vendor}"})
                conns.append(conn.pk)
            org_ids.append(org.pk)
            conn_ids.append(conns)
        return org_ids, conn_ids

    def _reset(self):
        with connection.cursor() as cur:
            cur.execute("SET session_replication_role = replica")  # skip the frozen-invoice triggers
            try:
                t = {m: m._meta.db_table for m in (Invoice, InvoiceLine, Submission)}
                bench = f"SELECT id FROM {t[Invoice]} WHERE source_system = %s"
                sub_ids = f"SELECT id FROM {t[Submission]} WHERE invoice_id IN ({bench})"
                for related in Submission._meta.related_objects:  # attempts and anything else on a submission
                    cur.execute(f"DELETE FROM {related.related_model._meta.db_table} "
                                f"WHERE {related.field.column} IN ({sub_ids})", [BENCH_SYSTEM])
                cur.execute(f"DELETE FROM {t[Submission]} WHERE invoice_id IN ({bench})", [BENCH_SYSTEM])
                cur.execute(f"DELETE FROM {t[InvoiceLine]} WHERE invoice_id IN ({bench})", [BENCH_SYSTEM])
                cur.execute(f"DELETE FROM {t[Invoice]} WHERE source_system = %s", [BENCH_SYSTEM])
            finally:
                cur.execute("SET session_replication_role = DEFAULT")

    # --- rows ---------------------------------------------------------------------
    def _insert_batch(self, start, end, org_ids, conn_ids, lines, *, total):
        k = len(org_ids)
        org_array = "ARRAY[" + ",".join(f"'{pk}'::uuid" for pk in org_ids) + "]"
        conn_array = "ARRAY[" + ",".join(f"'{pk}'::uuid" for pair in conn_ids for pk in pair) + "]"
        created = f"(timestamptz '2025-01-01 00:00:00+00' + (g::float8 / {total} * {SPAN_DAYS}) * interval '1 day')"
        payable = "(((g::bigint * 7919) % 5000000) / 100.0 + 1)::numeric(18,2)"
        exclusive = f"round({payable} / 1.075, 2)"
        # A hash of g, not g itself: organization and connection are taken from g's
        # residues, and the status mix must be the same in every organization.
        state = _state_case("(get_byte(decode(md5('s' || g), 'hex'), 0) * 256 + "
                            "get_byte(decode(md5('s' || g), 'hex'), 1))")
        invoice_sql = {
            "id": "md5('inv' || g)::uuid",
            "organization_id": f"({org_array})[1 + g % {k}]",
            "kind": "CASE WHEN g % 50 = 0 THEN 'credit_note' ELSE 'invoice' END",
            "number": "'BNC-' || lpad(g::text, 9, '0')",
            "irn": f"CASE WHEN {state} IN ('signed', 'transmitted', 'confirmed') "
                   f"THEN 'BNC' || g || '-94ND90NR-' || to_char({created}, 'YYYYMMDD') ELSE '' END",
            "issue_date": f"({created})::date",
            "currency": "'NGN'",
            "customer_name": "'Customer ' || (g % 5000)",
            "customer_tin": "lpad((g % 5000)::text, 8, '0') || '-0001'",
            "line_extension_amount": exclusive,
            "tax_exclusive_amount": exclusive,
            "tax_amount": f"{payable} - {exclusive}",
            "tax_inclusive_amount": payable,
            "payable_amount": payable,
            "tax_mismatch": "g % 97 = 0",
            "source_system": f"'{BENCH_SYSTEM}'",
            "source_type": "'deal'",
            "source_id": "'bench-' || g",
            "connection_id": f"({conn_array})[1 + (g % {k}) * 2 + (g / {k}) % 2]",
            "frozen_at": f"CASE WHEN {state} = 'draft' THEN NULL ELSE {created} END",
            "signed_at": f"CASE WHEN {state} IN ('signed', 'transmitted', 'confirmed') THEN {created} END",
            # Triggers are off while seeding: write the FIRS-state copy directly.
            "firs_state": state,
            "created_at": created,
            "updated_at": created,
        }
        line_sql = {
            "invoice_id": "md5('inv' || g)::uuid",
            "position": "p",
            "description": "'Bench item ' || ((g + p) % 300)",
            "item_code": "'SKU-' || ((g + p) % 300)",
            "quantity": "1",
            "unit_price": f"round({exclusive} / {lines}, 2)",
            "line_extension_amount": f"round({exclusive} / {lines}, 2)",
            "tax_category": "'STANDARD_VAT'",
            "tax_rate": "7.5",
        }
        submission_sql = {
            "id": "md5('sub' || g)::uuid",
            "invoice_id": "md5('inv' || g)::uuid",
            "format": "'firs'",
            "state": state,
            "irn": invoice_sql["irn"],
            "attempt_count": "1",
            "created_at": created,
            "updated_at": created,
        }
        with connection.cursor() as cur:
            cur.execute("SET LOCAL session_replication_role = replica")  # see module docstring
            self._insert(cur, Invoice, invoice_sql, f"generate_series({start}, {end}) AS g")
            self._insert(cur, InvoiceLine, line_sql,
                         f"generate_series({start}, {end}) AS g CROSS JOIN generate_series(1, {lines}) AS p")
            self._insert(cur, Submission, submission_sql, f"generate_series({start}, {end}) AS g")

    def _insert(self, cur, model, exprs, source):
        """INSERT … SELECT with `exprs` for the named columns and each other column's model default."""
        columns, values, params = [], [], []
        for field in model._meta.concrete_fields:
            if isinstance(field, models.AutoField) or field.primary_key and field.attname not in exprs:
                continue
            columns.append(connection.ops.quote_name(field.column))
            if field.attname in exprs:
                values.append(str(exprs[field.attname]).replace("%", "%%"))  # SQL modulo, not a placeholder
            elif field.null and not field.has_default():
                values.append("NULL")
            elif field.has_default():
                default = field.get_default()
                if isinstance(field, models.JSONField):
                    values.append("%s::jsonb")
                    params.append(json.dumps(default))
                else:
                    values.append("%s")
                    params.append(field.get_db_prep_save(default, connection))
            elif isinstance(field, (models.CharField, models.TextField)):
                values.append("''")
            else:
                raise CommandError(f"bench_seed_invoices: no value for {model.__name__}.{field.name}; add one.")
        cur.execute(f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "
                    f"SELECT {', '.join(values)} FROM {source}", params)
