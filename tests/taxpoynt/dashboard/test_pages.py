"""Dashboard lists, detail and analytics: content, filters with errors, tenancy."""
import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from integrations.pos.models import Location, Transaction
from tests import factories


@pytest.fixture
def merchant(client, make_user, make_org):
    user = make_user()
    org = make_org(name="Shop Co", owner=user)
    client.force_login(user)
    return user, org


@pytest.mark.django_db
def test_transactions_page_and_live_feed(client, merchant):
    user, org = merchant
    conn = factories.connection(org, vendor="square", kind="pos")
    loc = Location.objects.create(organization=org, connection=conn, external_id="L1", name="Lekki")
    inv = factories.invoice(org, conn)
    Transaction.objects.create(organization=org, connection=conn, location=loc, external_id="SALE-42",
                               status="completed", total_amount="1075.00", invoice=inv,
                               occurred_at=datetime.datetime(2026, 11, 2, 9, tzinfo=ZoneInfo("Africa/Lagos")))
    page = client.get(reverse("dashboard:transactions"))
    assert page.status_code == 200 and b"SALE-42" in page.content and b"Lekki" in page.content
    live = client.get(reverse("dashboard:transactions-live")).json()["results"]
    assert live[0]["external_id"] == "SALE-42" and live[0]["firs_state"] == "draft"
    assert live[0]["invoice_url"] == f"/dashboard/invoices/{inv.pk}"


@pytest.mark.django_db
def test_filter_errors_are_shown_in_the_page(client, merchant):
    resp = client.get(reverse("dashboard:transactions"), {"date_from": "2026-11-05", "date_to": "2026-11-01"})
    assert resp.status_code == 200
    assert b"The end date must not be before the start date." in resp.content
    resp = client.get(reverse("dashboard:invoices"), {"firs_status": "lost-in-space"})
    assert b"Select a valid choice" in resp.content


@pytest.mark.django_db
def test_invoice_detail_shows_lines_history_and_other_tenants_get_404(client, merchant, make_org):
    user, org = merchant
    inv = factories.invoice(org, customer_name="Acme Nigeria Ltd")
    resp = client.get(reverse("dashboard:invoice-detail", args=[inv.pk]))
    assert resp.status_code == 200
    for text in (b"Acme Nigeria Ltd", b"Widget", b"107.50", b"validate"):
        assert text in resp.content
    other = factories.invoice(make_org(), customer_name="Secret Buyer")
    resp = client.get(reverse("dashboard:invoice-detail", args=[other.pk]))
    assert resp.status_code == 404 and b"Secret Buyer" not in resp.content


@pytest.mark.django_db
def test_invoices_list_search(client, merchant):
    user, org = merchant
    factories.invoice(org, customer_name="Dangote Foods")
    factories.invoice(org, customer_name="Zenith Retail")
    resp = client.get(reverse("dashboard:invoices"), {"q": "Zenith"})
    assert b"Zenith Retail" in resp.content and b"Dangote Foods" not in resp.content


@pytest.mark.django_db
def test_analytics_page_embeds_chart_data_and_local_chart_library(client, merchant):
    user, org = merchant
    conn = factories.connection(org, vendor="square", kind="pos")
    Transaction.objects.create(organization=org, connection=conn, external_id="S1", status="completed",
                               total_amount="50.00",
                               occurred_at=datetime.datetime(2026, 11, 2, 12, tzinfo=ZoneInfo("Africa/Lagos")))
    resp = client.get(reverse("dashboard:analytics"))
    assert resp.status_code == 200
    assert b'id="chart-data"' in resp.content and b"2026-11-02" in resp.content
    assert b"/static/vendor/chartjs/chart.umd.min.js" in resp.content
    assert b"http://" not in resp.content.replace(b"http://testserver", b"") and b"cdn" not in resp.content.lower()
    assert b"Busiest hour: Mon 12:00" in resp.content


@pytest.mark.django_db
def test_analytics_by_period_and_store(client, merchant):
    """The POS charts follow the page's period and store; a period that ends
    before it starts is refused in the page."""
    from integrations.pos.models import Location

    user, org = merchant
    conn = factories.connection(org, vendor="square", kind="pos")
    ikeja, lekki = (Location.objects.create(organization=org, connection=conn, external_id=f"L{n}", name=name)
                    for n, name in ((1, "Ikeja"), (2, "Lekki")))
    lagos = ZoneInfo("Africa/Lagos")
    for ref, store, day in (("S1", ikeja, 2), ("S2", lekki, 3), ("S3", ikeja, 9)):
        Transaction.objects.create(organization=org, connection=conn, location=store, external_id=ref,
                                   status="completed", total_amount="10.00",
                                   occurred_at=datetime.datetime(2026, 11, day, 12, tzinfo=lagos))

    def days(**query):
        resp = client.get(reverse("dashboard:analytics"), query)
        assert resp.status_code == 200
        return resp.context["chart_data"]["volume"]["labels"]

    assert days() == ["2026-11-02", "2026-11-03", "2026-11-09"]
    assert days(date_from="2026-11-03", date_to="2026-11-09") == ["2026-11-03", "2026-11-09"]
    assert days(location=str(ikeja.pk)) == ["2026-11-02", "2026-11-09"]
    assert days(location=str(lekki.pk), date_to="2026-11-02") == []
    refused = client.get(reverse("dashboard:analytics"), {"date_from": "2026-11-09", "date_to": "2026-11-02"})
    assert b"The end date must not be before the start date." in refused.content
    assert refused.context["chart_data"]["volume"]["labels"] == ["2026-11-02", "2026-11-03", "2026-11-09"]


@pytest.mark.django_db
def test_overview_lists_what_needs_attention_and_retries_in_one_click(client, merchant):
    from invoicing.models import Submission

    user, org = merchant
    inv = factories.invoice(org, customer_name="Dead Letter Ltd")
    sub = inv.submissions.get()
    Submission.objects.filter(pk=sub.pk).update(state="dead", error="FIRS unavailable after 12 attempts")
    page = client.get(reverse("dashboard:overview"))
    assert b"Needs attention" in page.content and b"FIRS unavailable after 12 attempts" in page.content
    resp = client.post(reverse("dashboard:invoice-retry", args=[inv.pk]), {"next": reverse("dashboard:overview")},
                       follow=True)
    assert b"is being sent to FIRS again" in resp.content
    sub.refresh_from_db()
    assert sub.state != "dead"
    from taxpoynt.audit.models import AuditLog
    assert AuditLog.objects.filter(source="dashboard", object_id=str(sub.pk)).exists()


@pytest.mark.django_db
def test_retry_refused_for_content_rejection_and_for_viewers(client, make_user, make_org):
    from invoicing.models import Submission
    from taxpoynt.tenancy.models import Membership

    owner = make_user()
    org = make_org(owner=owner)
    inv = factories.invoice(org)
    Submission.objects.filter(invoice=inv).update(state="rejected", error_source="local")
    client.force_login(owner)
    resp = client.post(reverse("dashboard:invoice-retry", args=[inv.pk]), follow=True)
    assert b"Not retried" in resp.content and b"rejected by its content" in resp.content
    viewer = make_user()
    Membership.objects.create(user=viewer, organization=org, role="viewer")
    client.force_login(viewer)
    resp = client.post(reverse("dashboard:invoice-retry", args=[inv.pk]), follow=True)
    assert b"Only an owner or accountant" in resp.content


@pytest.mark.django_db
def test_credit_note_needs_an_issued_invoice_and_a_reason(client, merchant):
    user, org = merchant
    draft = factories.invoice(org)
    key = "a" * 32
    resp = client.post(reverse("dashboard:invoice-credit-note", args=[draft.pk]),
                       {"reason": "goods returned", "request_key": key}, follow=True)
    assert b"Not credited" in resp.content and b"IRN" in resp.content
    resp = client.post(reverse("dashboard:invoice-credit-note", args=[draft.pk]), {"reason": "", "request_key": key},
                       follow=True)
    assert b"Not credited" in resp.content
    page = client.get(reverse("dashboard:invoice-detail", args=[draft.pk]))
    assert b"Issue a full credit note" not in page.content  # only issued invoices can be credited
