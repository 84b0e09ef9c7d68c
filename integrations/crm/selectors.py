"""Reads on CRM rows, always scoped to the user's organizations."""
from django.db.models import Q, QuerySet

from taxpoynt.tenancy.selectors import scope_to_user

from .models import Customer, Deal


def deal_list(*, user, filters: dict | None = None) -> QuerySet:
    filters = filters or {}
    qs = scope_to_user(Deal.objects.select_related("connection", "customer", "invoice", "credit_note"), user=user)
    for key in ("status", "stage", "pipeline", "currency"):
        if filters.get(key):
            qs = qs.filter(**{key: filters[key]})
    if filters.get("organization"):
        qs = qs.filter(organization_id=filters["organization"])
    if filters.get("connection"):
        qs = qs.filter(connection_id=filters["connection"])
    if filters.get("vendor"):
        qs = qs.filter(connection__vendor=filters["vendor"])
    if filters.get("invoiced") is not None:
        qs = qs.filter(invoice__isnull=not filters["invoiced"])
    if filters.get("q"):
        qs = qs.filter(Q(name__icontains=filters["q"]) | Q(external_id=filters["q"]))
    if filters.get("close_date_from"):
        qs = qs.filter(close_date__gte=filters["close_date_from"])
    if filters.get("close_date_to"):
        qs = qs.filter(close_date__lte=filters["close_date_to"])
    return qs


def deal_get(*, user, deal_id) -> Deal:
    return deal_list(user=user).get(pk=deal_id)


def customer_list(*, user, filters: dict | None = None) -> QuerySet:
    filters = filters or {}
    qs = scope_to_user(Customer.objects.select_related("connection"), user=user)
    if filters.get("organization"):
        qs = qs.filter(organization_id=filters["organization"])
    if filters.get("connection"):
        qs = qs.filter(connection_id=filters["connection"])
    if filters.get("has_tin") is not None:
        qs = qs.exclude(tin="") if filters["has_tin"] else qs.filter(tin="")
    if filters.get("q"):
        qs = qs.filter(Q(name__icontains=filters["q"]) | Q(tin=filters["q"]) | Q(email__iexact=filters["q"]))
    return qs


def deals_awaiting_credit_note(*, limit: int = 200) -> QuerySet:
    """Lost/deleted deals whose invoice is now signed but not yet credited (system-wide, for the beat task)."""
    return (Deal.objects.filter(status__in=[Deal.Status.LOST, Deal.Status.DELETED], invoice__isnull=False,
                                credit_note__isnull=True, invoice__frozen_at__isnull=False)
            .exclude(invoice__irn="").order_by("updated_at")[:limit])
