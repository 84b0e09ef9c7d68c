"""POS writes that are not vendor-specific: the webhook configuration and
location selection of a connection, and batch re-processing of transactions
(handed to each vendor's provider, `invoice_transactions`)."""
from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from integrations.connections.models import Connection
from integrations.connections.registry import get_provider
from taxpoynt.audit.models import AuditLog
from taxpoynt.audit.services import audit_log_record, snapshot
from taxpoynt.errors import ApplicationError

from .models import Location


def _config(connection: Connection) -> dict:
    provider = get_provider(connection.vendor)
    path = reverse("webhook-receive", kwargs={"kind": provider.kind, "vendor": provider.key})
    return {
        "connection": connection.pk,
        "vendor": provider.key,
        "realtime": (connection.settings or {}).get("realtime", True),
        "notification_url": settings.PUBLIC_BASE_URL.rstrip("/") + path,
        "event_types": list(getattr(provider, "webhook_event_types", ())),
        "active_location_ids": list(Location.objects.filter(connection=connection, active=True)
                                    .order_by("name").values_list("pk", flat=True)),
    }


@transaction.atomic
def pos_webhook_config_update(*, connection: Connection, realtime: bool | None = None,
                              active_location_ids: list | None = None, actor=None,
                              source=AuditLog.Source.API) -> dict:
    """Store the real-time switch and the invoicing locations; unknown
    location ids (another connection's) are refused."""
    locked = Connection.objects.select_for_update(no_key=True).get(pk=connection.pk)
    before = snapshot(locked)
    if realtime is not None:
        locked.settings = {**(locked.settings or {}), "realtime": bool(realtime)}
        locked.save(update_fields=["settings", "updated_at"])
    if active_location_ids is not None:
        wanted = set(active_location_ids)
        own = set(Location.objects.filter(connection=locked).values_list("pk", flat=True))
        unknown = wanted - own
        if unknown:
            raise ApplicationError("Unknown locations for this connection.", code="invalid",
                                   extra={"active_location_ids": sorted(str(u) for u in unknown)})
        Location.objects.filter(connection=locked).update(active=False)
        Location.objects.filter(connection=locked, pk__in=wanted).update(active=True)
    if actor is not None:
        audit_log_record(actor=actor, source=source, action="webhook_config", instance=locked, before=before,
                         after={**snapshot(locked), "active_location_ids": sorted(
                             str(x) for x in (active_location_ids or []))})
    return _config(locked)


def pos_transactions_batch_process(*, transactions) -> dict:
    """Invoice completed sales without an invoice, per vendor; summed counts."""
    by_vendor: dict[str, list] = {}
    for txn in transactions:
        by_vendor.setdefault(txn.connection.vendor, []).append(txn)
    total = {"invoiced": 0, "already_invoiced": 0, "not_invoiceable": 0, "failed": 0, "errors": []}
    for vendor, txns in by_vendor.items():
        provider = get_provider(vendor)
        handler = getattr(provider, "invoice_transactions", None)
        if handler is None:
            total["failed"] += len(txns)
            total["errors"] += [{"transaction": str(t.pk), "message": f"{provider.name} cannot re-process."}
                                for t in txns]
            continue
        result = handler(transactions=txns)
        for key in ("invoiced", "already_invoiced", "not_invoiceable", "failed"):
            total[key] += result[key]
        total["errors"] += result["errors"]
    return total
