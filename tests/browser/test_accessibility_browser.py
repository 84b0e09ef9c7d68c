"""Keyboard use and error announcement on the forms (what axe cannot see):
the connection settings form is reachable field by field with Tab in reading
order, each focused control shows a visible focus ring, it submits with Enter,
and a field in error is marked invalid and points at its message; the
organization switcher works from the keyboard and does not switch on a mere
arrow key."""
import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser.conftest import PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FOCUS = """() => { const e = document.activeElement, s = getComputedStyle(e);
  return {id: e.id, tag: e.tagName, text: (e.innerText || '').trim(), outline: s.outlineStyle,
          width: parseFloat(s.outlineWidth), color: s.outlineColor}; }"""


@pytest.fixture
def owner(make_user, make_org):
    user = make_user(email="owner@demofoods.ng", password=PASSWORD)
    org = make_org(name="Demo Foods Ltd", owner=user)
    second = make_org(name="Demo Foods Abuja Ltd", owner=user)
    conn = factories.connection(org, vendor="hubspot", kind="crm", display_name="Demo portal",
                                trigger_rule={"won_stages": ["closedwon"], "lost_stages": ["closedlost"]})
    return user, org, second, conn


def _tab_to(page, element_id, limit=80):
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == element_id:
            return
    raise AssertionError(f"#{element_id} is not reachable with Tab")


def test_connection_form_by_keyboard(page, live_server, owner, login, axe):
    user, org, second, conn = owner
    login(page, "owner@demofoods.ng", PASSWORD)
    page.goto(f"{live_server.url}/dashboard/connections/{conn.pk}")

    _tab_to(page, "won_stages")
    order = []
    for _ in range(40):
        focus = page.evaluate(FOCUS)
        assert focus["outline"] != "none" and focus["width"] >= 2, focus  # a visible focus ring
        order.append(focus["id"] or focus["text"])
        if focus["text"] == "Save settings":
            break
        page.keyboard.press("Tab")
    mapping = [f"map-{i}" for i in range(1, len(order) - 5)]
    assert order == ["won_stages", "lost_stages", "tax_category", "tax_rate", "exemption_reason", *mapping,
                     "Save settings"]
    assert len(mapping) >= 10

    # A bad rate typed and submitted from the keyboard alone.
    page.focus("#tax_rate")
    page.keyboard.press("Control+A")
    page.keyboard.type("abc")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    field = page.locator("#tax_rate")
    assert field.get_attribute("aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == "tax_rate"  # focus lands on the field in error
    described = page.locator("#" + field.get_attribute("aria-describedby"))
    assert described.inner_text() == "A percentage between 0 and 100."
    expect(page.get_by_role("alert").first).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="The settings are invalid.")).to_be_visible()
    assert axe(page) == []


def test_organization_switcher_by_keyboard(page, live_server, owner, login, axe):
    user, org, second, conn = owner
    login(page, "owner@demofoods.ng", PASSWORD)
    current = page.get_by_role("heading", level=1).inner_text()
    other = second.name if current == org.name else org.name

    page.focus("#org-switch")
    assert page.evaluate(FOCUS)["color"] == "rgb(255, 255, 255)"  # white ring on the green bar
    page.keyboard.press("ArrowDown" if other == second.name else "ArrowUp")
    page.wait_for_timeout(300)
    assert page.get_by_role("heading", level=1).inner_text() == current  # no switch on an arrow key
    page.select_option("#org-switch", label=other)
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUS)["text"] == "Switch"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("heading", level=1).inner_text() == other
    assert axe(page) == []


def test_error_states_and_remaining_pages_pass_axe(page, live_server, owner, login, axe):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill("owner@demofoods.ng")
    page.get_by_label("Password").fill("not-it")
    page.get_by_role("button", name="Sign In").click()
    page.get_by_text("not correct").wait_for()
    assert axe(page) == [], "sign-in error"

    login(page, "owner@demofoods.ng", PASSWORD)
    checks = {
        "invoice filter error": "/dashboard/invoices?date_from=not-a-date",
        "API tokens": "/dashboard/api-tokens/",
        "connections": "/dashboard/connections/",
        "deals": "/dashboard/connections/deals",
        "not found": "/dashboard/invoices/00000000-0000-0000-0000-000000000000",
        "analytics": "/dashboard/analytics",
    }
    checks["overview"] = "/dashboard/"
    checks["connection"] = f"/dashboard/connections/{owner[3].pk}"
    for name, path in checks.items():
        page.goto(live_server.url + path)
        assert axe(page) == [], name
        # CSRF on every form that posts.
        posts = page.locator("form[method=post], form[method=POST]")
        assert posts.count() >= 1, name  # at least "Sign out"
        assert page.locator("form[method=post]:not(:has(input[name=csrfmiddlewaretoken]))").count() == 0, name
    page.goto(live_server.url + checks["invoice filter error"])
    field = page.get_by_label("From")
    assert field.get_attribute("aria-invalid") == "true"
    message = page.locator("#" + field.get_attribute("aria-describedby"))
    expect(message).to_be_visible()
    assert message.inner_text().strip()


def test_every_chart_has_its_numbers_as_a_table(page, live_server, owner, login):
    login(page, "owner@demofoods.ng", PASSWORD)
    page.goto(f"{live_server.url}/dashboard/analytics")
    charts = page.locator("canvas[role=img]")
    assert charts.count() >= 4
    for chart_id in charts.evaluate_all("cs => cs.map(c => c.id)"):
        assert page.locator(f"#{chart_id}").get_attribute("aria-label")
        section = page.locator(f"section.chart-block:has(#{chart_id})")
        section.locator("summary").focus()
        page.keyboard.press("Enter")  # <details> opens from the keyboard
        expect(section.locator("details table")).to_be_visible()
