"""The merchant's pages in a real browser: login, overview, lists, analytics,
keyboard use, and an axe-core accessibility pass on each page."""
import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from integrations.pos.models import Location, Transaction
from tests import factories

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def merchant(make_user, make_org):
    user = make_user(email="owner@demofoods.ng", password="browser-pass-123")
    org = make_org(name="Demo Foods Ltd", owner=user, firs_service_id="F3A3A0CF")
    pos = factories.connection(org, vendor="square", kind="pos", display_name="Main POS")
    loc = Location.objects.create(organization=org, connection=pos, external_id="L1", name="Lekki store")
    for i in range(6):
        inv = factories.invoice(org, pos, customer_name=f"Walk-in {i}")
        Transaction.objects.create(organization=org, connection=pos, location=loc, external_id=f"SALE-{i}",
                                   status="completed", total_amount="107.50", invoice=inv,
                                   occurred_at=datetime.datetime(2026, 11, 2, 9 + i, tzinfo=ZoneInfo("Africa/Lagos")))
    return user, org


def test_login_keyboard_only(page, live_server, merchant):
    page.goto(f"{live_server.url}/accounts/login/")
    page.keyboard.press("Tab")  # skip to the first field by keyboard alone
    focused = page.evaluate("document.activeElement.name")
    for _ in range(10):
        if focused == "login":
            break
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.name")
    assert focused == "login"
    page.keyboard.type("owner@demofoods.ng")
    page.keyboard.press("Tab")
    page.keyboard.type("browser-pass-123")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/dashboard/")
    expect(page.get_by_role("heading", name="Demo Foods Ltd")).to_be_visible()


def test_wrong_password_message(page, live_server, merchant):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill("owner@demofoods.ng")
    page.get_by_label("Password").fill("not-it")
    page.get_by_role("button", name="Sign In").click()
    page.get_by_text("not correct").wait_for()


def test_main_pages_render_pass_axe_and_are_captured(page, live_server, merchant, login, screenshot, axe):
    page.goto(f"{live_server.url}/accounts/login/")
    screenshot(page, "login")
    assert axe(page) == []
    login(page, "owner@demofoods.ng", "browser-pass-123")
    pages = {
        "overview": ("/dashboard/", "Demo Foods Ltd"),
        "transactions": ("/dashboard/transactions", "POS transactions"),
        "invoices": ("/dashboard/invoices", "Invoices"),
        "analytics": ("/dashboard/analytics", "Analytics"),
    }
    for name, (path, heading) in pages.items():
        page.goto(live_server.url + path)
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        if name == "analytics":
            page.wait_for_function("() => window.Chart && Object.keys(Chart.instances).length >= 2")
        screenshot(page, name)
        assert axe(page) == [], name


def test_transactions_update_live(page, live_server, merchant, login):
    user, org = merchant
    login(page, "owner@demofoods.ng", "browser-pass-123")
    page.goto(f"{live_server.url}/dashboard/transactions")
    conn = org.connections.get(vendor="square")
    Transaction.objects.create(organization=org, connection=conn, external_id="SALE-LIVE", status="completed",
                               total_amount="99.00", occurred_at=datetime.datetime(2026, 11, 3, 8, tzinfo=ZoneInfo("Africa/Lagos")))
    page.get_by_role("cell", name="SALE-LIVE").wait_for(timeout=10000)


def test_invoice_detail_from_the_list(page, live_server, merchant, login, axe):
    login(page, "owner@demofoods.ng", "browser-pass-123")
    page.goto(f"{live_server.url}/dashboard/invoices")
    page.get_by_role("link", name="(draft)").first.click()
    expect(page.get_by_role("heading", name="FIRS history")).to_be_visible()
    # docs/screenshots/invoice_detail.png comes from the Square test: a real IRN and QR.
    assert axe(page) == []
