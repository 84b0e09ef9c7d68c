"""The connector on HubSpot's date-versioned CRM API (provider.CRM_API_VERSION):
every CRM call a sync, a webhook and pipeline discovery make goes to a
/crm/{objects|associations|pipelines}/{YYYY-MM}/ path, never to the semantic
v3/v4 paths HubSpot stops supporting in 2027 (the sandbox still serves those,
so only the recorded URLs tell); and association reads follow each deal's
`paging.next.after`, so a deal with more line items than one page holds is
invoiced whole."""
import json
import re
from decimal import Decimal
from urllib.parse import urlparse

import pytest

from integrations.connections.models import VendorExchange
from integrations.connections.sync import DELTA, HISTORICAL, sync_run
from integrations.crm.hubspot.provider import CRM_API_VERSION, HubSpotProvider
from integrations.crm.hubspot.sync import HubSpotDealSync, client_for, fetch_deal_bundle
from integrations.crm.models import Deal

DATED = re.compile(rf"^/crm/(objects|associations|pipelines)/{re.escape(CRM_API_VERSION)}/")


@pytest.fixture(autouse=True)
def no_index_lag(monkeypatch):
    monkeypatch.setattr(HubSpotDealSync, "index_lag_ms", 0)  # deals made just now are searchable


def _crm_calls() -> list[tuple[str, str, dict]]:
    """(method, path, request JSON) of every recorded HubSpot CRM call, in order."""
    rows = VendorExchange.objects.filter(vendor="hubspot").order_by("id")
    calls = []
    for row in rows:
        path = urlparse(row.url).path
        if path.startswith("/crm/"):
            calls.append((row.method, path, json.loads(row.request_body) if row.request_body else {}))
    return calls


@pytest.mark.django_db
def test_sync_webhook_and_pipeline_reads_call_only_date_versioned_paths(hubspot_connection, sandbox):
    assert re.fullmatch(r"\d{4}-\d{2}", CRM_API_VERSION)
    contact = sandbox.create_contact({"firstname": "Ada", "lastname": "Obi", "email": "ada@example.ng"})
    sandbox.generate_deals(count=3, stage="closedwon", modified_start="2026-01-01T00:00:00Z")
    deal = sandbox.create_deal({"dealname": "With a contact", "amount": "5000", "dealstage": "closedwon"},
                               line_items=[{"name": "Fence", "quantity": "1", "price": "5000"}],
                               contact_ids=[contact["id"]], notify=False)

    assert HubSpotProvider.discover_trigger_rule(connection=hubspot_connection)["won_stages"] == ["closedwon"]
    assert sync_run(connection_id=hubspot_connection.pk, mode=HISTORICAL).records == 4
    with client_for(hubspot_connection) as client:  # what a webhook's processing reads
        bundle = fetch_deal_bundle(client, deal["id"], connection=hubspot_connection)
    assert bundle["contact"]["id"] == contact["id"] and len(bundle["line_items"]) == 1

    calls = _crm_calls()
    paths = [path for _, path, _ in calls]
    assert [p for p in paths if not DATED.match(p)] == []
    assert not [p for p in paths if re.search(r"/v\d+/", p)]
    v = CRM_API_VERSION
    # Each kind of call the connector makes was made, at the pinned version.
    assert {("GET", f"/crm/pipelines/{v}/deals"), ("POST", f"/crm/objects/{v}/deals/search"),
            ("GET", f"/crm/objects/{v}/deals/{deal['id']}"),
            ("POST", f"/crm/objects/{v}/line_items/batch/read"), ("POST", f"/crm/objects/{v}/companies/batch/read"),
            ("POST", f"/crm/objects/{v}/contacts/batch/read"),
            ("POST", f"/crm/associations/{v}/deals/line_items/batch/read"),
            ("POST", f"/crm/associations/{v}/deals/companies/batch/read"),
            ("POST", f"/crm/associations/{v}/deals/contacts/batch/read")} <= {(m, p) for m, p, _ in calls}


@pytest.mark.django_db
def test_a_deal_whose_line_items_span_two_association_pages_is_invoiced_whole(hubspot_connection, sandbox):
    sandbox.set_association_page_size(2)
    items = [{"name": f"Panel {n}", "quantity": "1", "price": f"{n}000"} for n in range(1, 6)]
    other = sandbox.create_deal({"dealname": "Small", "amount": "1000", "dealstage": "closedwon"},
                                line_items=[{"name": "Bolt", "quantity": "1", "price": "1000"}], notify=False)
    deal = sandbox.create_deal({"dealname": "Cold room", "amount": "15000", "deal_currency_code": "NGN",
                                "dealstage": "closedwon"}, line_items=items, notify=False)

    assert sync_run(connection_id=hubspot_connection.pk, mode=DELTA).records == 2

    invoice = Deal.objects.get(external_id=deal["id"]).invoice
    assert sorted(line.description for line in invoice.lines.all()) == [f"Panel {n}" for n in range(1, 6)]
    assert invoice.tax_exclusive_amount == Decimal("15000.00")
    assert Deal.objects.get(external_id=other["id"]).invoice.lines.count() == 1
    # Three pages for the big deal: the first read asked for both deals, the
    # next ones only for it, each with the cursor the previous page gave.
    reads = [body["inputs"] for _, path, body in _crm_calls() if path.endswith("/deals/line_items/batch/read")]
    assert [sorted(i["id"] for i in inputs) for inputs in reads] == [sorted([other["id"], deal["id"]]),
                                                                      [deal["id"]], [deal["id"]]]
    assert "after" not in reads[0][0] and all(i.get("after") for page in reads[1:] for i in page)
