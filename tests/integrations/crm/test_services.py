"""The one deal upsert (webhook and sync converge here): ordered by the
source's updated_at, one invoice per won deal ever, a credit note when a won
deal is lost. Deals come from the HubSpot sandbox (real API responses)."""

import pytest
from django.utils import timezone

from integrations.crm.hubspot.mapping import deal_record_from_bundle
from integrations.crm.hubspot.sync import client_for, fetch_deal_bundle
from integrations.crm.models import Customer, Deal
from integrations.crm.services import deal_generate_invoice, deal_ingest, deal_reconcile
from invoicing.models import Invoice
from tests.concurrency import race

from .hubspot.fixtures import connect


def _record(conn, sandbox, deal_id):
    with client_for(conn) as client:
        return deal_record_from_bundle(fetch_deal_bundle(client, deal_id, connection=conn), connection=conn)


def _new_deal(sandbox, stage="contractsent"):
    company = sandbox.create_company({"name": "Zenith Foods Ltd", "tin": "87654321-0001", "country": "NG"},
                                     notify=False)
    return sandbox.create_deal({"dealname": "Solar install", "amount": "100000", "deal_currency_code": "NGN",
                                "dealstage": stage, "pipeline": "default",
                                "closedate": "2026-11-20T10:00:00.000Z"},
                               line_items=[{"name": "Panels", "quantity": "4", "price": "25000"}],
                               company_id=company["id"], notify=False)


def _freeze(invoice):
    Invoice.objects.filter(pk=invoice.pk).update(number=f"INV-{invoice.pk.hex[:6]}", irn=f"IRN-{invoice.pk.hex[:8]}",
                                                 frozen_at=timezone.now())
    invoice.refresh_from_db()
    return invoice


@pytest.mark.django_db
def test_won_deal_gets_exactly_one_invoice_ever(hubspot_connection, sandbox):
    conn = hubspot_connection
    deal_id = _new_deal(sandbox)["id"]
    deal = deal_ingest(connection=conn, record=_record(conn, sandbox, deal_id))
    assert deal.status == Deal.Status.OPEN and deal.invoice_id is None
    assert Customer.objects.get(connection=conn).tin == "87654321-0001"

    sandbox.move_deal_stage(deal_id, "closedwon")
    deal = deal_ingest(connection=conn, record=_record(conn, sandbox, deal_id))
    assert deal.status == Deal.Status.WON and deal.invoice_id is not None
    invoice = Invoice.objects.get(source_system="hubspot", source_id=deal_id)
    assert invoice.currency == "NGN" and invoice.customer_tin == "87654321-0001"
    assert str(invoice.tax_exclusive_amount) == "100000.00" and str(invoice.tax_amount) == "7500.00"

    # Leaves closed-won and comes back: still the same single invoice.
    sandbox.move_deal_stage(deal_id, "contractsent")
    deal_ingest(connection=conn, record=_record(conn, sandbox, deal_id))
    sandbox.move_deal_stage(deal_id, "closedwon")
    deal = deal_ingest(connection=conn, record=_record(conn, sandbox, deal_id))
    assert deal.invoice_id == invoice.pk
    assert Invoice.objects.filter(source_system="hubspot").count() == 1


@pytest.mark.django_db
def test_older_and_duplicate_versions_are_ignored(hubspot_connection, sandbox):
    conn = hubspot_connection
    deal_id = _new_deal(sandbox)["id"]
    old = _record(conn, sandbox, deal_id)
    sandbox.move_deal_stage(deal_id, "closedwon")
    new = _record(conn, sandbox, deal_id)
    assert new.source_updated_at > old.source_updated_at
    deal_ingest(connection=conn, record=new)
    deal = deal_ingest(connection=conn, record=old)  # arrives late
    assert deal.stage == "closedwon" and deal.source_updated_at == new.source_updated_at
    deal_ingest(connection=conn, record=new)  # duplicate
    assert Deal.objects.filter(connection=conn).count() == 1
    assert Invoice.objects.count() == 1


@pytest.mark.django_db
def test_won_then_lost_makes_one_credit_note(hubspot_connection, sandbox):
    conn = hubspot_connection
    deal_id = _new_deal(sandbox, stage="closedwon")["id"]
    deal = deal_ingest(connection=conn, record=_record(conn, sandbox, deal_id))
    invoice = deal.invoice

    # Lost before FIRS signed the invoice: the credit note waits, and says why.
    sandbox.move_deal_stage(deal_id, "closedlost")
    deal = deal_ingest(connection=conn, record=_record(conn, sandbox, deal_id))
    assert deal.status == Deal.Status.LOST and deal.credit_note_id is None
    assert deal.invoice_error.startswith("Credit note pending")

    _freeze(invoice)
    deal_reconcile(deal=deal)
    deal.refresh_from_db()
    note = deal.credit_note
    assert note.kind == Invoice.Kind.CREDIT_NOTE and note.original_invoice_id == invoice.pk
    assert note.source_type == "deal_lost" and note.source_id == deal_id
    deal_reconcile(deal=deal)  # idempotent
    assert Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE).count() == 1
    # Won again later: no second invoice.
    sandbox.move_deal_stage(deal_id, "closedwon")
    deal = deal_ingest(connection=conn, record=_record(conn, sandbox, deal_id))
    assert Invoice.objects.filter(kind=Invoice.Kind.INVOICE).count() == 1 and deal.invoice_id == invoice.pk


@pytest.mark.django_db
def test_manual_generate_is_idempotent(client, hubspot_org, hubspot_connection, sandbox):
    conn = hubspot_connection
    deal_id = _new_deal(sandbox, stage="contractsent")["id"]
    deal = deal_ingest(connection=conn, record=_record(conn, sandbox, deal_id))
    client.force_login(hubspot_org.owner)
    first = client.post(f"/api/v1/crm/deals/{deal.pk}/generate-invoice")
    again = client.post(f"/api/v1/crm/deals/{deal.pk}/generate-invoice")
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["invoice"]["id"] == again.json()["invoice"]["id"]
    assert Invoice.objects.count() == 1
    invoice, created = deal_generate_invoice(deal=deal)
    assert not created and str(invoice.pk) == first.json()["invoice"]["id"]


@pytest.mark.django_db
def test_deal_and_customer_lists_are_scoped_and_filtered(client, make_user, make_org, hubspot_org,
                                                         hubspot_connection, sandbox):
    conn = hubspot_connection
    won = _new_deal(sandbox, stage="closedwon")["id"]
    open_ = _new_deal(sandbox, stage="contractsent")["id"]
    for deal_id in (won, open_):
        deal_ingest(connection=conn, record=_record(conn, sandbox, deal_id))
    client.force_login(hubspot_org.owner)
    data = client.get("/api/v1/crm/deals", {"status": "won"}).json()
    assert [d["external_id"] for d in data["results"]] == [won]
    assert data["results"][0]["invoice"]["id"]
    assert "next" in data  # cursor pagination
    everything = client.get("/api/v1/crm/deals", {"page_size": 1}).json()
    assert len(everything["results"]) == 1 and everything["next"]
    customers = client.get("/api/v1/crm/customers", {"has_tin": "true"}).json()["results"]
    assert {c["tin"] for c in customers} == {"87654321-0001"}
    stranger = make_user()
    make_org(owner=stranger)
    client.force_login(stranger)
    assert client.get("/api/v1/crm/deals").json()["results"] == []
    assert client.get("/api/v1/crm/customers").json()["results"] == []
    deal = Deal.objects.get(external_id=won)
    assert client.post(f"/api/v1/crm/deals/{deal.pk}/generate-invoice").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_concurrent_ingests_of_a_won_deal_make_one_invoice(hubspot_org, sandbox):
    conn = connect(hubspot_org, sandbox)
    deal_id = _new_deal(sandbox, stage="closedwon")["id"]
    record = _record(conn, sandbox, deal_id)
    race(6, lambda: deal_ingest(connection=conn, record=record))
    assert Deal.objects.filter(external_id=deal_id).count() == 1
    assert Invoice.objects.filter(source_id=deal_id).count() == 1


@pytest.mark.django_db
def test_beat_issues_credit_notes_that_had_to_wait(hubspot_connection, sandbox):
    from django_celery_beat.models import PeriodicTask

    from integrations.crm.tasks import reconcile_lost_deals

    assert PeriodicTask.objects.get(task="integrations.crm.tasks.reconcile_lost_deals").enabled
    conn = hubspot_connection
    deal_id = _new_deal(sandbox, stage="closedwon")["id"]
    invoice = deal_ingest(connection=conn, record=_record(conn, sandbox, deal_id)).invoice
    sandbox.move_deal_stage(deal_id, "closedlost")
    deal_ingest(connection=conn, record=_record(conn, sandbox, deal_id))
    assert reconcile_lost_deals.apply().get() == 0  # not signed yet: nothing to do
    _freeze(invoice)
    assert reconcile_lost_deals.apply().get() == 1
    assert Deal.objects.get(external_id=deal_id).credit_note.original_invoice_id == invoice.pk
    assert reconcile_lost_deals.apply().get() == 0
