"""Dashboard invoice actions against a real FIRS-confirmed invoice (FIRS sandbox
over a socket): a full credit note, idempotent on its form key."""
import pytest
from django.urls import reverse

from invoicing.models import Invoice, Submission
from taxpoynt.tenancy.models import Membership
from tests.invoicing.test_services import create, firs, firs_org, make_canonical, process  # noqa: F401


@pytest.mark.django_db
def test_credit_note_from_the_invoice_page(client, make_user, firs, firs_org, make_canonical):  # noqa: F811
    sub = process(create(firs_org, make_canonical()))
    assert sub.state == Submission.State.CONFIRMED, sub.error
    invoice = Invoice.objects.get(pk=sub.invoice_id)
    owner = make_user()
    Membership.objects.create(user=owner, organization=firs_org, role=Membership.Role.OWNER)
    client.force_login(owner)
    page = client.get(reverse("dashboard:invoice-detail", args=[invoice.pk]))
    assert b"Issue a full credit note" in page.content
    key = page.context["credit_form"].initial["request_key"]
    form = {"reason": "Goods returned by the buyer", "request_key": key}
    resp = client.post(reverse("dashboard:invoice-credit-note", args=[invoice.pk]), form, follow=True)
    assert b"Credit note created for " + invoice.number.encode() in resp.content
    credit = Invoice.objects.get(original_invoice=invoice)
    assert credit.kind == Invoice.Kind.CREDIT_NOTE and credit.payable_amount == invoice.payable_amount
    assert resp.redirect_chain[-1][0] == reverse("dashboard:invoice-detail", args=[credit.pk])
    # A double submit of the same form makes no second credit note.
    client.post(reverse("dashboard:invoice-credit-note", args=[invoice.pk]), form)
    assert Invoice.objects.filter(original_invoice=invoice).count() == 1
