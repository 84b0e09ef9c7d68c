"""Real-browser fixtures: Debian's Chromium driven by Playwright against
pytest-django's live server (a real socket, real PostgreSQL)."""
import os
import pathlib

import pytest

from tests.e2e import PASSWORD  # noqa: F401 (the suite signs in with it)

# Playwright's sync API runs an event loop in this thread; the Django ORM calls
# the tests make between page actions are synchronous and safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "screenshots"
AXE = pathlib.Path(__file__).with_name("vendor") / "axe.min.js"


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: `apt-get install -y chromium` (.ci/run does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.fixture
def screenshot(tmp_path):
    """Every test takes its screenshots; they land in docs/screenshots/ only when
    SAVE_SCREENSHOTS=1 (`make screenshots`), so a test run leaves the tree clean."""
    target = SCREENSHOTS if os.environ.get("SAVE_SCREENSHOTS") == "1" else tmp_path
    target.mkdir(parents=True, exist_ok=True)

    def take(page, name):
        page.screenshot(path=str(target / f"{name}.png"), full_page=True)
    return take


@pytest.fixture
def axe():
    """Runs axe-core in the page; returns violations of the WCAG 2 A/AA rules."""
    def run(page):
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("""async () => {
            const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                          nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
        }""")
        return result
    return run


@pytest.fixture
def login(live_server):
    def do(page, email, password):
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign In").click()
        page.wait_for_url(f"{live_server.url}/dashboard/")
    return do


# The vendor and FIRS sandboxes (real sockets) for the connect/sell/support tests.
from tests.integrations.crm.hubspot.fixtures import hubspot_sandbox, sandbox  # noqa: E402,F401
from tests.integrations.pos.square.fixtures import sq, square_sandbox  # noqa: E402,F401
from tests.invoicing.firs.plugin import (  # noqa: E402,F401
    firs_business, firs_sandbox, firs_sandbox_server, firs_test_keys)


@pytest.fixture
def public_url(live_server, settings):
    """The live server is the public base URL the vendors redirect to and post
    webhooks at (the browser's cookies belong to this host)."""
    settings.PUBLIC_BASE_URL = live_server.url
    return live_server.url


@pytest.fixture(autouse=True)
def _fresh_login_rate_limits():
    """allauth counts failed sign-ins per address in the cache (Redis), which
    outlives a run: a few runs of the wrong-password checks within five
    minutes would otherwise lock the test users out."""
    from django.core.cache import cache

    if hasattr(cache, "delete_pattern"):
        cache.delete_pattern("allauth:rl:*")
