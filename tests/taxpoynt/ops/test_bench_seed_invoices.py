"""The bench fixture command writes consistent rows (it is what bench/api.py measures)."""
import io

import pytest
from django.core.management import call_command
from django.db.models import F

from invoicing.models import Invoice, InvoiceLine, Submission
from taxpoynt.tenancy.models import Membership


@pytest.mark.django_db
def test_seeds_invoices_with_lines_and_submissions():
    call_command("bench_seed_invoices", count=120, orgs=3, batch=50, lines=2, stdout=io.StringIO())
    invoices = Invoice.objects.filter(source_system="bench")
    assert invoices.count() == 120
    assert invoices.values("organization").distinct().count() == 3
    assert InvoiceLine.objects.filter(invoice__in=invoices).count() == 240
    assert Submission.objects.filter(invoice__in=invoices, format="firs").count() == 120
    # Every invoice's connection belongs to its own organization.
    assert not invoices.exclude(connection__organization=F("organization")).exists()
    # Signed states carry an IRN; drafts are not frozen.
    assert not Submission.objects.filter(invoice__in=invoices, state="confirmed", invoice__irn="").exists()
    assert not Submission.objects.filter(invoice__in=invoices, state="draft", invoice__frozen_at__isnull=False).exists()
    # The indexed FIRS-state copy matches each invoice's submission (triggers are off while seeding).
    assert not invoices.exclude(firs_state=F("submissions__state")).exists()
    assert Membership.objects.filter(user__email="bench@taxpoynt.local").count() == 1
    # Re-running adds, --reset replaces.
    call_command("bench_seed_invoices", count=10, orgs=3, batch=50, reset=True, stdout=io.StringIO())
    assert Invoice.objects.filter(source_system="bench").count() == 10


