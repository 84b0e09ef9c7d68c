"""The support console (Django admin) in a real browser, as a non-superuser
support agent assigned to one organization: find an invoice's submission by
IRN, retry it, re-sync a connection; each action shows its message and leaves
an AuditLog row; another organization's rows stay out of reach."""
import pytest
from playwright.sync_api import expect
from django.contrib.auth.models import Permission

from invoicing.models import Submission
from taxpoynt.audit.models import AuditLog
from taxpoynt.tenancy.models import StaffAssignment
from tests import factories

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

IRN = "INV00042-F3A3A0CF-20261102"
OTHER_IRN = "INV00043-F3A3A0CF-20261102"


@pytest.fixture
def agent(make_user, make_org):
    org = make_org(name="Demo Foods Ltd", firs_service_id="F3A3A0CF")
    other = make_org(name="Someone Else Ltd", firs_service_id="F3A3A0CF")
    conn = factories.connection(org, vendor="hubspot", kind="crm", display_name="Demo portal")
    inv = factories.invoice(org, conn, number="INV00042", irn=IRN, customer_name="Zenith Foods Ltd")
    Submission.objects.filter(invoice=inv).update(state=Submission.State.DEAD, error="FIRS kept timing out")
    factories.invoice(other, factories.connection(other), number="INV00043", irn=OTHER_IRN)
    user = make_user(email="agent@taxpoynt.ng", password="agent-pass-123", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(
        content_type__app_label__in=["invoicing", "connections"], codename__regex=r"^(view|change)_"))
    StaffAssignment.objects.create(user=user, organization=org)
    return user, org, inv, conn


def _search(page, text):
    page.locator("#searchbar").fill(text)
    with page.expect_navigation():
        page.locator("#searchbar").press("Enter")


def test_support_agent_retries_a_submission_and_resyncs(page, live_server, agent, screenshot, axe):
    user, org, inv, conn = agent
    page.goto(f"{live_server.url}/admin/")
    assert axe(page) == []  # the sign-in page
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill("agent-pass-123")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    screenshot(page, "admin")
    assert axe(page) == []

    # Find the submission by IRN; the other organization's does not come up.
    page.goto(f"{live_server.url}/admin/invoicing/submission/")
    _search(page, IRN)
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1 and "Dead-lettered" in rows.first.inner_text()
    _search(page, OTHER_IRN)
    assert page.locator("#result_list tbody tr").count() == 0
    _search(page, IRN)

    # Retry / resubmit.
    page.locator("#result_list tbody tr").first.locator("input.action-select").check()
    page.locator("select[name=action]").select_option("retry_submissions")
    with page.expect_navigation():
        page.get_by_role("button", name="Go").click()
    expect(page.locator(".messagelist .success").filter(has_text="1 submission(s) queued")).to_be_visible()
    screenshot(page, "admin_submission_retry")
    assert axe(page) == []
    sub = Submission.objects.get(invoice=inv)
    assert sub.state == Submission.State.DRAFT
    assert AuditLog.objects.filter(actor=user, action="retry", source=AuditLog.Source.ADMIN,
                                   object_id=str(sub.pk)).exists()

    # The invoice by IRN, then a re-sync of its connection.
    page.goto(f"{live_server.url}/admin/invoicing/invoice/?q={IRN}")
    assert page.locator("#result_list tbody tr").count() == 1
    page.goto(f"{live_server.url}/admin/connections/connection/")
    _search(page, str(conn.pk))
    page.locator("#result_list tbody tr").first.locator("input.action-select").check()
    page.locator("select[name=action]").select_option("resync")
    with page.expect_navigation():
        page.get_by_role("button", name="Go").click()
    expect(page.locator(".messagelist .success, .messagelist .info").filter(has_text="sync queued")).to_be_visible()
    assert AuditLog.objects.filter(actor=user, action="admin_sync_delta", object_id=str(conn.pk)).exists()
    screenshot(page, "admin_connection_resync")
    assert axe(page) == []
