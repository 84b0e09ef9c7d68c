"""Invoice API: detail with FIRS status, downloads with their content types,
retry, credit note, submission history; tenant scoping and roles."""
import datetime
import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from invoicing.models import Invoice, Submission
from taxpoynt.audit.models import AuditLog
from taxpoynt.tenancy.models import Membership
from tests.invoicing.test_services import create, firs, firs_org, make_canonical, process  # noqa: F401

S = Submission.State


@pytest.fixture
def owner(make_user, firs_org):  # noqa: F811
    user = make_user()
    Membership.objects.create(user=user, organization=firs_org, role=Membership.Role.OWNER)
    return user


@pytest.fixture
def client_for(api_client):
    def login(user):
        api_client.force_authenticate(user)
        return api_client
    return login


@pytest.fixture
def confirmed(firs, firs_org, make_canonical):  # noqa: F811
    sub = process(create(firs_org, make_canonical()))
    assert sub.state == S.CONFIRMED, sub.error
    return Invoice.objects.get(pk=sub.invoice_id)


def url(name, invoice):
    return reverse(name, kwargs={"invoice_id": invoice.pk})


@pytest.mark.django_db
def test_detail_has_firs_status_irn_errors_and_links(client_for, owner, confirmed):
    data = client_for(owner).get(url("api-invoice-detail", confirmed)).json()
    assert data["firs_status"] == "confirmed" and data["irn"] == confirmed.irn and data["errors"] == []
    assert data["links"]["qr"] == f"/api/v1/invoices/{confirmed.pk}/qr.png"
    assert data["links"]["pdf"].endswith(".pdf") and data["can_retry"] is False
    assert data["payable_amount"] == str(confirmed.payable_amount)


@pytest.mark.django_db
def test_detail_of_locally_rejected_invoice_lists_every_rule(client_for, owner, firs_org, make_canonical):  # noqa: F811
    import dataclasses

    canonical = make_canonical()
    inv = create(firs_org, dataclasses.replace(canonical, currency="XXX"))
    data = client_for(owner).get(url("api-invoice-detail", inv)).json()
    assert data["firs_status"] == "rejected" and data["firs_error"].startswith("Rejected locally")
    assert data["errors"] and {"rule", "message", "path"} <= set(data["errors"][0])
    assert "qr" not in data["links"]


@pytest.mark.django_db
@pytest.mark.parametrize("name, content_type, magic", [
    ("api-invoice-xml", "application/xml", b"<?xml"),
    ("api-invoice-json", "application/json", b"{"),
    ("api-invoice-pdf", "application/pdf", b"%PDF"),
    ("api-invoice-qr", "image/png", b"\x89PNG"),
])
def test_downloads_have_their_content_types(client_for, owner, confirmed, name, content_type, magic):
    resp = client_for(owner).get(url(name, confirmed), HTTP_ACCEPT=content_type)
    assert resp.status_code == 200
    assert resp["Content-Type"] == content_type
    assert resp.content.startswith(magic)
    if content_type == "application/pdf":
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(resp.content)).pages)
        assert confirmed.irn in text.replace("\n", "")


@pytest.mark.django_db
def test_download_of_draft_is_409(client_for, owner, firs_org, make_canonical):  # noqa: F811
    inv = create(firs_org, make_canonical())
    resp = client_for(owner).get(url("api-invoice-pdf", inv))
    assert resp.status_code == 409 and resp.json()["code"] == "not_ready"


@pytest.mark.django_db
def test_other_tenants_invoice_is_404_on_every_route(client_for, make_user, make_org, confirmed):
    stranger = make_user()
    make_org(owner=stranger)
    api = client_for(stranger)
    for name in ("api-invoice-detail", "api-invoice-xml", "api-invoice-json", "api-invoice-pdf", "api-invoice-qr",
                 "api-invoice-submissions"):
        assert api.get(url(name, confirmed)).status_code == 404, name
    for name in ("api-invoice-retry", "api-invoice-credit-note"):
        resp = api.post(url(name, confirmed), {"reason": "x"}, format="json")
        assert resp.status_code == 404 and resp.json()["code"] == "not_found", name


@pytest.mark.django_db
def test_submission_history(client_for, owner, confirmed):
    data = client_for(owner).get(url("api-invoice-submissions", confirmed)).json()["results"]
    assert len(data) == 1 and data[0]["state"] == "confirmed" and data[0]["irn"] == confirmed.irn
    assert [a["step"] for a in data[0]["attempts"]] == ["validate", "sign", "transmit", "confirm"]
    assert data[0]["attempts"][1]["response_status"] == 201


@pytest.mark.django_db
def test_retry_refused_with_clear_400_when_not_retryable(client_for, owner, confirmed):
    resp = client_for(owner).post(url("api-invoice-retry", confirmed))
    assert resp.status_code == 400
    assert resp.json()["code"] == "not_retryable" and "cannot be retried" in resp.json()["message"]


@pytest.mark.django_db
def test_retry_of_dead_submission(client_for, owner, firs, firs_org, make_canonical, settings):  # noqa: F811
    settings.FIRS_SUBMISSION_MAX_ATTEMPTS = 1
    firs.app.sandbox.set_fault("validate", "500", times=1)
    sub = process(create(firs_org, make_canonical()))
    assert sub.state == S.DEAD
    resp = client_for(owner).post(url("api-invoice-retry", sub.invoice))
    assert resp.status_code == 202 and resp.json()["firs_status"] == "draft"
    assert AuditLog.objects.filter(action="retry", object_id=str(sub.pk), source="api", actor=owner).exists()
    assert process(sub).state == S.CONFIRMED


@pytest.mark.django_db
def test_viewer_cannot_retry_or_credit(client_for, make_user, firs_org, confirmed):  # noqa: F811
    viewer = make_user()
    Membership.objects.create(user=viewer, organization=firs_org, role=Membership.Role.VIEWER)
    api = client_for(viewer)
    assert api.get(url("api-invoice-detail", confirmed)).status_code == 200
    assert api.post(url("api-invoice-retry", confirmed)).status_code == 403
    assert api.post(url("api-invoice-credit-note", confirmed), {"reason": "x"}, format="json").status_code == 403


@pytest.mark.django_db
def test_credit_note_endpoint(client_for, owner, confirmed):
    api = client_for(owner)
    resp = api.post(url("api-invoice-credit-note", confirmed), {"reason": "Goods returned",
                                                                "lines": [{"position": 1, "quantity": "1"}]},
                    format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert resp.status_code == 201, resp.json()
    data = resp.json()
    assert data["kind"] == "credit_note" and data["original_invoice_id"] == str(confirmed.pk)
    assert data["credit_reason"] == "Goods returned" and data["firs_status"] == "draft"
    assert len(data["lines"]) == 1
    again = api.post(url("api-invoice-credit-note", confirmed), {"reason": "Goods returned",
                                                                 "lines": [{"position": 1, "quantity": "1"}]},
                     format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.json()["id"] == data["id"]
    bad = api.post(url("api-invoice-credit-note", confirmed), {"lines": []}, format="json")
    assert bad.status_code == 400 and "reason" in bad.json()["errors"]


@pytest.mark.django_db
def test_credit_note_of_draft_is_400(client_for, owner, firs_org, make_canonical):  # noqa: F811
    inv = create(firs_org, make_canonical())
    resp = client_for(owner).post(url("api-invoice-credit-note", inv), {"reason": "x"}, format="json")
    assert resp.status_code == 400 and "IRN" in resp.json()["message"]


@pytest.mark.django_db
def test_list_filters_by_firs_status(client_for, owner, confirmed):
    api = client_for(owner)
    rows = api.get(reverse("api-invoice-list"), {"firs_status": "confirmed"}).json()["results"]
    assert [r["id"] for r in rows] == [str(confirmed.pk)]
    assert api.get(reverse("api-invoice-list"), {"firs_status": "dead"}).json()["results"] == []


@pytest.mark.django_db
def test_issue_date_list_pages_through_same_day_invoices_once_each(api_client, make_user, make_org):
    """Ordered by issue date, invoices of one day share the cursor position:
    following `next` must still give every invoice exactly once, in order."""
    from tests import factories

    user = make_user()
    org = make_org(owner=user)
    days = [datetime.date(2026, 3, 2)] * 5 + [datetime.date(2026, 3, 9)] * 4 + [datetime.date(2026, 2, 27)]
    invoices = [factories.invoice(org, issue_date=day) for day in days]
    expected = [i.pk for i in sorted(invoices, key=lambda i: (i.issue_date, i.created_at), reverse=True)
                if i.issue_date >= datetime.date(2026, 3, 1)]
    api_client.force_authenticate(user)
    seen, next_url = [], reverse("api-invoice-list") + "?issue_date_from=2026-03-01&page_size=2"
    while next_url:
        page = api_client.get(next_url).json()
        seen += [row["id"] for row in page["results"]]
        next_url = page["next"]
    assert seen == [str(pk) for pk in expected]


@pytest.mark.django_db
def test_list_rows_carry_the_firs_status(client_for, owner, confirmed):
    rows = client_for(owner).get(reverse("api-invoice-list")).json()["results"]
    assert [(r["id"], r["firs_status"]) for r in rows] == [(str(confirmed.pk), "confirmed")]
