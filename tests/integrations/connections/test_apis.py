"""The connect APIs (integrations/connections/apis.py VendorConnectApi, behind
/api/v1/crm/<vendor>/connect and /api/v1/pos/<vendor>/connect) for API-token
callers: the OAuth state lives in the caller's session, so only a browser
session can finish the dance; a token is told so, in the answer and the schema."""
import pytest

from integrations.connections.apis import SESSION_REQUIRED
from taxpoynt.apitokens.services import token_create

pytestmark = pytest.mark.django_db

CONNECT_PATHS = ["/api/v1/crm/hubspot/connect", "/api/v1/pos/square/connect"]


@pytest.mark.parametrize("path", CONNECT_PATHS)
def test_a_token_caller_is_told_connecting_needs_a_browser_session(api_client, hubspot_org, path):
    issued = token_create(user=hubspot_org.owner, name="integration", organization=hubspot_org)
    response = api_client.post(path, {"organization": str(hubspot_org.pk)}, format="json",
                               HTTP_AUTHORIZATION=f"Token {issued.plaintext}")
    assert response.status_code == 400
    assert response.json() == {"code": "session_required", "message": SESSION_REQUIRED, "errors": {}}


@pytest.mark.parametrize("path", CONNECT_PATHS)
def test_a_session_caller_gets_the_authorize_url(client, hubspot_org, path):
    client.force_login(hubspot_org.owner)
    response = client.post(path, {"organization": str(hubspot_org.pk)}, content_type="application/json")
    assert response.status_code == 200 and response.json()["authorize_url"]


def test_the_schema_says_connect_is_for_browser_sessions(client):
    paths = client.get("/api/schema/", {"format": "json"}).json()["paths"]
    for path in CONNECT_PATHS:
        kind = path.split("/")[3]
        operation = paths[f"/api/v1/{kind}/{{vendor}}/connect"]["post"]
        assert "**Browser session only.**" in operation["description"]
        examples = operation["responses"]["400"]["content"]["application/json"]["examples"]
        assert any(e["value"]["code"] == "session_required" for e in examples.values())
