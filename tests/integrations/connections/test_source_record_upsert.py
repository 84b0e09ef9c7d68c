"""source_record_upsert: one statement inserts or updates a SourceRecord row
and hands back its id, creation time and invoice link."""
import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from integrations.connections.models import Connection
from integrations.connections.services import source_record_upsert
from integrations.pos.models import Transaction
from tests import factories


@pytest.mark.django_db
def test_insert_then_update_keeps_identity_and_invoice_link(make_org):
    org = make_org()
    conn = Connection.objects.create(organization=org, vendor="square", kind="pos", status="connected",
                                     external_account_id="ML-UPSERT")
    values = {"organization_id": org.pk, "status": Transaction.Status.OPEN, "occurred_at": timezone.now(),
              "currency": "NGN", "total_amount": Decimal("1075.00"), "raw": {"state": "OPEN"}}
    first = source_record_upsert(Transaction, connection=conn, external_id="ORDER-1", values=values)
    stored = Transaction.objects.get(pk=first.pk)
    assert (stored.external_id, stored.status, stored.total_amount, stored.invoice_id) == \
        ("ORDER-1", "open", Decimal("1075.00"), None)
    assert first.created_at == stored.created_at

    invoice = factories.invoice(org)
    Transaction.objects.filter(pk=first.pk).update(invoice=invoice)
    later = timezone.now() + dt.timedelta(seconds=1)
    second = source_record_upsert(Transaction, connection=conn, external_id="ORDER-1", values={
        **values, "status": Transaction.Status.COMPLETED, "raw": {"state": "COMPLETED"}, "occurred_at": later})
    assert second.pk == first.pk and second.created_at == first.created_at
    assert second.invoice_id == invoice.pk  # the link is kept and handed back
    stored = Transaction.objects.get(pk=first.pk)
    assert (stored.status, stored.raw, stored.occurred_at, stored.invoice_id) == \
        ("completed", {"state": "COMPLETED"}, later, invoice.pk)
    assert stored.updated_at > stored.created_at
    assert Transaction.objects.filter(connection=conn).count() == 1
