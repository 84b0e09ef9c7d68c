import pytest
from django.urls import reverse

from taxpoynt.audit.models import AuditLog
from tests import factories


@pytest.mark.django_db
def test_admin_change_is_audited_with_before_and_after(client, make_user, make_org):
    root = make_user(is_superuser=True, is_staff=True)
    org = make_org(name="Before Ltd")
    client.force_login(root)
    url = reverse("admin:tenancy_organization_change", args=[org.pk])
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update({"name": "After Ltd", "memberships-TOTAL_FORMS": 0, "memberships-INITIAL_FORMS": 0})
    resp = client.post(url, data)
    assert resp.status_code == 302, resp.content[:2000]
    entry = AuditLog.objects.get(action="change", object_id=str(org.pk))
    assert entry.actor == root and entry.source == "admin"
    assert entry.before["name"] == "Before Ltd" and entry.after["name"] == "After Ltd"
    assert entry.organization_id == org.pk


@pytest.mark.django_db
def test_audit_snapshot_masks_secrets(make_org):
    from taxpoynt.audit.services import snapshot

    # Not hex: a uuid in the snapshot could hold any hex string.
    conn = factories.connection(make_org(), credentials='{"access_token":"EAAA-secret-token"}')
    snap = snapshot(conn)
    assert snap["credentials"] == "***"
    assert "secret-token" not in str(snap)


@pytest.mark.django_db
def test_admin_delete_is_audited(client, make_user, make_org):
    root = make_user(is_superuser=True, is_staff=True)
    conn = factories.connection(make_org())
    client.force_login(root)
    resp = client.post(reverse("admin:connections_connection_delete", args=[conn.pk]), {"post": "yes"})
    assert resp.status_code == 302
    entry = AuditLog.objects.get(action="delete", object_id=str(conn.pk))
    assert entry.before["vendor"] == "hubspot"
