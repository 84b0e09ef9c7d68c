import pytest

from integrations.connections.models import Connection
from taxpoynt.tenancy.models import Membership
from taxpoynt.tenancy.selectors import organization_list, scope_for_admin, scope_to_user
from tests import factories


@pytest.mark.django_db
def test_scope_to_user_keeps_only_member_orgs(make_user, make_org):
    user = make_user()
    mine, other = make_org(owner=user, role=Membership.Role.VIEWER), make_org()
    c1, _ = factories.connection(mine), factories.connection(other)
    assert list(scope_to_user(Connection.objects.all(), user=user)) == [c1]
    assert list(organization_list(user=user)) == [mine]


@pytest.mark.django_db
def test_anonymous_user_sees_nothing(make_org):
    from django.contrib.auth.models import AnonymousUser

    factories.connection(make_org())
    assert not scope_to_user(Connection.objects.all(), user=AnonymousUser()).exists()


@pytest.mark.django_db
def test_superuser_sees_all_in_admin_but_not_in_app_scope(make_user, make_org):
    root = make_user(is_superuser=True, is_staff=True)
    factories.connection(make_org())
    assert scope_for_admin(Connection.objects.all(), user=root).count() == 1
    assert scope_to_user(Connection.objects.all(), user=root).count() == 0


@pytest.mark.django_db
def test_organization_create_rejects_bad_tin(make_user):
    from django.core.exceptions import ValidationError

    from taxpoynt.tenancy.services import organization_create

    with pytest.raises(ValidationError) as err:
        organization_create(name="Bad", tin="12")
    assert "tin" in err.value.message_dict


@pytest.mark.django_db
def test_membership_add_unknown_role_is_refused(make_user, make_org):
    from taxpoynt.errors import ApplicationError
    from taxpoynt.tenancy.services import membership_add

    user = make_user(email="acc@example.ng")
    with pytest.raises(ApplicationError, match="Unknown role"):
        membership_add(organization=make_org(), email=user.email, role="emperor")
