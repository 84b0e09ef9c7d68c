"""Shared fixtures. Everything runs on the real PostgreSQL and Redis that
`make test` starts; nothing here mocks the database."""
import itertools

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from taxpoynt.tenancy.models import Membership
from taxpoynt.tenancy.services import organization_create

pytest_plugins = ["tests.e2e"]  # shared end-to-end fixtures (firs_merchant, celery_worker)

_seq = itertools.count(1)


@pytest.fixture(autouse=True)
def no_wake_left_over():
    """A provider's wake counter and last arrival live in the shared Redis
    (integrations/connections/wakes.py): a wake a test published but never
    ran would hold back the next test's arrivals, and its last arrival would
    make the next test's first wake linger."""
    from integrations.connections import registry, wakes

    store = wakes._store()
    for provider in registry.providers():
        for key in (wakes._KEY.format(provider.key), wakes._LAST_KEY.format(provider.key)):
            store.forget(key)


@pytest.fixture
def make_user(db):
    def make(email=None, password="pw-for-tests-123", **extra):
        n = next(_seq)
        email = email or f"user{n}@example.ng"
        return get_user_model().objects.create_user(username=f"user{n}", email=email, password=password, **extra)
    return make


@pytest.fixture
def make_org(db):
    def make(name=None, owner=None, role=Membership.Role.OWNER, **fields):
        n = next(_seq)
        org = organization_create(name=name or f"Org {n}", tin=fields.pop("tin", f"1000{n:04d}-0001"), **fields)
        if owner is not None:
            Membership.objects.create(user=owner, organization=org, role=role)
        return org
    return make


@pytest.fixture
def api_client():
    return APIClient()
