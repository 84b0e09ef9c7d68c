import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from taxpoynt.apitokens.models import ApiToken
from taxpoynt.apitokens.services import token_create, token_revoke


def auth(plaintext, keyword="Token"):
    return {"HTTP_AUTHORIZATION": f"{keyword} {plaintext}"}


@pytest.fixture
def owner_with_token(make_user, make_org):
    user = make_user()
    org = make_org(owner=user)
    return user, org, token_create(user=user, name="integration")


@pytest.mark.django_db
@pytest.mark.parametrize("keyword", ["Token", "Bearer", "bearer"])
def test_token_authenticates(api_client, owner_with_token, keyword):
    user, org, issued = owner_with_token
    resp = api_client.get(reverse("api-organization-list"), **auth(issued.plaintext, keyword))
    assert resp.status_code == 200
    assert [row["id"] for row in resp.json()["results"]] == [str(org.pk)]


@pytest.mark.django_db
def test_revoked_token_answers_401_in_the_error_shape(api_client, owner_with_token):
    user, org, issued = owner_with_token
    token_revoke(token=issued.token, actor=user)
    resp = api_client.get(reverse("api-organization-list"), **auth(issued.plaintext))
    assert resp.status_code == 401
    assert resp.json() == {"code": "token_revoked", "message": "This token has been revoked.", "errors": {}}
    assert resp["WWW-Authenticate"] == "Token"


@pytest.mark.django_db
@pytest.mark.parametrize("header", [
    "Token", "Token a b", "Token nodot", "Token tpk_000000000000.wrong-secret", "Token .secret",
])
def test_bad_tokens_answer_401(api_client, owner_with_token, header):
    user, org, issued = owner_with_token
    if header.endswith("wrong-secret"):
        header = f"Token {issued.token.prefix}.wrong-secret"
    resp = api_client.get(reverse("api-organization-list"), HTTP_AUTHORIZATION=header)
    assert resp.status_code == 401
    body = resp.json()
    assert set(body) == {"code", "message", "errors"} and body["code"] == "authentication_failed"


@pytest.mark.django_db
def test_no_credentials_answers_401_not_authenticated(api_client):
    resp = api_client.get(reverse("api-organization-list"))
    assert resp.status_code == 401
    assert resp.json()["code"] == "not_authenticated"


@pytest.mark.django_db
def test_inactive_user_is_refused(api_client, owner_with_token):
    user, org, issued = owner_with_token
    user.is_active = False
    user.save()
    assert api_client.get(reverse("api-organization-list"), **auth(issued.plaintext)).status_code == 401


@pytest.mark.django_db
def test_organization_limited_token_sees_only_that_organization(api_client, make_user, make_org):
    user = make_user()
    org_a, org_b = make_org(owner=user), make_org(owner=user)
    issued = token_create(user=user, name="only A", organization=org_a)
    rows = api_client.get(reverse("api-organization-list"), **auth(issued.plaintext)).json()["results"]
    assert [r["id"] for r in rows] == [str(org_a.pk)]
    resp = api_client.get(reverse("api-organization-detail", kwargs={"organization_id": org_b.pk}),
                          **auth(issued.plaintext))
    assert resp.status_code == 404


@pytest.mark.django_db
def test_organization_limited_token_loses_access_when_membership_ends(api_client, make_user, make_org):
    user = make_user()
    org = make_org(owner=user)
    issued = token_create(user=user, name="only A", organization=org)
    user.memberships.all().delete()
    rows = api_client.get(reverse("api-organization-list"), **auth(issued.plaintext)).json()["results"]
    assert rows == []


@pytest.mark.django_db
def test_last_used_at_is_written_at_most_once_a_minute(api_client, owner_with_token):
    user, org, issued = owner_with_token
    url = reverse("api-organization-list")
    api_client.get(url, **auth(issued.plaintext))
    first = ApiToken.objects.get(pk=issued.token.pk).last_used_at
    assert first is not None
    api_client.get(url, **auth(issued.plaintext))
    assert ApiToken.objects.get(pk=issued.token.pk).last_used_at == first
    old = timezone.now() - datetime.timedelta(minutes=2)
    ApiToken.objects.filter(pk=issued.token.pk).update(last_used_at=old)
    api_client.get(url, **auth(issued.plaintext))
    assert ApiToken.objects.get(pk=issued.token.pk).last_used_at > old


@pytest.mark.django_db
def test_session_auth_still_works_for_the_browser(client, owner_with_token):
    user, org, issued = owner_with_token
    client.force_login(user)
    assert client.get(reverse("api-organization-list")).status_code == 200
