"""The POS locations page: choose invoicing locations, audited; viewers and
other tenants cannot change them."""
import pytest
from django.urls import reverse

from integrations.pos.models import Location
from taxpoynt.audit.models import AuditLog
from taxpoynt.tenancy.models import Membership
from tests import factories


@pytest.fixture
def shop(make_user, make_org):
    owner = make_user()
    org = make_org(owner=owner)
    conn = factories.connection(org, vendor="square", kind="pos", settings={"realtime": True})
    ikeja = Location.objects.create(organization=org, connection=conn, external_id="L1", name="Ikeja")
    lekki = Location.objects.create(organization=org, connection=conn, external_id="L2", name="Lekki")
    return owner, org, conn, ikeja, lekki


@pytest.mark.django_db
def test_owner_chooses_locations_and_realtime(client, shop):
    owner, org, conn, ikeja, lekki = shop
    client.force_login(owner)
    page = client.get(reverse("pos:locations", args=[conn.pk]))
    assert b"Ikeja" in page.content and b"Lekki" in page.content
    resp = client.post(reverse("pos:locations", args=[conn.pk]), {"locations": [str(lekki.pk)]}, follow=True)
    assert b"Locations saved." in resp.content
    ikeja.refresh_from_db(), lekki.refresh_from_db(), conn.refresh_from_db()
    assert (ikeja.active, lekki.active, conn.settings["realtime"]) == (False, True, False)
    assert AuditLog.objects.filter(action="webhook_config", source="dashboard", object_id=str(conn.pk)).exists()


@pytest.mark.django_db
def test_another_connections_location_is_refused(client, shop, make_org):
    owner, org, conn, ikeja, lekki = shop
    other = make_org()
    foreign = Location.objects.create(organization=other, connection=factories.connection(other, vendor="square",
                                                                                          kind="pos"),
                                      external_id="X", name="Elsewhere")
    client.force_login(owner)
    resp = client.post(reverse("pos:locations", args=[conn.pk]), {"locations": [str(foreign.pk)]}, follow=True)
    assert b"Not saved" in resp.content
    ikeja.refresh_from_db()
    assert ikeja.active


@pytest.mark.django_db
def test_viewer_and_other_tenant_cannot_change(client, shop, make_user, make_org):
    owner, org, conn, ikeja, lekki = shop
    viewer = make_user()
    Membership.objects.create(user=viewer, organization=org, role="viewer")
    client.force_login(viewer)
    assert client.post(reverse("pos:locations", args=[conn.pk]), {"locations": []}).status_code == 403
    outsider = make_user()
    make_org(owner=outsider)
    client.force_login(outsider)
    assert client.get(reverse("pos:locations", args=[conn.pk])).status_code == 404
    ikeja.refresh_from_db()
    assert ikeja.active
