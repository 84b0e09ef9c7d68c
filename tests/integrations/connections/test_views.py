"""Dashboard connection pages: settings editor with errors shown in the page,
sync now, progress endpoint, disconnect with confirmation, deals list."""
import pytest

from integrations.connections.models import Connection


@pytest.fixture
def owner_client(client, hubspot_org):
    client.force_login(hubspot_org.owner)
    return client


@pytest.mark.django_db
def test_settings_errors_are_shown_in_the_page(owner_client, hubspot_connection):
    url = f"/dashboard/connections/{hubspot_connection.pk}"
    response = owner_client.post(url, {"won_stages": "", "lost_stages": "closedlost", "tax_category": "STANDARD_VAT",
                                       "tax_rate": "ten", "map:customer.tin": "tin_number"})
    assert response.status_code == 400
    text = response.content.decode()
    assert "At least one stage must count as won." in text
    assert "A percentage between 0 and 100." in text
    assert "Write it as &lt;object&gt;.&lt;property&gt;" in text
    hubspot_connection.refresh_from_db()
    assert hubspot_connection.trigger_rule["won_stages"] == ["closedwon"]  # unchanged


@pytest.mark.django_db(transaction=True)  # each request commits on its own, as served: no test-wide transaction
def test_settings_are_saved(owner_client, hubspot_connection):
    url = f"/dashboard/connections/{hubspot_connection.pk}"
    response = owner_client.post(url, {"won_stages": "closedwon\nenterprise:9001", "lost_stages": "closedlost",
                                       "tax_category": "STANDARD_VAT", "tax_rate": "7.5",
                                       "map:customer.tin": "company.tin_number"})
    assert response.status_code == 302
    hubspot_connection.refresh_from_db()
    assert hubspot_connection.trigger_rule["won_stages"] == ["closedwon", "enterprise:9001"]
    assert hubspot_connection.field_map == {"customer.tin": "company.tin_number"}


@pytest.mark.django_db
def test_sync_now_and_progress(owner_client, hubspot_connection, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = owner_client.post(f"/dashboard/connections/{hubspot_connection.pk}/sync", {"mode": "historical"})
    assert response.status_code == 302 and len(callbacks) == 1
    Connection.objects.filter(pk=hubspot_connection.pk).update(status="syncing", sync_progress_done=40,
                                                               sync_progress_total=120)
    data = owner_client.get(f"/dashboard/connections/{hubspot_connection.pk}/progress").json()
    assert (data["status"], data["done"], data["total"]) == ("syncing", 40, 120)
    page = owner_client.get(f"/dashboard/connections/{hubspot_connection.pk}")
    assert b'<progress id="sync-progress" max="120" value="40"' in page.content


@pytest.mark.django_db
def test_an_import_of_unknown_size_is_not_drawn_full(owner_client, hubspot_connection):
    """A sync with no known total (Square's search gives no count): the bar
    has no value while it runs (indeterminate), and shows what was done
    once it ends."""
    url = f"/dashboard/connections/{hubspot_connection.pk}"
    Connection.objects.filter(pk=hubspot_connection.pk).update(status="syncing", sync_progress_done=300,
                                                               sync_progress_total=None)
    assert b'<progress id="sync-progress"\n              data-url=' in owner_client.get(url).content
    Connection.objects.filter(pk=hubspot_connection.pk).update(status="connected")
    assert b'<progress id="sync-progress" max="300" value="300"' in owner_client.get(url).content
    Connection.objects.filter(pk=hubspot_connection.pk).update(sync_progress_done=0)
    assert b'<progress id="sync-progress" max="1" value="0"' in owner_client.get(url).content


@pytest.mark.django_db
def test_disconnect_needs_confirmation(owner_client, hubspot_connection, sandbox):
    url = f"/dashboard/connections/{hubspot_connection.pk}/disconnect"
    owner_client.post(url, {})
    hubspot_connection.refresh_from_db()
    assert hubspot_connection.status == Connection.Status.CONNECTED
    owner_client.post(url, {"confirm": "yes"})
    hubspot_connection.refresh_from_db()
    assert hubspot_connection.status == Connection.Status.DISCONNECTED and hubspot_connection.credentials == ""


@pytest.mark.django_db
def test_pages_are_scoped_to_the_members(client, make_user, make_org, hubspot_connection):
    other = make_user()
    make_org(owner=other)
    client.force_login(other)
    for path in ("", "/progress"):
        assert client.get(f"/dashboard/connections/{hubspot_connection.pk}{path}").status_code == 404
    assert client.post(f"/dashboard/connections/{hubspot_connection.pk}/disconnect",
                       {"confirm": "yes"}).status_code == 404


@pytest.mark.django_db
def test_forms_carry_csrf(hubspot_org, hubspot_connection):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(hubspot_org.owner)
    assert strict.post(f"/dashboard/connections/{hubspot_connection.pk}/sync").status_code == 403
    page = strict.get("/dashboard/connections/").content.decode()
    assert 'name="csrfmiddlewaretoken"' in page


@pytest.mark.django_db
def test_deals_page_lists_the_org_deals(owner_client, hubspot_connection):
    from integrations.crm.models import Deal

    Deal.objects.create(organization=hubspot_connection.organization, connection=hubspot_connection,
                        external_id="42", name="Borehole drilling", stage="closedwon", status="won")
    page = owner_client.get("/dashboard/connections/deals", {"status": "won"})
    assert page.status_code == 200 and b"Borehole drilling" in page.content


@pytest.mark.django_db
def test_viewers_read_but_cannot_change(client, make_user, hubspot_org, hubspot_connection):
    from taxpoynt.tenancy.models import Membership

    viewer = make_user()
    Membership.objects.create(user=viewer, organization=hubspot_org, role=Membership.Role.VIEWER)
    client.force_login(viewer)
    assert client.get(f"/dashboard/connections/{hubspot_connection.pk}").status_code == 200
    assert client.post(f"/dashboard/connections/{hubspot_connection.pk}/disconnect",
                       {"confirm": "yes"}).status_code == 403
    assert client.post("/dashboard/connections/connect/hubspot").status_code == 403
    assert client.delete(f"/api/v1/connections/{hubspot_connection.pk}").status_code == 403
    hubspot_connection.refresh_from_db()
    assert hubspot_connection.status == Connection.Status.CONNECTED
