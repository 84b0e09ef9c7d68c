"""source_record(s)_upsert: one statement inserts or updates SourceRecord rows
and hands back their ids, creation times and invoice links."""
import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from integrations.connections.models import Connection
from integrations.connections.services import source_record_upsert, source_records_link_invoices, source_records_upsert
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


@pytest.mark.django_db
def test_a_page_is_one_statement_in_the_callers_order(make_org, django_assert_num_queries):
    org = make_org()
    conn = Connection.objects.create(organization=org, vendor="square", kind="pos", status="connected",
                                     external_account_id="ML-UPSERT-PAGE")
    invoice = factories.invoice(org)
    known = source_record_upsert(Transaction, connection=conn, external_id="ORDER-B", values={
        "organization_id": org.pk, "status": "open", "occurred_at": timezone.now(), "raw": {"v": 0}})
    Transaction.objects.filter(pk=known.pk).update(invoice=invoice)

    other_org = make_org()
    other = Connection.objects.create(organization=other_org, vendor="square", kind="pos", status="connected",
                                      external_account_id="ML-UPSERT-OTHER")

    def values(v, owner=org):
        return {"organization_id": owner.pk, "status": "completed", "occurred_at": timezone.now(), "raw": {"v": v}}

    with django_assert_num_queries(1):  # several connections' rows too
        rows = source_records_upsert(Transaction, rows=[
            (conn, "ORDER-C", values(1)), (conn, "ORDER-B", values(2)), (other, "ORDER-C", values(5, other_org)),
            (conn, "ORDER-A", values(3)), (conn, "ORDER-C", values(4))])
    assert [(r.connection_id, r.external_id) for r in rows] == [
        (conn.pk, "ORDER-C"), (conn.pk, "ORDER-B"), (other.pk, "ORDER-C"), (conn.pk, "ORDER-A"), (conn.pk, "ORDER-C")]
    assert rows[0] is rows[4]  # listed twice, written once, with its last values
    assert rows[2] is not rows[0] and rows[2].organization_id == other_org.pk  # the same id, another seller's
    assert rows[1].pk == known.pk and rows[1].invoice_id == invoice.pk and rows[0].invoice_id is None
    stored = {t.external_id: t for t in Transaction.objects.filter(connection=conn)}
    assert {k: (t.pk, t.raw, t.status) for k, t in stored.items()} == {
        "ORDER-A": (rows[3].pk, {"v": 3}, "completed"), "ORDER-B": (known.pk, {"v": 2}, "completed"),
        "ORDER-C": (rows[0].pk, {"v": 4}, "completed")}
    assert Transaction.objects.get(connection=other).raw == {"v": 5}
    assert source_records_upsert(Transaction, rows=[]) == []


@pytest.mark.django_db
def test_links_are_written_in_one_statement_and_never_replace_one(make_org, django_assert_num_queries):
    org = make_org()
    conn = Connection.objects.create(organization=org, vendor="square", kind="pos", status="connected",
                                     external_account_id="ML-LINK")
    a, b = source_records_upsert(Transaction, rows=[
        (conn, name, {"organization_id": org.pk, "status": "completed", "occurred_at": timezone.now()})
        for name in ("ORDER-A", "ORDER-B")])
    first, second, third = factories.invoice(org), factories.invoice(org), factories.invoice(org)
    Transaction.objects.filter(pk=b.pk).update(invoice=first)
    with django_assert_num_queries(1):
        linked = source_records_link_invoices(Transaction, links=[(a.pk, second.pk), (b.pk, third.pk)])
    assert linked == 1
    assert dict(Transaction.objects.filter(connection=conn).values_list("external_id", "invoice_id")) == {
        "ORDER-A": second.pk, "ORDER-B": first.pk}
    assert source_records_link_invoices(Transaction, links=[]) == 0
