"""Fidelity check: the community client simple-salesforce, pointed at the
sandbox by its instance URL alone (served over HTTPS, as simple-salesforce
only speaks https), queries with paging and updates an Opportunity."""
import threading

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession, SalesforceMalformedRequest
from werkzeug.serving import make_server

from integrations.crm.salesforce.sandbox.app import create_app

from .support import SEED, key_and_cert


@pytest.fixture
def https_sandbox(tmp_path):
    key_pem, cert_pem = key_and_cert("127.0.0.1", san_ip="127.0.0.1")
    (tmp_path / "key.pem").write_bytes(key_pem)
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    app = create_app(batch_size=2, outbound_auto=False)
    server = make_server("127.0.0.1", 0, app, threaded=True,
                         ssl_context=(str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")))
    url = f"https://127.0.0.1:{server.server_port}"
    app.set_base_url(url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    session = requests.Session()
    session.verify = str(tmp_path / "cert.pem")
    session.trust_env = False  # a REQUESTS_CA_BUNDLE in the environment would override verify
    yield app, url, session
    server.shutdown()
    server.server_close()


def test_simple_salesforce_query_all_and_update(https_sandbox):
    app, url, session = https_sandbox
    sandbox = app.sandbox
    seeded = sandbox.seed(**SEED)
    sandbox.seed(opportunities=[{"Name": f"Extra {n}", "StageName": "Closed Won"} for n in range(4)])
    store = sandbox.store
    token = store.issue_tokens(username=store.username, client_id=store.app.consumer_key, scope="api",
                               with_refresh=False)
    sf = Salesforce(instance_url=url, session_id=token["access_token"], session=session, version="60.0")

    result = sf.query_all("SELECT Id, Name, Account.Name, (SELECT Quantity FROM OpportunityLineItems) "
                          "FROM Opportunity ORDER BY Name")
    assert result["totalSize"] == 5 and len(result["records"]) == 5  # three batches of 2 joined
    assert [r["Name"] for r in result["records"]][:2] == ["ERP rollout", "Extra 0"]
    assert result["records"][0]["Account"]["Name"] == "Dangote Industries Ltd"
    assert result["records"][0]["OpportunityLineItems"]["totalSize"] == 2
    assert store.api_usage == 3
    # simple-salesforce parsed our Sforce-Limit-Info header
    assert (sf.api_usage["api-usage"].used, sf.api_usage["api-usage"].total) == (3, 15000)

    opp_id = seeded["opportunities"][0]["Id"]
    assert sf.Opportunity.update(opp_id, {"TaxPoynt_IRN__c": "INV000123-94ND90NR-20260502"}) == 204
    assert sf.Opportunity.get(opp_id)["TaxPoynt_IRN__c"] == "INV000123-94ND90NR-20260502"
    assert store.api_usage == 5

    with pytest.raises(SalesforceMalformedRequest) as malformed:
        sf.query("SELECT Id FROM Opportunity WHERE")
    assert malformed.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    store.expire_access_tokens()
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Opportunity")
