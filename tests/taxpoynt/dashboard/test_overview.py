import pytest
from django.urls import reverse

from tests import factories


@pytest.mark.django_db
def test_login_with_email_and_password_reaches_the_overview(client, make_user, make_org):
    user = make_user(email="owner@demofoods.ng", password="s3cret-pass-word")
    make_org(name="Demo Foods Ltd", owner=user)
    resp = client.post(reverse("account_login"), {"login": "owner@demofoods.ng", "password": "s3cret-pass-word"})
    assert resp.status_code == 302
    page = client.get(reverse("dashboard:overview"))
    assert page.status_code == 200
    assert b"Demo Foods Ltd" in page.content
    assert b"No systems connected yet" in page.content


@pytest.mark.django_db
def test_wrong_password_shows_a_message(client, make_user):
    make_user(email="owner@demofoods.ng", password="s3cret-pass-word")
    resp = client.post(reverse("account_login"), {"login": "owner@demofoods.ng", "password": "nope"})
    assert resp.status_code == 200
    assert b"not correct" in resp.content


def test_anonymous_is_sent_to_login(client):
    resp = client.get(reverse("dashboard:overview"))
    assert resp.status_code == 302 and "/accounts/login/" in resp["Location"]


@pytest.mark.django_db
def test_user_without_organization_gets_a_clear_403(client, make_user):
    client.force_login(make_user())
    resp = client.get(reverse("dashboard:overview"))
    assert resp.status_code == 403
    assert b"not a member of any organization" in resp.content


@pytest.mark.django_db
def test_overview_lists_connections_and_switcher(client, make_user, make_org):
    user = make_user()
    org1, org2 = make_org(name="First Co", owner=user), make_org(name="Second Co", owner=user)
    factories.connection(org2, vendor="square", kind="pos", display_name="Ikeja store")
    client.force_login(user)
    resp = client.post(reverse("dashboard:switch-organization"), {"organization_id": str(org2.pk)}, follow=True)
    assert b"Now showing Second Co" in resp.content
    assert b"Ikeja store" in resp.content
    assert b'name="csrfmiddlewaretoken"' in resp.content


@pytest.mark.django_db
def test_api_bad_filter_is_a_400_with_reason(client, make_user, make_org):
    user = make_user()
    make_org(owner=user)
    client.force_login(user)
    resp = client.get("/api/v1/invoices", {"firs_status": "teleported"})
    assert resp.status_code == 400
    body = resp.json()
    assert body["code"] == "invalid" and "firs_status" in body["errors"]
    assert client.get("/api/v1/organizations/not-a-uuid").status_code == 404
