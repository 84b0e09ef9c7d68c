"""POS dashboard page: which locations of a POS connection issue invoices, and
whether sales are invoiced in real time (the same service as
`PUT /api/v1/pos/webhook-config`)."""
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from integrations.connections.views import _connection
from taxpoynt.audit.models import AuditLog
from taxpoynt.errors import ApplicationError

from .models import Location
from .services import pos_webhook_config_update


@login_required
def connection_locations(request, connection_id):
    conn = _connection(request, connection_id, manage=request.method == "POST")
    if conn.kind != "pos":
        return redirect("connections:detail", connection_id=conn.pk)
    if request.method == "POST":
        try:
            pos_webhook_config_update(connection=conn, realtime=request.POST.get("realtime") == "on",
                                      active_location_ids=[uuid.UUID(v) for v in request.POST.getlist("locations")],
                                      actor=request.user, source=AuditLog.Source.DASHBOARD)
        except (ApplicationError, ValueError) as exc:
            messages.error(request, f"Not saved: {getattr(exc, 'message', exc)}")
        else:
            messages.success(request, "Locations saved.")
        return redirect("pos:locations", connection_id=conn.pk)
    return render(request, "pos/locations.html", {
        "connection": conn, "locations": Location.objects.filter(connection=conn).order_by("name"),
        "realtime": (conn.settings or {}).get("realtime", True)})
