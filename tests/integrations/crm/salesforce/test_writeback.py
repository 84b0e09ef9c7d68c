"""Write-back of invoice number, IRN and status to the Opportunity after FIRS
confirmation: PATCHed once, retried with backoff until it succeeds, never a
second PATCH after a recorded success, failures visible as needs attention
and never blocking the invoice."""
import datetime

import pytest
from django.utils import timezone

from integrations.connections.models import Connection, VendorExchange
from integrations.connections.sync import HISTORICAL, sync_run
from integrations.crm.salesforce.tasks import writeback_due
from integrations.crm.salesforce.writeback import connection_writeback_due, opportunity_writeback
from invoicing.models import Invoice, Submission

from .wiring import seeded_won, sf, sf_connection  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def confirmed(sf, sf_connection, seeded_won):
    """A won opportunity invoiced by the sync, its submission confirmed by FIRS
    (state set directly: the FIRS pipeline has its own tests)."""
    opp = seeded_won["opportunities"][0]["Id"]
    sf.app.sandbox.update_opportunity(opp, StageName="Closed Won")
    assert sync_run(connection_id=sf_connection.pk, mode=HISTORICAL).complete
    invoice = Invoice.objects.get(source_system="salesforce", source_id=opp)
    Invoice.objects.filter(pk=invoice.pk).update(number="INV-000007", irn="INV-000007-0A1B2C3D-20260502")
    Submission.objects.filter(invoice=invoice).update(state=Submission.State.CONFIRMED)
    invoice.refresh_from_db()
    return opp, invoice


def _patches(opp):
    return VendorExchange.objects.filter(vendor="salesforce", method="PATCH", url__contains=opp)


def test_confirmed_invoice_is_written_back_once(sf, sf_connection, confirmed):
    opp, invoice = confirmed
    assert connection_writeback_due(connection=sf_connection) == {"done": 1}
    record = sf.app.sandbox.opportunity(opp)
    assert record["TaxPoynt_Invoice_Number__c"] == "INV-000007"
    assert record["TaxPoynt_IRN__c"] == "INV-000007-0A1B2C3D-20260502"
    assert record["TaxPoynt_Status__c"] == "Confirmed"
    # The beat runs again (and a direct call): no second PATCH.
    assert writeback_due.apply().get() == {}
    assert opportunity_writeback(connection=sf_connection, invoice=invoice) == "already"
    assert _patches(opp).count() == 1
    conn = Connection.objects.get(pk=sf_connection.pk)
    assert conn.settings["writeback"][opp]["state"] == "done"
    assert conn.settings["writeback_attention"] == 0


def test_unconfirmed_invoice_is_not_written_back(sf, sf_connection, confirmed):
    opp, invoice = confirmed
    Submission.objects.filter(invoice=invoice).update(state=Submission.State.TRANSMITTED)
    assert connection_writeback_due(connection=sf_connection) == {}
    assert not _patches(opp).exists()


def test_failure_is_retried_with_backoff_until_it_succeeds_without_duplicates(sf, sf_connection, confirmed, client,
                                                                             make_user):
    opp, invoice = confirmed
    # A field the org does not have: Salesforce answers INVALID_FIELD.
    Connection.objects.filter(pk=sf_connection.pk).update(
        settings={"writeback_fields": {"irn": "Missing_IRN__c"}})
    sf_connection.refresh_from_db()
    now = timezone.now()
    assert connection_writeback_due(connection=sf_connection, now=now) == {"failed": 1}
    conn = Connection.objects.get(pk=sf_connection.pk)
    entry = conn.settings["writeback"][opp]
    assert entry["attempts"] == 1 and "INVALID_FIELD" in entry["error"]
    assert conn.settings["writeback_attention"] == 1
    assert conn.last_error.startswith("Salesforce write-back needs attention")
    # Needs attention: on the connection page and in the admin.
    client.force_login(sf_connection.owner)
    page = client.get(f"/dashboard/connections/{conn.pk}").content.decode()
    assert "Salesforce write-back needs attention: 1 opportunity" in page and "INVALID_FIELD" in page
    assert "<dt>Write-backs needing attention</dt><dd>1</dd>" in page
    admin = make_user(is_staff=True, is_superuser=True)
    client.force_login(admin)
    assert "write-back needs attention" in client.get(f"/admin/connections/connection/{conn.pk}/change/").content.decode()
    # The invoice itself is untouched by the failure.
    assert Invoice.objects.get(pk=invoice.pk).irn == invoice.irn
    # Not due yet: nothing is sent.
    assert connection_writeback_due(connection=conn, now=now + datetime.timedelta(seconds=10)) == {"not_due": 1}
    assert _patches(opp).count() == 1
    # Second failure doubles the wait.
    assert connection_writeback_due(connection=conn, now=now + datetime.timedelta(seconds=31)) == {"failed": 1}
    conn.refresh_from_db()
    entry = conn.settings["writeback"][opp]
    assert entry["attempts"] == 2
    due = datetime.datetime.fromisoformat(entry["next_attempt_at"])
    assert due - (now + datetime.timedelta(seconds=31)) == datetime.timedelta(seconds=60)
    # The admin fixes the field map: the next due run succeeds, once.
    settings = dict(conn.settings)
    settings.pop("writeback_fields")
    Connection.objects.filter(pk=conn.pk).update(settings=settings)
    conn.refresh_from_db()
    assert connection_writeback_due(connection=conn, now=now + datetime.timedelta(hours=2)) == {"done": 1}
    assert connection_writeback_due(connection=conn, now=now + datetime.timedelta(hours=3)) == {}
    ok = [x for x in _patches(opp) if x.status_code == 204]
    assert len(ok) == 1
    conn.refresh_from_db()
    assert conn.settings["writeback_attention"] == 0 and conn.last_error == ""
    assert sf.app.sandbox.opportunity(opp)["TaxPoynt_IRN__c"] == invoice.irn


def test_limit_exceeded_waits_for_the_limit(sf, sf_connection, confirmed):
    opp, _ = confirmed
    store = sf.app.sandbox.store
    store.daily_limit = store.api_usage  # spent
    now = timezone.now()
    assert connection_writeback_due(connection=sf_connection, now=now) == {"failed": 1}
    conn = Connection.objects.get(pk=sf_connection.pk)
    entry = conn.settings["writeback"][opp]
    assert "REQUEST_LIMIT_EXCEEDED" in entry["error"]
    assert datetime.datetime.fromisoformat(entry["next_attempt_at"]) - now >= datetime.timedelta(seconds=300)
    assert conn.settings["api_usage"]["limit_exceeded"] is True
