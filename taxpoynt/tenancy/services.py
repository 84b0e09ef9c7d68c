"""Writes on organizations and memberships."""
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.text import slugify

from taxpoynt.errors import ApplicationError

from .models import Membership, Organization


@transaction.atomic
def organization_create(*, name: str, tin: str, owner=None, **fields) -> Organization:
    slug = fields.pop("slug", None) or slugify(name)[:70] or "org"
    base, n = slug, 1
    while Organization.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    org = Organization(name=name, tin=tin, slug=slug, **fields)
    org.full_clean()
    org.save()
    if owner is not None:
        Membership.objects.create(user=owner, organization=org, role=Membership.Role.OWNER)
    return org


@transaction.atomic
def membership_add(*, organization: Organization, email: str, role: str) -> Membership:
    if role not in Membership.Role.values:
        raise ApplicationError(f"Unknown role {role!r}; choose one of {', '.join(Membership.Role.values)}.")
    user = get_user_model().objects.filter(email__iexact=email).first()
    if user is None:
        raise ApplicationError(f"No user with email {email}.")
    membership, _ = Membership.objects.update_or_create(
        user=user, organization=organization, defaults={"role": role}
    )
    return membership
