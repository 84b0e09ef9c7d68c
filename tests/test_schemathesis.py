"""Schemathesis against the live OpenAPI schema, in-process over WSGI.

Every operation in /api/schema/ gets a bounded, derandomized batch of
generated requests (MAX_EXAMPLES, reproducible run to run), sent with the API
token of a user whose organization has one row of every tenant model. Each
case is sent as generated and again with the path ids replaced by that user's
real objects, so the 200 bodies are checked too. No answer may be a 5xx or
contradict the schema (status code, content type, headers, body).
"""
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from taxpoynt.apitokens.services import token_create
from taxpoynt.wsgi import application
from tests import factories
from tests.test_tenant_isolation import KWARG_OBJECTS

MAX_EXAMPLES = 20
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]



@pytest.fixture
def in_process_wsgi():
    """Keep the test's transaction open across in-process requests, as Django's
    test client does: the real WSGI handler would otherwise close the connection
    (close_old_connections sees the open atomic block) after every request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(db, in_process_wsgi):
    # Loaded inside the test: Django answers /api/schema/ only once the test database is open.
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def world(make_user, make_org, settings):
    # Hundreds of calls from one token in a few seconds: lift the budgets for this test only.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"caller": None, "organization": None}}
    user = make_user()
    org = make_org(owner=user)
    objects = factories.tenant_world(org)
    factories.tenant_world(make_org(owner=make_user()))  # a second tenant the token must never see
    issued = token_create(user=user, name="schemathesis")
    return {"headers": {"Authorization": f"Token {issued.plaintext}"}, "objects": objects}


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case, world):
    case.call_and_validate(headers=world["headers"], checks=CHECKS)
    known = {name: str(world["objects"][KWARG_OBJECTS[name]].pk)
             for name in (case.path_parameters or {}) if name in KWARG_OBJECTS}
    if known:
        case.path_parameters = {**case.path_parameters, **known}
        case.call_and_validate(headers=world["headers"], checks=CHECKS)
