"""A user of org A cannot read org B through any surface: every API route
(generated from the URLconf), the dashboard, and the admin for support staff."""
import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from taxpoynt.tenancy.models import StaffAssignment
from tests import factories

# How to fill each URL kwarg with org B's object; a new route with a new kwarg
# fails `test_every_api_route_is_covered` until it is added here.
KWARG_OBJECTS = {
    "organization_id": "organization",
    "connection_id": "connection",
    "invoice_id": "invoice",
    "deal_id": "deal",
    "transaction_id": "transaction",
    "location_id": "location",
    "customer_id": "customer",
    "submission_id": "submission",
    "webhook_event_id": "webhook_event",
}


def api_routes():
    """(name, kwarg names) of every route under /api/v1/."""
    routes = []

    def walk(patterns, prefix):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                routes.append((prefix + str(p.pattern), p.name, list(p.pattern.converters)))

    walk(get_resolver().url_patterns, "")
    return [(name, kwargs) for path, name, kwargs in routes if path.startswith("api/v1/") and name]


@pytest.fixture
def two_tenants(make_user, make_org):
    alice, bob = make_user(), make_user()
    org_a, org_b = make_org(owner=alice), make_org(owner=bob)
    return {"alice": alice, "a": factories.tenant_world(org_a), "b": factories.tenant_world(org_b)}


def test_every_api_route_is_covered():
    for name, kwargs in api_routes():
        missing = [k for k in kwargs if k not in KWARG_OBJECTS]
        assert not missing, f"route {name} has kwargs {missing} with no tenant-isolation mapping"


@pytest.mark.django_db
def test_api_detail_routes_hide_other_tenants_objects(api_client, two_tenants):
    api_client.force_authenticate(two_tenants["alice"])
    detail_routes = [(n, k) for n, k in api_routes() if k]
    assert detail_routes, "expected detail routes to exist"
    for name, kwargs in detail_routes:
        theirs = {k: two_tenants["b"][KWARG_OBJECTS[k]].pk for k in kwargs}
        ours = {k: two_tenants["a"][KWARG_OBJECTS[k]].pk for k in kwargs}
        resp = api_client.get(reverse(name, kwargs=theirs))
        assert resp.status_code == 404, f"{name}: {resp.status_code} for another tenant's object"
        assert resp.json()["code"] == "not_found"
        if name.endswith("-detail"):
            assert api_client.get(reverse(name, kwargs=ours)).status_code == 200, name


@pytest.mark.django_db
def test_api_lists_never_include_other_tenants_rows(api_client, two_tenants):
    api_client.force_authenticate(two_tenants["alice"])
    b_ids = {str(obj.pk) for obj in two_tenants["b"].values() if hasattr(obj, "pk")}
    # Analytics answer aggregates, not rows: tests/integrations/*/test_apis.py checks them per tenant.
    list_routes = [n for n, k in api_routes() if not k and "analytics" not in n]
    assert list_routes
    for name in list_routes:
        resp = api_client.get(reverse(name))
        assert resp.status_code == 200, name
        rows = resp.json()["results"]
        assert rows, f"{name} should list org A's rows"
        assert not {str(r["id"]) for r in rows} & b_ids, name
        # Asking for the other org explicitly gives nothing either.
        scoped = api_client.get(reverse(name), {"organization": str(two_tenants["b"]["organization"].pk)})
        if scoped.status_code == 200:
            assert not {str(r["id"]) for r in scoped.json()["results"]} & b_ids, name


@pytest.mark.django_db
def test_dashboard_cannot_switch_into_another_org(client, two_tenants):
    client.force_login(two_tenants["alice"])
    org_b = two_tenants["b"]["organization"]
    resp = client.post(reverse("dashboard:switch-organization"), {"organization_id": str(org_b.pk)}, follow=True)
    assert b"not a member of that organization" in resp.content
    assert org_b.name.encode() not in resp.content
    assert two_tenants["a"]["organization"].name.encode() in resp.content


@pytest.mark.django_db
def test_admin_staff_see_only_assigned_organizations(client, make_user, two_tenants):
    agent = make_user(is_staff=True)
    agent.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    StaffAssignment.objects.create(user=agent, organization=two_tenants["a"]["organization"])
    client.force_login(agent)
    checked = 0
    for model, model_admin in admin.site._registry.items():
        if getattr(model_admin, "org_field", None) is None:
            continue
        theirs = [o for o in two_tenants["b"].values() if isinstance(o, model)]
        ours = [o for o in two_tenants["a"].values() if isinstance(o, model)]
        if not theirs:
            continue
        info = model._meta.app_label, model._meta.model_name
        changelist = client.get(reverse("admin:%s_%s_changelist" % info))
        assert changelist.status_code == 200, model
        qs_pks = {str(pk) for pk in model_admin.get_queryset(changelist.wsgi_request).values_list("pk", flat=True)}
        assert str(theirs[0].pk) not in qs_pks, model
        assert str(ours[0].pk) in qs_pks, model
        change = client.get(reverse("admin:%s_%s_change" % info, args=[theirs[0].pk]))
        assert change.status_code == 302, f"{model}: staff opened another org's object"
        checked += 1
    assert checked >= 10


@pytest.mark.django_db
def test_admin_dropdowns_offer_staff_only_their_organizations_rows(make_user, two_tenants):
    """Every foreign-key choice of every tenant admin's form (what a support
    agent who may change rows is offered, and what the form accepts) holds
    no row of an organization the agent is not assigned to."""
    from django.forms import ModelChoiceField
    from django.test import RequestFactory

    from taxpoynt.audit.admin import AuditedModelAdmin
    from tests.factories import support_agent

    org_a = two_tenants["a"]["organization"]
    request = RequestFactory().get("/admin/")
    request.user = support_agent(make_user(), org_a, may=("view", "add", "change"))
    theirs = {(type(o), str(o.pk)) for o in two_tenants["b"].values()}
    checked = 0
    for model, model_admin in admin.site._registry.items():
        if not isinstance(model_admin, AuditedModelAdmin) or model_admin.org_field is None:
            continue
        ours = next((o for o in two_tenants["a"].values() if isinstance(o, model)), None)
        for obj in {ours, None}:
            if (obj is None and not model_admin.has_add_permission(request)) or \
                    (obj is not None and not model_admin.has_change_permission(request, obj)):
                continue
            form = model_admin.get_form(request, obj, change=obj is not None)
            for name, field in form.base_fields.items():
                if not isinstance(field, ModelChoiceField):
                    continue
                offered = {(field.queryset.model, str(pk)) for pk in field.queryset.values_list("pk", flat=True)}
                assert not offered & theirs, f"{model._meta.label}.{name} offers another org's rows"
                checked += 1
    assert checked >= 2  # memberships' and staff assignments' organization at least


@pytest.mark.django_db
def test_api_token_limited_to_one_org_sees_nothing_of_the_users_other_orgs(api_client, make_user, make_org):
    """A user in orgs A and C with a token limited to A: through every API route, C is another tenant."""
    from taxpoynt.apitokens.services import token_create

    user = make_user()
    org_a, org_c = make_org(owner=user), make_org(owner=user)
    ours, theirs = factories.tenant_world(org_a), factories.tenant_world(org_c)
    issued = token_create(user=user, name="only A", organization=org_a)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {issued.plaintext}")
    c_ids = {str(obj.pk) for obj in theirs.values() if hasattr(obj, "pk")}
    for name, kwargs in api_routes():
        if any(k not in KWARG_OBJECTS for k in kwargs):
            continue  # not an object id (e.g. a vendor name); test_every_api_route_is_covered flags it
        if kwargs:
            resp = api_client.get(reverse(name, kwargs={k: theirs[KWARG_OBJECTS[k]].pk for k in kwargs}))
            assert resp.status_code in (404, 405), f"{name}: {resp.status_code} for the token's other org"
        else:
            resp = api_client.get(reverse(name))
            assert resp.status_code == 200, name
            assert not c_ids & {str(row.get("id")) for row in resp.json().get("results", [])
                                if isinstance(row, dict)}, name
    assert ours["invoice"].pk  # org A's rows exist, so the checks above were not vacuous
