import pytest
from django.urls import reverse

from taxpoynt.apitokens.models import ApiToken
from taxpoynt.apitokens.services import token_create


@pytest.mark.django_db
def test_dashboard_creates_a_token_and_shows_it_once(client, make_user, make_org):
    user = make_user()
    org = make_org(owner=user)
    client.force_login(user)
    resp = client.post(reverse("apitokens:list"), {"name": "ERP job", "organization": str(org.pk)})
    assert resp.status_code == 201
    assert "no-store" in resp["Cache-Control"]
    token = ApiToken.objects.get(user=user)
    plaintext = resp.context["plaintext"]
    assert plaintext.startswith(token.prefix + ".") and plaintext.encode() in resp.content
    assert token.organization == org
    # The list shows the prefix, never the secret again.
    page = client.get(reverse("apitokens:list"))
    assert token.prefix.encode() in page.content
    assert plaintext.split(".")[1].encode() not in page.content
    # And the token works.
    api = client.__class__()
    assert api.get(reverse("api-organization-list"), HTTP_AUTHORIZATION=f"Token {plaintext}").status_code == 200


@pytest.mark.django_db
def test_dashboard_rejects_another_users_organization(client, make_user, make_org):
    user = make_user()
    foreign = make_org(owner=make_user())
    client.force_login(user)
    resp = client.post(reverse("apitokens:list"), {"name": "x", "organization": str(foreign.pk)})
    assert resp.status_code == 200 and not ApiToken.objects.exists()


@pytest.mark.django_db
def test_dashboard_revokes_own_token_only(client, make_user):
    user, other = make_user(), make_user()
    mine = token_create(user=user, name="mine")
    theirs = token_create(user=other, name="theirs")
    client.force_login(user)
    assert client.post(reverse("apitokens:revoke", args=[theirs.token.pk])).status_code == 404
    assert ApiToken.objects.get(pk=theirs.token.pk).revoked_at is None
    assert theirs.token.prefix.encode() not in client.get(reverse("apitokens:list")).content
    resp = client.post(reverse("apitokens:revoke", args=[mine.token.pk]))
    assert resp.status_code == 302
    assert ApiToken.objects.get(pk=mine.token.pk).revoked_at is not None
    api = client.__class__()
    resp = api.get(reverse("api-organization-list"), HTTP_AUTHORIZATION=f"Token {mine.plaintext}")
    assert resp.status_code == 401 and resp.json()["code"] == "token_revoked"


@pytest.mark.django_db
def test_dashboard_requires_login(client):
    assert client.get(reverse("apitokens:list")).status_code == 302


@pytest.mark.django_db
def test_main_navigation_links_to_the_api_tokens_page(client, make_user, make_org):
    user = make_user()
    make_org(owner=user)
    client.force_login(user)
    page = client.get(reverse("dashboard:overview")).content.decode()
    nav = page[page.index('<nav aria-label="Main">'):page.index("</nav>")]
    assert f'href="{reverse("apitokens:list")}"' in nav and ">API tokens<" in nav
