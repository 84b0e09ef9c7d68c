"""Reads on connections and webhook events, always scoped to the user's orgs."""
from django.db.models import QuerySet

from taxpoynt.tenancy.selectors import scope_to_user, user_can_manage  # noqa: F401 (one role rule)

from .models import Connection


def connection_list(*, user, filters: dict | None = None) -> QuerySet:
    filters = filters or {}
    qs = scope_to_user(Connection.objects.select_related("organization"), user=user)
    for key in ("vendor", "kind", "status"):
        if filters.get(key):
            qs = qs.filter(**{key: filters[key]})
    if filters.get("organization"):
        qs = qs.filter(organization_id=filters["organization"])
    return qs.order_by("-created_at")

