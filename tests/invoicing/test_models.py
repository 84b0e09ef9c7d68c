"""Frozen invoices are immutable: in the model layer and in PostgreSQL."""
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from invoicing.models import FrozenInvoiceError, Invoice, InvoiceLine
from tests import factories


@pytest.fixture
def frozen(make_org):
    inv = factories.invoice(make_org())
    Invoice.objects.filter(pk=inv.pk).update(number="INV000001", irn="INV000001-ABCD1234-20261102",
                                             frozen_at=timezone.now())
    return Invoice.objects.get(pk=inv.pk)


@pytest.mark.django_db
def test_unfrozen_invoice_can_change(make_org):
    inv = factories.invoice(make_org())
    inv.customer_name = "Renamed"
    inv.save()
    Invoice.objects.filter(pk=inv.pk).update(payable_amount=Decimal("1.00"))
    assert Invoice.objects.get(pk=inv.pk).payable_amount == Decimal("1.00")


@pytest.mark.django_db
def test_orm_save_refuses_content_change_of_frozen_invoice(frozen):
    frozen.payable_amount = Decimal("999.00")
    with pytest.raises(FrozenInvoiceError, match="payable_amount"):
        frozen.save()
    assert Invoice.objects.get(pk=frozen.pk).payable_amount == Decimal("107.50")


@pytest.mark.django_db
def test_write_frozen_freezes_a_draft_once(make_org):
    draft = factories.invoice(make_org())
    now = timezone.now()
    assert draft.write_frozen(number="INV000007", irn="INV000007-ABCD1234-20261102", stamp="s", frozen_at=now)
    stored = Invoice.objects.get(pk=draft.pk)
    assert (stored.number, stored.frozen_at, stored.updated_at) == ("INV000007", now, now)
    # The instance now guards its frozen content like a loaded one.
    draft.number = "INV000008"
    with pytest.raises(FrozenInvoiceError, match="number"):
        draft.save()
    # A second freeze (another run that lost its lease) writes nothing.
    other = Invoice.objects.get(pk=draft.pk)
    assert not other.write_frozen(number="INV000009", irn="x", stamp="t", frozen_at=timezone.now())
    assert Invoice.objects.get(pk=draft.pk).number == "INV000007"


@pytest.mark.django_db
def test_orm_save_allows_workflow_fields_of_frozen_invoice(frozen):
    frozen.signed_at = timezone.now()
    frozen.save()
    assert Invoice.objects.get(pk=frozen.pk).signed_at is not None


@pytest.mark.django_db
@pytest.mark.parametrize("change", [
    {"payable_amount": Decimal("1.00")},
    {"irn": "OTHER-ABCD1234-20261102"},
    {"number": "INV000002"},
    {"canonical": {"x": 1}},
    {"frozen_at": None},
])
def test_database_trigger_refuses_raw_update_of_frozen_invoice(frozen, change):
    with pytest.raises(IntegrityError, match="frozen"):
        with transaction.atomic():
            Invoice.objects.filter(pk=frozen.pk).update(**change)
    assert Invoice.objects.get(pk=frozen.pk).number == "INV000001"


@pytest.mark.django_db
def test_database_trigger_allows_workflow_columns(frozen):
    Invoice.objects.filter(pk=frozen.pk).update(signed_at=timezone.now(), connection=None)
    assert Invoice.objects.get(pk=frozen.pk).signed_at is not None


def _guard_calls(update) -> dict:
    """The PL/pgSQL guard functions called while `update` runs, and how
    often (PostgreSQL's function statistics of the test's transaction)."""
    def calls():
        cursor.execute("SELECT funcname, calls FROM pg_stat_xact_user_functions")
        return dict(cursor.fetchall())

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL track_functions = 'pl'")
        before = calls()
        update()
        return {name: count - before.get(name, 0) for name, count in calls().items()
                if count != before.get(name, 0)}


@pytest.mark.django_db
def test_the_guard_is_not_called_for_workflow_columns_nor_for_a_draft(frozen, make_org):
    # The copies of the FIRS state and the signing time, five a live sale,
    # never call the frozen-invoice guard (it compared every content column).
    assert _guard_calls(lambda: Invoice.objects.filter(pk=frozen.pk).update(
        firs_state="signed", signed_at=timezone.now())) == {}
    draft = factories.invoice(make_org())
    assert _guard_calls(lambda: Invoice.objects.filter(pk=draft.pk).update(number="INV000009")) == {}
    # A content column of a frozen invoice still goes through it, and is refused.
    with pytest.raises(IntegrityError, match="frozen"):
        _guard_calls(lambda: Invoice.objects.filter(pk=frozen.pk).update(customer_name="Renamed"))


@pytest.mark.django_db
def test_the_firs_state_copy_is_called_only_when_the_state_changes(make_org):
    submission = factories.invoice(make_org()).submissions.get(format="firs")
    assert Invoice.objects.get(pk=submission.invoice_id).firs_state == submission.state
    same = _guard_calls(lambda: type(submission).objects.filter(pk=submission.pk).update(state=submission.state))
    assert same == {}
    moved = _guard_calls(lambda: type(submission).objects.filter(pk=submission.pk).update(state="validated"))
    assert moved == {"invoicing_copy_firs_state": 1}
    assert Invoice.objects.get(pk=submission.invoice_id).firs_state == "validated"


@pytest.mark.django_db
def test_lines_of_frozen_invoice_are_immutable(frozen):
    line = frozen.lines.get()
    line.quantity = Decimal("5")
    with pytest.raises(FrozenInvoiceError):
        line.save()
    with pytest.raises(FrozenInvoiceError):
        line.delete()
    with pytest.raises(IntegrityError, match="frozen"):
        with transaction.atomic():
            InvoiceLine.objects.filter(pk=line.pk).update(quantity=Decimal("5"))
    with pytest.raises(IntegrityError, match="frozen"):
        with transaction.atomic():
            InvoiceLine.objects.bulk_create([InvoiceLine(
                invoice=frozen, position=2, description="extra", quantity=Decimal("1"), unit_price=Decimal("1"),
                line_extension_amount=Decimal("1"), tax_category="STANDARD_VAT", tax_rate=Decimal("7.5"))])
    assert frozen.lines.get().quantity == Decimal("1")


@pytest.mark.django_db
def test_the_guard_fires_for_every_content_column_the_model_guards():
    # The trigger names its columns (UPDATE OF): one the model guards but the
    # trigger does not name would change unchecked by a raw UPDATE.
    with connection.cursor() as cursor:
        cursor.execute("""SELECT a.attname FROM pg_trigger t
                          JOIN pg_attribute a ON a.attrelid = t.tgrelid AND a.attnum = ANY(t.tgattr)
                          WHERE t.tgname = 'invoicing_invoice_frozen'""")
        named = {row[0] for row in cursor.fetchall()}
    guarded = {f.column for f in Invoice._meta.concrete_fields if f.attname in Invoice.CONTENT_FIELDS}
    assert len(guarded) == len(Invoice.CONTENT_FIELDS) and named == guarded
