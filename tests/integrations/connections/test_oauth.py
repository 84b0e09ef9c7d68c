"""The generic connect flow (integrations/connections/oauth.py), played against
the HubSpot sandbox as a merchant's browser would: one vendor account has one
live connection, whichever organization holds it."""
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from django.test import Client

from integrations.connections.models import Connection
from integrations.connections.oauth import AccountConnectedElsewhere, connection_authorize, connection_credentials
from integrations.connections.registry import TokenSet
from integrations.connections.services import connection_disconnect
from taxpoynt.api.errors import exception_handler
from tests.concurrency import race


def _authorize_url(browser, org, next_url: str = "") -> str:
    response = browser.post("/api/v1/crm/hubspot/connect", {"organization": str(org.pk), "next": next_url},
                            content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()["authorize_url"]


def _at_vendor(authorize_url: str, decision: str = "grant") -> str:
    """The merchant's choice on the sandbox's consent page: the callback URL it redirects to (path + query)."""
    form = {k: v[0] for k, v in parse_qs(urlparse(authorize_url).query).items()}
    response = httpx.post(authorize_url.split("?")[0], data={**form, "decision": decision})
    assert response.status_code == 302
    callback = urlparse(response.headers["location"])
    return f"{callback.path}?{callback.query}"


def _dance(browser, org):
    """Connect `org` to the sandbox's portal through the whole OAuth dance: the callback's answer."""
    return browser.get(_at_vendor(_authorize_url(browser, org)))


def _browser(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


@pytest.fixture
def other_org(make_org, make_user):
    owner = make_user()
    org = make_org(owner=owner, name="Bukka Hut Ltd")
    org.owner = owner
    return org


@pytest.mark.django_db
def test_an_account_live_in_another_organization_is_refused_in_the_page(hubspot_org, other_org, sandbox):
    assert _dance(_browser(hubspot_org.owner), hubspot_org).status_code == 302
    first = Connection.objects.get(organization=hubspot_org)
    tokens = connection_credentials(first)

    browser = _browser(other_org.owner)
    response = _dance(browser, other_org)
    assert (response.status_code, response["Location"]) == (302, "/dashboard/connections/")
    page = browser.get(response["Location"]).content.decode()
    assert (f"This HubSpot account ({sandbox.portal_id}) is already connected to another organization on TaxPoynt."
            in page)
    assert hubspot_org.name not in page  # the other tenant stays unnamed
    assert not Connection.objects.filter(organization=other_org).exists()
    first.refresh_from_db()
    assert first.status == Connection.Status.CONNECTED and connection_credentials(first) == tokens


@pytest.mark.django_db
def test_reauthorizing_in_the_same_organization_keeps_one_connection(hubspot_org, other_org, sandbox):
    browser = _browser(hubspot_org.owner)
    first = _dance(browser, hubspot_org)
    before = Connection.objects.get(organization=hubspot_org)
    again = _dance(browser, hubspot_org)
    after = Connection.objects.get(organization=hubspot_org)
    assert first["Location"] == again["Location"] == f"/dashboard/connections/{before.pk}"
    assert after.pk == before.pk and after.status == Connection.Status.CONNECTED
    assert connection_credentials(after)["access_token"] != connection_credentials(before)["access_token"]

    # Once disconnected there, the account may be connected elsewhere.
    connection_disconnect(connection=after)
    assert _dance(_browser(other_org.owner), other_org).status_code == 302
    assert Connection.objects.get(organization=other_org).status == Connection.Status.CONNECTED


@pytest.mark.django_db(transaction=True)
def test_two_organizations_racing_for_one_account_get_one_connection(hubspot_org, other_org):
    account = {"external_account_id": "62515", "display_name": "portal"}

    def authorize(org):
        try:
            return connection_authorize(organization=org, provider_key="hubspot", account=account,
                                        token=TokenSet(access_token=f"at-{org.pk}", refresh_token="rt"))
        except AccountConnectedElsewhere as exc:
            return exc

    orgs = iter([hubspot_org, other_org])
    results = race(2, lambda: authorize(next(orgs)))
    refused = [r for r in results if isinstance(r, AccountConnectedElsewhere)]
    assert len(refused) == 1 and Connection.objects.filter(external_account_id="62515").count() == 1
    # An API path that meets it answers 409 with the reason.
    response = exception_handler(refused[0], {})
    assert response.status_code == 409
    assert response.data["code"] == "account_connected_elsewhere" and "another organization" in response.data["message"]


@pytest.mark.django_db
@pytest.mark.parametrize("next_url", ["https://evil.example/login", "//evil.example/login", "javascript:alert(1)"])
def test_the_connect_apis_next_never_leaves_the_site(hubspot_org, sandbox, next_url):
    browser = _browser(hubspot_org.owner)
    response = browser.get(_at_vendor(_authorize_url(browser, hubspot_org, next_url)))
    conn = Connection.objects.get(organization=hubspot_org)
    assert (response.status_code, response["Location"]) == (302, f"/dashboard/connections/{conn.pk}")


@pytest.mark.django_db
def test_the_connect_apis_next_within_the_site_is_followed(hubspot_org, sandbox):
    browser = _browser(hubspot_org.owner)
    response = browser.get(_at_vendor(_authorize_url(browser, hubspot_org, "/dashboard/invoices/?status=draft")))
    assert (response.status_code, response["Location"]) == (302, "/dashboard/invoices/?status=draft")


def _on_connections_page(browser, response) -> str:
    """The callback sent the merchant to the connections page: its text (with the message)."""
    assert (response.status_code, response["Location"]) == (302, "/dashboard/connections/")
    return browser.get(response["Location"]).content.decode()


@pytest.mark.django_db
def test_cancelling_at_the_vendor_says_so_on_the_connections_page(hubspot_org, sandbox):
    browser = _browser(hubspot_org.owner)
    response = browser.get(_at_vendor(_authorize_url(browser, hubspot_org), decision="deny"))
    assert "You cancelled at HubSpot: nothing was connected." in _on_connections_page(browser, response)
    assert not Connection.objects.exists()


@pytest.mark.django_db
def test_a_callback_with_an_unknown_state_says_so_on_the_connections_page(hubspot_org, sandbox):
    browser = _browser(hubspot_org.owner)
    _authorize_url(browser, hubspot_org)  # a dance of this browser's, but not the one answered below
    response = browser.get("/api/v1/crm/hubspot/callback", {"code": "any", "state": "forged-or-expired"})
    assert ("HubSpot was not connected: this authorization was not started here or has expired"
            in _on_connections_page(browser, response))
    assert not Connection.objects.exists()


@pytest.mark.django_db
def test_a_refused_token_exchange_says_so_on_the_connections_page(hubspot_org, sandbox):
    browser = _browser(hubspot_org.owner)
    callback = urlparse(_at_vendor(_authorize_url(browser, hubspot_org)))
    state = parse_qs(callback.query)["state"][0]
    response = browser.get(callback.path, {"code": "a-code-hubspot-never-issued", "state": state})
    assert ("HubSpot did not complete the authorization: nothing was connected."
            in _on_connections_page(browser, response))
    assert not Connection.objects.exists()


@pytest.mark.django_db
def test_a_member_no_longer_allowed_to_connect_is_told_why(hubspot_org, sandbox):
    from taxpoynt.tenancy.models import Membership

    browser = _browser(hubspot_org.owner)
    callback = _at_vendor(_authorize_url(browser, hubspot_org))
    Membership.objects.filter(user=hubspot_org.owner).update(role=Membership.Role.VIEWER)
    response = browser.get(callback)
    assert ("HubSpot was not connected: Only an owner or accountant may connect systems."
            in _on_connections_page(browser, response))
    assert not Connection.objects.exists()


@pytest.mark.django_db
def test_an_ordinary_login_cancelled_keeps_allauths_page(client, sandbox):
    """Not a connection dance (no connection in its state): allauth's own handling stands."""
    start = client.post("/accounts/hubspot/login/")
    assert start.status_code == 302
    response = client.get(_at_vendor(start["Location"], decision="deny"))
    assert (response.status_code, response["Location"]) == (302, "/accounts/3rdparty/login/cancelled/")


@pytest.mark.django_db
def test_a_grant_without_a_refresh_token_is_used_until_it_expires(hubspot_org, sandbox):
    """The token service knows no vendor: inside the provider's refresh margin
    a connection with a refresh token refreshes; one without is used as it is
    until it expires, then needs re-authorising (nothing can refresh it)."""
    import datetime

    from django.utils import timezone

    from integrations.connections.oauth import connection_get_access_token
    from tests.integrations.crm.hubspot.fixtures import connect
    from tests.tokens import expire_without_refresh

    refreshable = connect(hubspot_org, sandbox)
    soon = timezone.now() + datetime.timedelta(seconds=120)  # inside HubSpot's 300 s margin
    Connection.objects.filter(pk=refreshable.pk).update(token_expires_at=soon)
    refreshable.refresh_from_db()
    before = connection_credentials(refreshable)["access_token"]
    assert connection_get_access_token(connection=refreshable) != before

    account = {"external_account_id": "62516", "display_name": "portal"}
    alone = connection_authorize(organization=hubspot_org, provider_key="hubspot", account=account,
                                 token=TokenSet(access_token="at-alone", expires_in=120))
    assert connection_get_access_token(connection=alone) == "at-alone"
    alone.refresh_from_db()
    assert alone.status == Connection.Status.CONNECTED

    expire_without_refresh(alone)
