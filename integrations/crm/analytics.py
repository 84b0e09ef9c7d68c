"""CRM analytics, computed in SQL: conversion rate per month and the open
revenue pipeline by stage. Shared by the dashboard and the API."""
import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, DateField, DecimalField, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth

from taxpoynt.tenancy.selectors import scope_to_user

from .models import Deal

ZERO = Value(0, output_field=DecimalField(max_digits=18, decimal_places=2))


def _deals(*, user, filters):
    filters = filters or {}
    qs = scope_to_user(Deal.objects.all(), user=user)
    for key, lookup in (("organization", "organization_id"), ("connection", "connection_id"),
                        ("pipeline", "pipeline")):
        if filters.get(key):
            qs = qs.filter(**{lookup: filters[key]})
    return qs


def conversion_rates(*, user, filters: dict | None = None, tz: str | None = None) -> list[dict]:
    """Per month in which deals closed: won, lost and won / (won + lost) in percent.
    A deal's month is its close date (the CRM's own), else when we saw it close."""
    tzinfo = zoneinfo.ZoneInfo(tz or settings.TIME_ZONE)
    closed = _deals(user=user, filters=filters).filter(status__in=[Deal.Status.WON, Deal.Status.LOST])
    rows = (closed.annotate(month=Coalesce(TruncMonth("close_date", output_field=DateField()),
                                           TruncMonth("source_updated_at", tzinfo=tzinfo, output_field=DateField())))
            .values("month")
            .annotate(won=Count("id", filter=Q(status=Deal.Status.WON)), lost=Count("id", filter=Q(status=Deal.Status.LOST)),
                      won_amount=Coalesce(Sum("amount", filter=Q(status=Deal.Status.WON)), ZERO))
            .order_by("month"))
    result = []
    for r in rows:
        if r["month"] is None:
            continue
        total = r["won"] + r["lost"]
        rate = (Decimal(r["won"]) * 100 / total).quantize(Decimal("0.1")) if total else None
        result.append({"period": r["month"].strftime("%Y-%m"), "won": r["won"], "lost": r["lost"], "rate": rate,
                       "won_amount": r["won_amount"]})
    return result


def revenue_pipeline(*, user, filters: dict | None = None) -> list[dict]:
    """Open deals by pipeline stage: count and value (the value still to win)."""
    rows = (_deals(user=user, filters=filters).filter(status=Deal.Status.OPEN)
            .values("pipeline", "stage", "currency")
            .annotate(count=Count("id"), amount=Coalesce(Sum("amount"), ZERO))
            .order_by("pipeline", "-amount", "stage"))
    return [{"pipeline": r["pipeline"], "stage": r["stage"], "currency": r["currency"], "count": r["count"],
             "amount": r["amount"]} for r in rows]
