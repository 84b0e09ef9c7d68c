"""Reads on connections and webhook events, always scoped to the user's orgs."""
from django.db.models import BinaryField, Func, IntegerField, QuerySet, Value
from django.db.models.lookups import GreaterThan

from taxpoynt.tenancy.selectors import scope_to_user, user_can_manage  # noqa: F401 (one role rule)

from .models import Connection, WebhookEvent


def connection_list(*, user, filters: dict | None = None) -> QuerySet:
    filters = filters or {}
    qs = scope_to_user(Connection.objects.select_related("organization"), user=user)
    for key in ("vendor", "kind", "status"):
        if filters.get(key):
            qs = qs.filter(**{key: filters[key]})
    if filters.get("organization"):
        qs = qs.filter(organization_id=filters["organization"])
    return qs.order_by("-created_at")


def connection_for_account(*, vendor: str, account_id: str) -> Connection | None:
    """The live connection of `vendor` account `account_id`, or None: the one
    its webhooks route to (the rule webhooks.webhook_events_store applies in
    its INSERT). There is at most one (models.LIVE_ACCOUNT_CONSTRAINT)."""
    return (Connection.objects.filter(vendor=vendor, external_account_id=account_id)
            .exclude(status=Connection.Status.DISCONNECTED).first())


class _BytesPosition(Func):
    """position(needle IN haystack) on bytea: 1-based, 0 when absent."""

    function = "position"
    arg_joiner = " IN "
    output_field = IntegerField()


def webhook_events_mentioning(queryset: QuerySet[WebhookEvent], *, text: str) -> QuerySet[WebhookEvent]:
    """The events of `queryset` whose stored body holds `text`, e.g. a vendor
    object's id: a Square order's id is its order events' data.id and its
    payments' and refunds' order_id, so all the events of a sale match.

    The bodies are what the vendor sent, so nothing is added at intake; the
    price is a scan of the bodies at search time, so narrow `queryset` (a
    connection, an organization) first where you can."""
    needle = Value(text.encode(), output_field=BinaryField())
    return queryset.filter(GreaterThan(_BytesPosition(needle, "raw_body"), 0))
