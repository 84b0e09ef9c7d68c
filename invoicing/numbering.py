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
    if kind not in PREFIXES:
        raise ApplicationError(f"unknown document kind {kind!r}")
    if count < 1:
        raise ApplicationError(f"cannot allocate {count} numbers")
    if not connection.in_atomic_block:
        raise ApplicationError("allocate_number must run inside the transaction that freezes the invoice")
    table = InvoiceSequence._meta.db_table
    # One statement: create the row on first use, or bump it. Either way the
    # row stays locked until the freezing transaction ends, so concurrent
    # freezes of one organization queue here and a rollback leaves no gap.
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} AS seq (organization_id, kind, last_number) VALUES (%s, %s, %s) "
            "ON CONFLICT (organization_id, kind) DO UPDATE SET last_number = seq.last_number + EXCLUDED.last_number "
            "RETURNING last_number",
            [organization.pk, kind, count],
        )
        last = cursor.fetchone()[0]
    return [format_number(kind=kind, value=value) for value in range(last - count + 1, last + 1)]
