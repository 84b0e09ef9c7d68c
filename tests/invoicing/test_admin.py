"""Support console: retry action (audited), dead-letter filter, breaker state, errors."""
import pytest
from django.urls import reverse

from invoicing.firs.breaker import CircuitBreaker
from invoicing.models import Submission
from taxpoynt.audit.models import AuditLog
from tests.invoicing.test_services import create, firs, firs_org, make_canonical, process  # noqa: F401

S = Submission.State
CHANGELIST = "admin:invoicing_submission_changelist"


@pytest.fixture
def support(client, make_user):
    admin_user = make_user(is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    client.user = admin_user
    return client


@pytest.fixture
def dead(firs, firs_org, make_canonical, settings):  # noqa: F811
    settings.FIRS_SUBMISSION_MAX_ATTEMPTS = 1
    firs.app.sandbox.set_fault("validate", "503", times=1)
    sub = process(create(firs_org, make_canonical()))
    assert sub.state == S.DEAD
    return sub


@pytest.mark.django_db
def test_retry_action_is_audited_and_resumes(support, dead):
    resp = support.post(reverse(CHANGELIST), {"action": "retry_submissions", "_selected_action": [str(dead.pk)]},
                        follow=True)
    assert resp.status_code == 200
    assert b"1 submission(s) queued" in resp.content
    dead.refresh_from_db()
    assert dead.state == S.DRAFT
    log = AuditLog.objects.get(action="retry", object_id=str(dead.pk))
    assert log.source == "admin" and log.actor == support.user
    assert log.before["state"] == "dead" and log.after["state"] == "draft"
    assert process(dead).state == S.CONFIRMED


@pytest.mark.django_db
def test_retry_action_refuses_confirmed(support, firs, firs_org, make_canonical):  # noqa: F811
    sub = process(create(firs_org, make_canonical()))
    resp = support.post(reverse(CHANGELIST), {"action": "retry_submissions", "_selected_action": [str(sub.pk)]},
                        follow=True)
    assert b"cannot be retried" in resp.content
    assert not AuditLog.objects.filter(action="retry", object_id=str(sub.pk)).exists()


@pytest.mark.django_db
def test_dead_letter_filter_and_breaker_state(support, dead, firs, firs_org, make_canonical, settings):  # noqa: F811
    ok = create(firs_org, make_canonical()).submissions.get()
    breaker = CircuitBreaker(settings.FIRS_BASE_URL.rstrip("/"), failure_threshold=1)
    breaker.record_failure()
    resp = support.get(reverse(CHANGELIST), {"attention": "dead"})
    assert resp.status_code == 200
    shown = {str(s.pk) for s in resp.context["cl"].result_list}
    assert shown == {str(dead.pk)} and str(ok.pk) not in shown
    assert b"FIRS circuit breaker" in resp.content and b": open" in resp.content
    breaker.reset()
    assert b": closed" in support.get(reverse(CHANGELIST)).content


@pytest.mark.django_db
def test_change_page_shows_errors_and_payload(support, firs_org, make_canonical):  # noqa: F811
    import dataclasses

    inv = create(firs_org, dataclasses.replace(make_canonical(), currency="XXX"))
    sub = inv.submissions.get()
    resp = support.get(reverse("admin:invoicing_submission_change", args=[sub.pk]))
    assert resp.status_code == 200
    assert sub.errors[0]["rule"].encode() in resp.content and b"Rejected locally" in resp.content


@pytest.mark.django_db
def test_invoice_changelist_filters_on_the_firs_state_copy(support, make_org):
    from tests import factories

    org = make_org()
    rejected, draft = factories.invoice(org), factories.invoice(org)
    Submission.objects.filter(invoice=rejected).update(state=S.REJECTED)
    resp = support.get(reverse("admin:invoicing_invoice_changelist"), {"firs_state": "rejected"})
    assert resp.status_code == 200
    assert list(resp.context["cl"].queryset) == [rejected]
    assert draft not in resp.context["cl"].queryset


@pytest.mark.django_db
def test_view_only_support_can_neither_see_nor_post_retry(client, make_user, dead, firs_org):  # noqa: F811
    from tests import factories

    client.force_login(factories.support_agent(make_user(), firs_org, may=("view",)))
    page = client.get(reverse(CHANGELIST))
    assert page.status_code == 200 and str(dead.pk) in {str(s.pk) for s in page.context["cl"].result_list}
    assert page.context["action_form"] is None
    client.post(reverse(CHANGELIST), {"action": "retry_submissions", "_selected_action": [str(dead.pk)]})
    dead.refresh_from_db()
    assert dead.state == S.DEAD
    assert not AuditLog.objects.filter(action="retry", object_id=str(dead.pk)).exists()
