"""Budgets per token (or session user) and per organization, 429 + Retry-After."""
import pytest
from django.urls import reverse
from rest_framework.test import APIRequestFactory

from taxpoynt.api.throttling import CallerRateThrottle, OrganizationRateThrottle
from taxpoynt.apitokens.services import token_create


@pytest.fixture
def rates(settings):
    def set_rates(caller, organization):
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                                   "DEFAULT_THROTTLE_RATES": {"caller": caller, "organization": organization}}
    return set_rates


def get(api_client, plaintext):
    return api_client.get(reverse("api-organization-list"), HTTP_AUTHORIZATION=f"Token {plaintext}")


def assert_throttled(resp):
    assert resp.status_code == 429
    body = resp.json()
    assert body["code"] == "throttled" and set(body) == {"code", "message", "errors"}
    assert 1 <= int(resp["Retry-After"]) <= 60
    return body


@pytest.mark.django_db
def test_each_token_has_its_own_budget(api_client, make_user, make_org, rates):
    rates("3/min", "100/min")
    user = make_user()
    make_org(owner=user)
    first, second = token_create(user=user, name="a"), token_create(user=user, name="b")
    assert [get(api_client, first.plaintext).status_code for _ in range(3)] == [200, 200, 200]
    assert_throttled(get(api_client, first.plaintext))
    assert get(api_client, second.plaintext).status_code == 200


@pytest.mark.django_db
def test_tokens_of_one_organization_share_its_budget(api_client, make_user, make_org, rates):
    rates("100/min", "4/min")
    alice, bob, carol = make_user(), make_user(), make_user()
    org = make_org(owner=alice)
    org.memberships.create(user=bob)
    make_org(owner=carol)
    a, b = token_create(user=alice, name="a"), token_create(user=bob, name="b", organization=org)
    c = token_create(user=carol, name="c")
    assert get(api_client, a.plaintext).status_code == 200
    assert get(api_client, a.plaintext).status_code == 200
    assert get(api_client, b.plaintext).status_code == 200
    assert get(api_client, b.plaintext).status_code == 200
    assert_throttled(get(api_client, b.plaintext))
    assert_throttled(get(api_client, a.plaintext))
    assert get(api_client, c.plaintext).status_code == 200  # another organization is unaffected


@pytest.mark.django_db
def test_session_users_are_throttled_per_user(client, make_user, make_org, rates):
    rates("2/min", "100/min")
    user = make_user()
    make_org(owner=user)
    client.force_login(user)
    url = reverse("api-organization-list")
    assert [client.get(url).status_code for _ in range(2)] == [200, 200]
    assert_throttled(client.get(url))


@pytest.mark.django_db
def test_paths_outside_api_are_never_counted(make_user, rates):
    rates("1/min", "1/min")
    request = APIRequestFactory().post("/webhooks/pos/square")
    for throttle in (CallerRateThrottle(), OrganizationRateThrottle()):
        assert all(throttle.allow_request(request, None) for _ in range(5))


@pytest.mark.django_db
def test_non_redis_cache_counts_the_same(make_user, rates):
    """The SQLite demo runs on the local-memory cache: same budget, same refusal."""
    from django.core.cache.backends.locmem import LocMemCache

    rates("2/min", "100/min")
    request = APIRequestFactory().get("/api/v1/organizations")
    request.user, request.auth = make_user(), None
    throttle = CallerRateThrottle()
    throttle.cache = LocMemCache("throttle-test", {})
    assert [throttle.allow_request(request, None) for _ in range(3)] == [True, True, False]
    assert 1 <= throttle.wait() <= 60
