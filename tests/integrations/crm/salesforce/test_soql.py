"""The delta-sync query builder, run against the sandbox's SOQL."""
import datetime

import pytest

from integrations.crm.salesforce.client import SalesforceClient
from integrations.crm.salesforce.soql import DeltaQueryConfig, datetime_literal, delta_query, string_literal


def test_literals():
    wat = datetime.timezone(datetime.timedelta(hours=1))
    assert datetime_literal(datetime.datetime(2024, 5, 1, 1, 0, tzinfo=wat)) == "2024-05-01T00:00:00Z"
    with pytest.raises(ValueError):
        datetime_literal(datetime.datetime(2024, 5, 1))
    assert string_literal("O'Brien \\ co") == "'O\\'Brien \\\\ co'"


def test_field_names_from_configuration_are_checked():
    with pytest.raises(ValueError):
        delta_query(since=None, config=DeltaQueryConfig(tin_field="TIN__c FROM User --"))


def test_delta_query_selects_won_opportunities_after_the_cursor(salesforce, seeded, token):
    sandbox = salesforce.app.sandbox
    api = SalesforceClient(token["instance_url"], token["access_token"])
    query = delta_query(since=datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc))
    assert "IsWon = true AND SystemModstamp > 2020-01-01T00:00:00Z ORDER BY SystemModstamp, Id" in query
    assert list(api.query_records(query)) == []  # nothing won yet
    opp_id = seeded["opportunities"][0]["Id"]
    sandbox.update_opportunity(opp_id, StageName="Closed Won")
    [record] = list(api.query_records(query))
    assert record["Id"] == opp_id and record["Account"]["TIN__c"] == "12345678-0001"
    assert record["CurrencyIsoCode"] == "NGN"
    assert [line["PricebookEntry"]["Product2"]["ProductCode"] for line in record["OpportunityLineItems"]["records"]] == [
        "CONS-DAY", "LIC-001"]
    stamp = datetime.datetime.strptime(record["SystemModstamp"], "%Y-%m-%dT%H:%M:%S.000%z")
    assert list(api.query_records(delta_query(since=stamp))) == []
    # keyset continuation: same second, larger Id only
    assert list(api.query_records(delta_query(since=stamp, after_id=opp_id))) == []
    assert [r["Id"] for r in api.query_records(delta_query(since=stamp, after_id="000"))] == [opp_id]


def test_configured_stages_and_fields(salesforce, seeded, token):
    api = SalesforceClient(token["instance_url"], token["access_token"])
    config = DeltaQueryConfig(won_stages=("Negotiation/Review",), extra_opportunity_fields=("TaxPoynt_IRN__c",),
                              extra_account_fields=("Phone",), multi_currency=False)
    query = delta_query(since=None, config=config, limit=10)
    assert "StageName IN ('Negotiation/Review')" in query and "CurrencyIsoCode" not in query
    [record] = list(api.query_records(query))
    assert record["TaxPoynt_IRN__c"] is None and record["Account"]["Phone"] == "+2348010000001"


def test_query_by_ids_for_outbound_notifications(salesforce, seeded, token):
    sandbox = salesforce.app.sandbox
    api = SalesforceClient(token["instance_url"], token["access_token"])
    won = sandbox.seed(opportunities=[{"Name": f"Won {n}", "StageName": "Closed Won"} for n in range(3)])
    wanted = [won["opportunities"][0]["Id"], won["opportunities"][2]["Id"][:15], seeded["opportunities"][0]["Id"]]
    found = [r["Id"] for r in api.query_records(delta_query(since=None, ids=wanted))]
    assert sorted(found) == sorted([won["opportunities"][0]["Id"], won["opportunities"][2]["Id"]])  # not-won one left out
    with pytest.raises(ValueError):
        delta_query(since=None, ids=["006' OR Name != '"])
