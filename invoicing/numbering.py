"""Gap-free invoice numbers, per organization and per kind.

`allocate_number` must run inside the transaction that freezes the invoice:
the sequence row stays locked (the upsert's row lock) until that transaction
ends, so a rolled-back freeze also rolls back its number and no gap appears.
Concurrent freezes of one organization queue on the row; other organizations
never wait.

Numbers are letters and digits only, because the number is the first part of
the IRN and FIRS forbids other characters there (FIRS.md §1).
"""
from django.db import connection

from taxpoynt.errors import ApplicationError

from .models import Invoice, InvoiceSequence

PREFIXES = {Invoice.Kind.INVOICE: "INV", Invoice.Kind.CREDIT_NOTE: "CRN"}
DIGITS = 6


def format_number(*, kind: str, value: int) -> str:
    return f"{PREFIXES[kind]}{value:0{DIGITS}d}"


def allocate_number(*, organization, kind) -> str:
    """The next number of `kind` for `organization`. Call inside the freezing
    transaction; the number is only taken if that transaction commits."""
    return allocate_numbers(organization=organization, kind=kind, count=1)[0]


def allocate_numbers(*, organization, kind, count: int) -> list[str]:
    """The next `count` numbers of `kind` for `organization`, in order, taken
    by one statement (a batch of sales frozen together). Call inside the
    freezing transaction; they are only taken if it commits."""
    return allocate_number_blocks({(organization.pk, kind): count})[(organization.pk, kind)]


def allocate_number_blocks(counts: dict[tuple, int]) -> dict[tuple, list[str]]:
    """For each (organization id, kind): count, the next `count` numbers, in
    order, all taken by one statement (a batch of several merchants' sales
    frozen together). The sequence rows are locked in one order, by
    organization and kind, so two batches never wait for each other
    crosswise. Call inside the freezing transaction; the numbers are only
    taken if it commits."""
    from taxpoynt.db import rows_params, rows_sql

    for (_, kind), count in counts.items():
        if kind not in PREFIXES:
            raise ApplicationError(f"unknown document kind {kind!r}")
        if count < 1:
            raise ApplicationError(f"cannot allocate {count} numbers")
    if not connection.in_atomic_block:
        raise ApplicationError("allocate_number must run inside the transaction that freezes the invoice")
    table = InvoiceSequence._meta.db_table
    rows = [[str(org_id), kind, count] for (org_id, kind), count in counts.items()]
    # One statement, the rows taken in (organization, kind) order: create each
    # row on first use, or bump it. Either way the rows stay locked until the
    # freezing transaction ends, so concurrent freezes of one organization
    # queue here and a rollback leaves no gap.
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} AS seq (organization_id, kind, last_number) "
            f"SELECT * FROM {rows_sql(['uuid', 'text', 'integer'], len(rows))} AS v (organization_id, kind, n) "
            "ORDER BY organization_id, kind "
            "ON CONFLICT (organization_id, kind) DO UPDATE SET last_number = seq.last_number + EXCLUDED.last_number "
            "RETURNING organization_id, kind, last_number",
            rows_params(rows),
        )
        last = {(str(org_id), kind): number for org_id, kind, number in cursor.fetchall()}
    blocks = {}
    for (org_id, kind), count in counts.items():
        end = last[(str(org_id), kind)]
        blocks[(org_id, kind)] = [format_number(kind=kind, value=value) for value in range(end - count + 1, end + 1)]
    return blocks
