"""Reads on POS data, scoped to the user's organizations; the dashboard and
the API share them. Analytics are computed in SQL (one aggregate query each)."""
import datetime
import zoneinfo

from django.conf import settings
from django.db.models import Count, DecimalField, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, ExtractHour, ExtractIsoWeekDay, TruncDay, TruncHour

from invoicing.models import InvoiceLine
from taxpoynt.tenancy.selectors import scope_to_user

from .models import NOT_INVOICED, Location, Transaction


def pos_connection_get(*, user, connection_id):
    """The user's POS connection with that id, or None (another tenant's reads as missing)."""
    from integrations.connections.models import Connection

    return scope_to_user(Connection.objects.filter(kind="pos"), user=user).filter(pk=connection_id).first()


ZERO = Value(0, output_field=DecimalField(max_digits=18, decimal_places=2))


def location_list(*, user, filters: dict | None = None) -> QuerySet:
    filters = filters or {}
    qs = scope_to_user(Location.objects.select_related("connection"), user=user)
    if filters.get("connection"):
        qs = qs.filter(connection_id=filters["connection"])
    if filters.get("active") is not None:
        qs = qs.filter(active=filters["active"])
    if filters.get("organization"):
        qs = qs.filter(organization_id=filters["organization"])
    return qs


def transaction_list(*, user, filters: dict | None = None) -> QuerySet:
    filters = filters or {}
    qs = scope_to_user(Transaction.objects.select_related("location", "invoice", "connection"), user=user)
    lookups = {
        "organization": "organization_id",
        "connection": "connection_id",
        "location": "location_id",
        "status": "status",
        "vendor": "connection__vendor",
        "occurred_from": "occurred_at__gte",
        "occurred_to": "occurred_at__lt",
        "amount_min": "total_amount__gte",
        "amount_max": "total_amount__lte",
    }
    for key, lookup in lookups.items():
        if filters.get(key) not in (None, ""):
            qs = qs.filter(**{lookup: filters[key]})
    if filters.get("invoiced") is not None:
        qs = qs.filter(invoice__isnull=not filters["invoiced"])
    if filters.get("not_invoiced"):  # the sales not invoiced, with their reason
        qs = qs.filter(NOT_INVOICED)
    return qs


def _window(qs, *, date_from=None, date_to=None):
    if date_from:
        qs = qs.filter(occurred_at__gte=date_from)
    if date_to:
        qs = qs.filter(occurred_at__lt=date_to)
    return qs


def transaction_volume(*, user, filters: dict | None = None, bucket: str = "day",
                       tz: str | None = None) -> list[dict]:
    """Completed sales per day (or hour): count and value, in the merchant's time zone."""
    tzinfo = zoneinfo.ZoneInfo(tz or settings.TIME_ZONE)
    trunc = TruncHour if bucket == "hour" else TruncDay
    qs = transaction_list(user=user, filters={**(filters or {}), "status": Transaction.Status.COMPLETED})
    rows = (qs.annotate(bucket=trunc("occurred_at", tzinfo=tzinfo)).values("bucket", "currency")
            .annotate(count=Count("id"), total=Coalesce(Sum("total_amount"), ZERO)).order_by("bucket", "currency"))
    return [{"bucket": r["bucket"].isoformat(), "currency": r["currency"], "count": r["count"],
             "total": r["total"]} for r in rows]


def peak_hours(*, user, filters: dict | None = None, tz: str | None = None) -> dict:
    """A 7 × 24 matrix of completed-sale counts (ISO weekday 1 = Monday, hour 0–23)."""
    tzinfo = zoneinfo.ZoneInfo(tz or settings.TIME_ZONE)
    qs = transaction_list(user=user, filters={**(filters or {}), "status": Transaction.Status.COMPLETED})
    rows = (qs.annotate(weekday=ExtractIsoWeekDay("occurred_at", tzinfo=tzinfo),
                        hour=ExtractHour("occurred_at", tzinfo=tzinfo))
            .values("weekday", "hour").annotate(count=Count("id")).order_by())
    matrix = [[0] * 24 for _ in range(7)]
    for r in rows:
        matrix[r["weekday"] - 1][r["hour"]] = r["count"]
    busiest = max(((d, h) for d in range(7) for h in range(24)), key=lambda dh: matrix[dh[0]][dh[1]])
    return {"weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], "matrix": matrix,
            "busiest": {"weekday": busiest[0] + 1, "hour": busiest[1], "count": matrix[busiest[0]][busiest[1]]}}


def top_items(*, user, filters: dict | None = None, limit: int = 10) -> list[dict]:
    """Best-selling items on POS invoices: quantity and net value per item."""
    filters = filters or {}
    lines = scope_to_user(InvoiceLine.objects.filter(invoice__connection__kind="pos", invoice__kind="invoice"),
                          user=user, org_field="invoice__organization")
    if filters.get("organization"):
        lines = lines.filter(invoice__organization_id=filters["organization"])
    if filters.get("connection"):
        lines = lines.filter(invoice__connection_id=filters["connection"])
    if filters.get("vendor"):
        lines = lines.filter(invoice__connection__vendor=filters["vendor"])
    if filters.get("location"):  # the store whose sales the invoices are
        lines = lines.filter(invoice_id__in=Transaction.objects.filter(location_id=filters["location"])
                             .values("invoice_id"))
    if filters.get("occurred_from"):
        lines = lines.filter(invoice__issue_date__gte=filters["occurred_from"].date()
                             if isinstance(filters["occurred_from"], datetime.datetime) else filters["occurred_from"])
    if filters.get("occurred_to"):
        lines = lines.filter(invoice__issue_date__lt=filters["occurred_to"].date()
                             if isinstance(filters["occurred_to"], datetime.datetime) else filters["occurred_to"])
    rows = (lines.values("description", "invoice__currency")
            .annotate(quantity=Sum("quantity"), net=Sum("line_extension_amount"), invoices=Count("invoice", distinct=True))
            .order_by("-net", "description")[:limit])
    return [{"item": r["description"], "currency": r["invoice__currency"], "quantity": r["quantity"],
             "net_amount": r["net"], "invoices": r["invoices"]} for r in rows]
