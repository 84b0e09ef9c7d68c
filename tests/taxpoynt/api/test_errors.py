"""Every 4xx/5xx under /api/ answers {code, message, errors}."""
import pytest
from django.urls import reverse
from rest_framework import serializers
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from taxpoynt.errors import ApplicationError


def assert_error_shape(resp, status, code):
    assert resp.status_code == status, resp.content
    assert resp["Content-Type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"code", "message", "errors"}, body
    assert body["code"] == code and body["message"]
    return body


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/nonexistent", "/api/v1/invoices/not-a-uuid", "/api/nope",
                                  "/api/v1/organizations/", "/api/v1/organizations/%0Ax/more"])
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_unknown_api_paths_answer_json_404(api_client, make_user, path, method):
    api_client.force_authenticate(make_user())
    assert_error_shape(getattr(api_client, method)(path), 404, "not_found")


@pytest.mark.django_db
def test_unknown_api_path_is_json_even_anonymous(client):
    assert_error_shape(client.get("/api/v1/nonexistent"), 404, "not_found")


@pytest.mark.django_db
def test_unsupported_method_answers_405(api_client, make_user):
    api_client.force_authenticate(make_user())
    assert_error_shape(api_client.delete(reverse("api-organization-list")), 405, "method_not_allowed")


@pytest.mark.django_db
def test_other_tenants_object_answers_404(api_client, make_user, make_org):
    api_client.force_authenticate(make_user())
    other = make_org(owner=make_user())
    resp = api_client.get(reverse("api-organization-detail", kwargs={"organization_id": other.pk}))
    assert_error_shape(resp, 404, "not_found")


class _Input(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=10, decimal_places=2)


class _Boom(APIView):
    """Raises whatever the test asks for."""

    def post(self, request):
        kind = request.data.get("kind")
        if kind == "invalid":
            _Input(data={"amount": "abc"}).is_valid(raise_exception=True)
        if kind == "domain":
            raise ApplicationError("Invoice is frozen.", code="invoice_frozen", extra={"lines": ["frozen"]})
        raise RuntimeError("bug")


def _call(user, kind):
    request = APIRequestFactory().post("/api/v1/boom", {"kind": kind}, format="json")
    force_authenticate(request, user=user)
    return _Boom.as_view()(request)


@pytest.mark.django_db
def test_unhandled_exception_answers_500_in_the_shape(make_user):
    resp = _call(make_user(), "bug")
    assert resp.status_code == 500
    assert resp.data == {"code": "server_error", "message": "Internal server error.", "errors": {}}


@pytest.mark.django_db
def test_validation_error_lists_field_errors(make_user):
    resp = _call(make_user(), "invalid")
    assert resp.status_code == 400
    assert resp.data["code"] == "invalid" and list(resp.data["errors"]) == ["amount"]


@pytest.mark.django_db
def test_application_error_keeps_its_code_and_extra(make_user):
    resp = _call(make_user(), "domain")
    assert resp.status_code == 400
    assert resp.data == {"code": "invoice_frozen", "message": "Invoice is frozen.", "errors": {"lines": ["frozen"]}}


@pytest.mark.django_db
def test_invalid_cursor_is_a_json_404(api_client, make_user, make_org):
    user = make_user()
    make_org(owner=user)
    api_client.force_authenticate(user)
    assert_error_shape(api_client.get(reverse("api-organization-list"), {"cursor": "garbage"}), 404, "not_found")


@pytest.mark.django_db
def test_missing_trailing_slash_still_redirects_for_pages(client):
    resp = client.get("/api/docs")
    assert resp.status_code == 302 and resp["Location"] == "/api/docs/"
    assert_error_shape(client.post("/api/docs"), 404, "not_found")
