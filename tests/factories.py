"""Row builders for tests: real rows in the real database, with the fewest
fields each model needs."""
import datetime
import itertools
from decimal import Decimal

from django.contrib.auth.models import Permission
from django.utils import timezone

from integrations.connections.models import Connection, WebhookEvent
from integrations.crm.models import Customer, Deal
from integrations.erp.models import SourceInvoice
from integrations.pos.models import Location, Transaction
from invoicing.models import Invoice, InvoiceLine, Submission, SubmissionAttempt
from taxpoynt.tenancy.models import StaffAssignment

_seq = itertools.count(1)


def connection(org, vendor="hubspot", kind="crm", **fields):
    return Connection.objects.create(organization=org, vendor=vendor, kind=kind,
                                     external_account_id=fields.pop("external_account_id", f"acct-{next(_seq)}"),
                                     status=fields.pop("status", Connection.Status.CONNECTED), **fields)


def invoice(org, conn=None, **fields):
    n = next(_seq)
    inv = Invoice.objects.create(
        organization=org, connection=conn, issue_date=fields.pop("issue_date", datetime.date(2026, 11, 2)),
        source_system=conn.vendor if conn else "manual", source_type="deal", source_id=f"src-{n}",
        customer_name=fields.pop("customer_name", f"Customer {n}"), payable_amount=Decimal("107.50"),
        tax_amount=Decimal("7.50"), tax_exclusive_amount=Decimal("100.00"), **fields)
    InvoiceLine.objects.create(invoice=inv, position=1, description="Widget", quantity=Decimal("1"),
                               unit_price=Decimal("100"), line_extension_amount=Decimal("100.00"),
                               tax_category="STANDARD_VAT", tax_rate=Decimal("7.5"))
    sub = Submission.objects.create(invoice=inv)
    SubmissionAttempt.objects.create(submission=sub, step="validate", from_state="draft", to_state="validated",
                                     outcome="ok")
    return inv


def tenant_world(org):
    """One row of every tenant-owned model for `org`; returns them by name."""
    conn = connection(org)
    pos = connection(org, vendor="square", kind="pos")
    erp = connection(org, vendor="odoo", kind="erp")
    cust = Customer.objects.create(organization=org, connection=conn, external_id=f"c{next(_seq)}", name="Acme")
    deal = Deal.objects.create(organization=org, connection=conn, external_id=f"d{next(_seq)}", name="Big deal",
                               customer=cust, amount=Decimal("100.00"))
    loc = Location.objects.create(organization=org, connection=pos, external_id=f"l{next(_seq)}", name="Shop")
    txn = Transaction.objects.create(organization=org, connection=pos, location=loc, external_id=f"t{next(_seq)}",
                                     occurred_at=timezone.now(), total_amount=Decimal("10.75"))
    src = SourceInvoice.objects.create(organization=org, connection=erp, external_id=f"o{next(_seq)}", number="INV/1")
    event = WebhookEvent.objects.create(vendor="hubspot", event_id=f"e{next(_seq)}", organization=org,
                                        connection=conn, raw_body=b"[]")
    inv = invoice(org, conn)
    return {"connection": conn, "customer": cust, "deal": deal, "location": loc, "transaction": txn,
            "source_invoice": src, "webhook_event": event, "invoice": inv, "submission": inv.submissions.first(),
            "attempt": inv.submissions.first().attempts.first(), "organization": org}


def support_agent(user, *orgs, may=("view",)):
    """Make `user` a support agent (staff, not superuser) assigned to `orgs`,
    holding the `may` permissions ("view", "change" …) on every model."""
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.user_permissions.set(Permission.objects.filter(codename__regex=rf"^({'|'.join(may)})_"))
    for org in orgs:
        StaffAssignment.objects.create(user=user, organization=org)
    return user
