"""Reads that decide what a user may see. Every selector, view and admin in the
project scopes through `scope_to_user`: one helper, one rule."""
from django.db.models import QuerySet

from .models import Membership, Organization, StaffAssignment


def organization_ids_for_user(*, user) -> list:
    """The ids of the organizations `user` is a member of."""
    if not user or not user.is_authenticated:
        return []
    cache = getattr(user, "_taxpoynt_org_ids", None)
    if cache is None:
        cache = list(Membership.objects.filter(user=user).values_list("organization_id", flat=True))
        user._taxpoynt_org_ids = cache
    return cache


def scope_to_user(queryset: QuerySet, *, user, org_field: str = "organization") -> QuerySet:
    """Restrict `queryset` to rows of the user's organizations.

    `org_field` is the lookup path from the model to its Organization
    ("organization", "invoice__organization", or "pk" for Organization itself).
    """
    ids = organization_ids_for_user(user=user)
    lookup = "pk__in" if org_field == "pk" else f"{org_field}_id__in"
    return queryset.filter(**{lookup: ids})


def scope_for_admin(queryset: QuerySet, *, user, org_field: str = "organization") -> QuerySet:
    """Admin scoping: superusers see everything; other staff see the orgs they
    are assigned to (support) or members of."""
    if user.is_superuser:
        return queryset
    ids = set(organization_ids_for_user(user=user))
    ids.update(StaffAssignment.objects.filter(user=user).values_list("organization_id", flat=True))
    lookup = "pk__in" if org_field == "pk" else f"{org_field}_id__in"
    return queryset.filter(**{lookup: ids})


def organization_list(*, user) -> QuerySet:
    return scope_to_user(Organization.objects.all(), user=user, org_field="pk")


def organization_get(*, user, organization_id) -> Organization:
    """The organization if the user belongs to it; Organization.DoesNotExist otherwise
    (never a hint that another tenant's org exists)."""
    return organization_list(user=user).get(pk=organization_id)


def current_organization(*, request) -> Organization | None:
    """The org the dashboard is showing: the one picked in the org switcher,
    else the user's first."""
    orgs = organization_list(user=request.user)
    chosen = request.session.get("organization_id")
    if chosen:
        org = orgs.filter(pk=chosen).first()
        if org:
            return org
    return orgs.first()


MANAGER_ROLES = (Membership.Role.OWNER, Membership.Role.ACCOUNTANT)


def user_can_manage(*, user, organization_id) -> bool:
    """Owners and accountants may act (retry, credit, connect); viewers only read."""
    if not user or not user.is_authenticated:
        return False
    return Membership.objects.filter(user=user, organization_id=organization_id, role__in=MANAGER_ROLES).exists()
