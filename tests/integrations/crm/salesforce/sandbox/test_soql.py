"""The sandbox's SOQL subset, through /query over a real socket."""
import httpx
import pytest

from integrations.crm.salesforce.sandbox import soql


@pytest.fixture
def query(salesforce, seeded, token):
    sandbox = salesforce.app.sandbox
    sandbox.store.batch_size = 200
    sandbox.seed(
        accounts=[{"Name": "Zenith Retail Plc", "BillingCountry": "Nigeria", "TIN__c": "23456789-0001"}],
        opportunities=[
            {"Name": "Licences won", "account": 0, "StageName": "Closed Won", "CloseDate": "2026-04-30",
             "CurrencyIsoCode": "USD", "line_items": [{"product": "LIC-001", "Quantity": "5", "UnitPrice": "1000.00"}]},
            {"Name": "Lost pilot", "account": 0, "StageName": "Closed Lost", "CloseDate": "2026-03-01"},
            {"Name": "No account", "StageName": "Prospecting", "CloseDate": "2026-06-15", "Amount": "99.50"},
        ],
    )

    http = httpx.Client()  # one client: building an SSL context per call is slow

    def run(text, *, expect=200, all_rows=False):
        response = http.get(f"{salesforce.url}/services/data/v58.0/{'queryAll' if all_rows else 'query'}",
                             params={"q": text}, headers={"Authorization": f"Bearer {token['access_token']}"})
        assert response.status_code == expect, response.text
        assert response.headers["Sforce-Limit-Info"].startswith("api-usage=")
        return response.json()

    yield run
    http.close()


def names(result):
    return [r["Name"] for r in result["records"]]


def test_relationship_fields_and_child_subquery(query):
    result = query("SELECT Id, Name, Account.Name, Account.TIN__c, (SELECT Quantity, UnitPrice, Discount, TotalPrice, "
                   "PricebookEntry.Product2.Name, Product2.ProductCode FROM OpportunityLineItems ORDER BY UnitPrice) "
                   "FROM Opportunity WHERE Name = 'ERP rollout'")
    assert result["totalSize"] == 1 and result["done"] is True
    record = result["records"][0]
    assert record["attributes"]["type"] == "Opportunity"
    assert record["attributes"]["url"].endswith(record["Id"])
    assert record["Account"]["Name"] == "Dangote Industries Ltd" and record["Account"]["TIN__c"] == "12345678-0001"
    assert record["Account"]["attributes"]["type"] == "Account"
    lines = record["OpportunityLineItems"]
    assert (lines["totalSize"], lines["done"]) == (2, True)
    first = lines["records"][0]
    assert first["PricebookEntry"]["Product2"]["Name"] == "Consulting day"
    assert first["Product2"]["ProductCode"] == "CONS-DAY"
    assert (first["Quantity"], first["UnitPrice"], first["Discount"], first["TotalPrice"]) == (10, 250000, 10, 2250000)


def test_child_subquery_is_null_without_children_and_parent_null_without_account(query):
    record = query("SELECT Name, Account.Name, (SELECT Id FROM OpportunityLineItems) FROM Opportunity "
                   "WHERE Name = 'No account'")["records"][0]
    assert record["OpportunityLineItems"] is None and record["Account"] is None


def test_where_boolean_logic_in_like_and_null(query):
    assert names(query("SELECT Name FROM Opportunity WHERE IsWon = true OR (IsClosed = false AND AccountId = null) "
                       "ORDER BY Name")) == ["Licences won", "No account"]
    assert names(query("SELECT Name FROM Opportunity WHERE StageName IN ('Closed Won', 'Closed Lost') ORDER BY Name")) == [
        "Licences won", "Lost pilot"]
    assert names(query("SELECT Name FROM Opportunity WHERE StageName NOT IN ('Closed Won', 'Closed Lost') "
                       "ORDER BY Name")) == ["ERP rollout", "No account"]
    assert names(query("SELECT Name FROM Opportunity WHERE name like 'l%' ORDER BY Name")) == ["Licences won", "Lost pilot"]
    assert names(query("SELECT Name FROM Opportunity WHERE AccountId = null")) == ["No account"]
    assert names(query("SELECT Name FROM Opportunity WHERE Amount != null AND NOT (Amount > 100) ORDER BY Name")) == [
        "No account"]
    assert names(query("SELECT Name FROM Opportunity WHERE Account.TIN__c = '23456789-0001' ORDER BY Name")) == [
        "Licences won", "Lost pilot"]


def test_date_datetime_literals_order_and_limit(query):
    assert names(query("SELECT Name FROM Opportunity WHERE CloseDate >= 2026-04-30 ORDER BY CloseDate DESC")) == [
        "No account", "ERP rollout", "Licences won"]
    assert len(query("SELECT Id FROM Opportunity WHERE SystemModstamp > 2020-01-01T00:00:00Z")["records"]) == 4
    assert len(query("SELECT Id FROM Opportunity WHERE LastModifiedDate > 2020-01-01T00:00:00+0000")["records"]) == 4
    assert query("SELECT Id FROM Opportunity WHERE SystemModstamp > 2999-01-01T00:00:00.000+01:00")["records"] == []
    assert names(query("SELECT Name FROM Opportunity ORDER BY IsWon DESC, Name ASC LIMIT 3")) == [
        "Licences won", "ERP rollout", "Lost pilot"]
    # nulls first ascending (Salesforce's default), last when asked
    assert names(query("SELECT Name FROM Opportunity ORDER BY AccountId LIMIT 1")) == ["No account"]
    assert names(query("SELECT Name FROM Opportunity ORDER BY AccountId NULLS LAST, Name"))[-1] == "No account"


def test_query_all_includes_deleted(salesforce, query):
    opp = next(r for r in salesforce.app.sandbox.store.records_of("Opportunity") if r["Name"] == "Lost pilot")
    salesforce.app.sandbox.store.delete("Opportunity", opp["Id"])
    assert "Lost pilot" not in names(query("SELECT Name FROM Opportunity"))
    assert "Lost pilot" in names(query("SELECT Name FROM Opportunity", all_rows=True))


@pytest.mark.parametrize("text, code", [
    ("SELECT FROM Opportunity", "MALFORMED_QUERY"),
    ("SELECT Id FROM Opportunity WHERE", "MALFORMED_QUERY"),
    ("SELECT Id FROM Opportunity WHERE Name = 'unterminated", "MALFORMED_QUERY"),
    ("SELECT Id FROM Opportunity WHERE CloseDate > '2024-01-01'", "MALFORMED_QUERY"),
    ("SELECT Id FROM Opportunity WHERE Name = 5", "MALFORMED_QUERY"),
    ("SELECT Id, Nope__c FROM Opportunity", "INVALID_FIELD"),
    ("SELECT Id FROM Opportunity ORDER BY Nope", "INVALID_FIELD"),
    ("SELECT Account.Nope FROM Opportunity", "INVALID_FIELD"),
    ("SELECT Nope.Name FROM Opportunity", "INVALID_FIELD"),
    ("SELECT Id, (SELECT Nope FROM OpportunityLineItems) FROM Opportunity", "INVALID_FIELD"),
    ("SELECT Id, (SELECT Id FROM Nope) FROM Opportunity", "INVALID_TYPE"),
    ("SELECT Id FROM Nope", "INVALID_TYPE"),
])
def test_bad_queries_get_salesforce_error_codes(query, text, code):
    body = query(text, expect=400)
    assert body[0]["errorCode"] == code and body[0]["message"]


def test_parser_reads_the_delta_query_shape():
    parsed = soql.parse("select Id, (select Id from OpportunityLineItems) from Opportunity where IsWon = TRUE and "
                        "SystemModstamp > 2024-05-01T00:00:00Z order by SystemModstamp, Id limit 5")
    assert parsed.sobject == "Opportunity" and parsed.limit == 5
    assert [item.path.text for item in parsed.order_by] == ["SystemModstamp", "Id"]
    assert isinstance(parsed.fields[1], soql.Query) and parsed.fields[1].sobject == "OpportunityLineItems"
    assert parsed.where.op == "and" and parsed.where.operands[1].value.kind == "datetime"
