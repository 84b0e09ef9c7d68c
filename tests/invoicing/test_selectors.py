"""Invoice list reads: the FIRS status filter on the invoice's copy of its
submission state (kept in sync on every path), and the list ordering."""
import datetime
import importlib

import pytest
from django.apps import apps

from invoicing.models import Invoice, Submission
from invoicing.selectors import (
    CREATED_ORDERING,
    ISSUE_DATE_ORDERING,
    invoice_get,
    invoice_list,
    invoice_list_ordering,
)
from invoicing.submissions import transition
from tests import factories

S = Submission.State


def firs_state(invoice):
    return Invoice.objects.values_list("firs_state", flat=True).get(pk=invoice.pk)


@pytest.mark.django_db
def test_every_transition_copies_the_state_onto_the_invoice(make_org):
    invoice = factories.invoice(make_org())
    sub = invoice.submissions.get()
    assert firs_state(invoice) == S.DRAFT
    for to_state in (S.VALIDATED, S.SIGNED, S.TRANSMITTED, S.CONFIRMED):
        transition(sub, to_state, step="test")
        assert firs_state(invoice) == to_state


@pytest.mark.django_db
def test_a_stale_invoice_saved_after_a_transition_keeps_the_new_state(make_org):
    invoice = factories.invoice(make_org())
    stale = Invoice.objects.get(pk=invoice.pk)
    transition(invoice.submissions.get(), S.REJECTED, step="validate_local", error="TIN missing",
               blocking_level="error")
    stale.customer_name = "Zuma Rock Logistics Ltd"
    stale.save()
    invoice.refresh_from_db()
    assert invoice.firs_state == S.REJECTED and invoice.customer_name == "Zuma Rock Logistics Ltd"


@pytest.mark.django_db
def test_a_raw_update_of_the_submission_state_is_copied_too(make_org):
    """The PostgreSQL trigger (migration 0005): paths that bypass transition()."""
    invoice = factories.invoice(make_org())
    Submission.objects.filter(invoice=invoice).update(state=S.DEAD)
    assert firs_state(invoice) == S.DEAD
    # Another document format is not the FIRS state.
    Submission.objects.create(invoice=invoice, format="peppol", state=S.CONFIRMED)
    assert firs_state(invoice) == S.DEAD


@pytest.mark.django_db
def test_the_migration_fills_the_state_from_existing_submissions(make_org):
    org = make_org()
    rejected, confirmed, without = factories.invoice(org), factories.invoice(org), factories.invoice(org)
    Submission.objects.filter(invoice=rejected).update(state=S.REJECTED)
    Submission.objects.filter(invoice=confirmed).update(state=S.CONFIRMED)
    Submission.objects.filter(invoice=without).delete()
    Invoice.objects.update(firs_state="")  # as right after AddField
    migration = importlib.import_module("invoicing.migrations.0005_invoice_firs_state_list_indexes")
    migration.fill_firs_state(apps, None)
    assert [firs_state(i) for i in (rejected, confirmed, without)] == [S.REJECTED, S.CONFIRMED, ""]


@pytest.mark.django_db
def test_firs_status_filter_reads_the_copy_within_the_users_organizations(make_user, make_org):
    user = make_user()
    org = make_org(owner=user)
    mine = [factories.invoice(org) for _ in range(3)]
    foreign = factories.invoice(make_org(owner=make_user()))
    Submission.objects.filter(invoice__in=[mine[0], mine[2], foreign]).update(state=S.REJECTED)
    rows = invoice_list(user=user, filters={"firs_status": S.REJECTED})
    assert set(rows) == {mine[0], mine[2]}
    assert "firs_state" in str(rows.query) and "invoicing_submission" not in str(rows.query)
    assert list(invoice_list(user=user, filters={"firs_status": S.UNKNOWN})) == []


@pytest.mark.django_db
def test_invoice_get_is_scoped_to_the_user(make_user, make_org):
    user = make_user()
    invoice = factories.invoice(make_org(owner=user))
    foreign = factories.invoice(make_org(owner=make_user()))
    assert invoice_get(user=user, invoice_id=invoice.pk) == invoice
    with pytest.raises(Invoice.DoesNotExist):
        invoice_get(user=user, invoice_id=foreign.pk)


def test_ordering_is_by_issue_date_only_for_issue_date_filters():
    assert invoice_list_ordering(filters={}) == CREATED_ORDERING == ("-created_at",)
    assert invoice_list_ordering(filters={"firs_status": "rejected"}) == CREATED_ORDERING
    for filters in ({"issue_date_from": datetime.date(2026, 3, 1)}, {"issue_date_to": datetime.date(2026, 3, 31)}):
        assert invoice_list_ordering(filters=filters) == ISSUE_DATE_ORDERING == ("-issue_date", "-created_at")
