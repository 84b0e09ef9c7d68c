"""Every admin action that writes or calls out needs the change permission:
a view-only support agent is offered none, on any admin, ours or a library's."""
import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from taxpoynt.apitokens.models import ApiToken
from taxpoynt.apitokens.services import token_create
from tests import factories


def test_every_action_declares_the_permission_it_needs():
    for model, model_admin in admin.site._registry.items():
        for func, name, _ in model_admin._get_base_actions():
            assert getattr(func, "allowed_permissions", None), f"{model._meta.label}.{name} declares no permission"


@pytest.mark.django_db
def test_a_view_only_agent_is_offered_no_action_anywhere(make_user, make_org):
    request = RequestFactory().get("/admin/")
    request.user = factories.support_agent(make_user(), make_org(), may=("view",))
    for model, model_admin in admin.site._registry.items():
        assert model_admin.get_actions(request) == {}, model._meta.label


@pytest.mark.django_db
def test_a_view_only_agent_cannot_post_a_library_action(client, make_user, make_org):
    agent = factories.support_agent(make_user(), make_org(), may=("view",))
    every_minute = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.MINUTES)
    task = PeriodicTask.objects.create(name="sync a connection", task="x", interval=every_minute, enabled=True)
    client.force_login(agent)
    client.post(reverse("admin:django_celery_beat_periodictask_changelist"),
                {"action": "disable_tasks", "_selected_action": [str(task.pk)]})
    task.refresh_from_db()
    assert task.enabled


@pytest.mark.django_db
def test_a_view_only_agent_cannot_post_a_token_revoke(client, make_user, make_org):
    agent = factories.support_agent(make_user(), make_org(), may=("view",))
    issued = token_create(user=agent, name="mine")
    client.force_login(agent)
    client.post(reverse("admin:apitokens_apitoken_changelist"),
                {"action": "revoke", "_selected_action": [str(issued.token.pk)]})
    assert ApiToken.objects.get(pk=issued.token.pk).revoked_at is None
