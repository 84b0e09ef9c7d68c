"""Dashboard pages for connections (/dashboard/connections/…): providers with
"Connect <Vendor>" buttons, a connection's page (status, re-auth banner,
trigger rule + field map editor, sync now, historical import with a progress
bar polled from `progress`, disconnect with confirmation), and the deals list.
Views parse input, call one service or selector, render."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from taxpoynt.audit.models import AuditLog
from taxpoynt.errors import ApplicationError
from taxpoynt.tenancy.selectors import current_organization

from .models import Connection
from .oauth import connection_start_authorization
from .registry import get_provider, providers
from .rules import OUTSIDE_VAT_FIELDS, mappable_fields
from .selectors import connection_list, user_can_manage
from .services import connection_disconnect, connection_request_sync, connection_update_config


def _org_or_403(request):
    org = current_organization(request=request)
    if org is None:
        raise Http404
    return org


def _connection(request, connection_id, *, manage=False) -> Connection:
    try:
        conn = connection_list(user=request.user).get(pk=connection_id)
    except Connection.DoesNotExist:
        raise Http404 from None
    if manage and not user_can_manage(user=request.user, organization_id=conn.organization_id):
        raise PermissionDenied("Only an owner or accountant may change connections.")
    return conn


@login_required
@require_GET
def connection_index(request):
    org = _org_or_403(request)
    conns = list(connection_list(user=request.user, filters={"organization": org.pk}))
    return render(request, "connections/list.html", {
        "organization": org, "connections": conns,
        "providers": sorted(providers(), key=lambda p: (p.kind, p.name)),
    })


@login_required
@require_POST
def connection_connect(request, vendor):
    org = _org_or_403(request)
    if not user_can_manage(user=request.user, organization_id=org.pk):
        raise PermissionDenied("Only an owner or accountant may connect systems.")
    try:
        provider = get_provider(vendor)
        url = connection_start_authorization(request=request, provider_key=provider.key, organization=org)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("connections:index")
    return redirect(url)


def _split_lines(text: str) -> list[str]:
    return [p.strip() for p in text.replace(",", "\n").splitlines() if p.strip()]


@login_required
def connection_detail(request, connection_id):
    conn = _connection(request, connection_id)
    provider = get_provider(conn.vendor)
    errors = {}
    rule = stored = {**provider.default_trigger_rule(), **(conn.trigger_rule or {})}
    field_map = dict(conn.field_map or {})
    targets = mappable_fields(provider.field_map_targets)
    stages = "stages" in provider.trigger_rule_parts
    outside_vat = "outside_vat" in provider.trigger_rule_parts
    if request.method == "POST":
        if not user_can_manage(user=request.user, organization_id=conn.organization_id):
            raise PermissionDenied("Only an owner or accountant may change connections.")
        rule = {"tax_category": request.POST.get("tax_category", ""),
                "tax_rate": request.POST.get("tax_rate", ""),
                "exemption_reason": request.POST.get("exemption_reason", "")}
        if stages:
            rule.update(won_stages=_split_lines(request.POST.get("won_stages", "")),
                        lost_stages=_split_lines(request.POST.get("lost_stages", "")))
        if outside_vat:
            rule.update({name: request.POST.get(name, stored.get(name, "exclude")) for name in OUTSIDE_VAT_FIELDS})
        field_map = {target: request.POST.get(f"map:{target}", "").strip() for target in targets}
        try:
            connection_update_config(connection=conn, trigger_rule=rule, field_map=field_map, actor=request.user)
        except ApplicationError as exc:
            errors = exc.extra or {"": [exc.message]}
            messages.error(request, exc.message)
        else:
            messages.success(request, "Settings saved.")
            return redirect("connections:detail", connection_id=conn.pk)
    labels = {"tips": "Tips (a gratuity for staff, outside VAT)",
              "levies": f"Other {provider.name} taxes beside VAT (e.g. Lagos consumption tax)"}
    outside_vat_rows = [{"name": name, "label": labels[name], "value": rule.get(name, "exclude"),
                         "errors": errors.get(f"trigger_rule.{name}", [])}
                        for name in (OUTSIDE_VAT_FIELDS if outside_vat else ())]
    mapping_rows = [{"target": t, "label": label, "source": field_map.get(t, ""),
                     "errors": errors.get(f"field_map.{t}", [])} for t, label in targets.items()]
    return render(request, "connections/detail.html", {
        "connection": conn, "provider": provider, "rule": rule, "errors": errors, "stages": stages,
        "outside_vat_rows": outside_vat_rows,
        "tax_rule_help": provider.tax_rule_help,
        "rule_errors": {k.split(".", 1)[1]: v for k, v in errors.items() if k.startswith("trigger_rule.")},
        "mapping_rows": mapping_rows, "field_map_sources": provider.field_map_sources,
        "won_text": "\n".join(rule.get("won_stages", [])), "lost_text": "\n".join(rule.get("lost_stages", [])),
        "progress_url": reverse("connections:progress", kwargs={"connection_id": conn.pk}),
        "progress": _sync_progress(conn),
        "recent_events": conn.webhook_events.order_by("-received_at")[:10],
        "provider_facts": provider.connection_facts(connection=conn),
    }, status=400 if errors else 200)


def _sync_progress(conn: Connection) -> dict:
    """The import bar's max and value; indeterminate (no value) while a sync
    whose total is unknown runs (Square's order search gives no count), so
    it is never drawn full from the first page."""
    running = conn.status == Connection.Status.SYNCING or bool(conn.import_started_at and not conn.import_finished_at)
    total, done = conn.sync_progress_total, conn.sync_progress_done
    if total is None:
        return {"indeterminate": running, "max": max(done, 1), "value": done}
    return {"indeterminate": False, "max": total or 1, "value": done}


@login_required
@require_POST
def connection_sync(request, connection_id):
    conn = _connection(request, connection_id, manage=True)
    mode = request.POST.get("mode", "delta")
    try:
        connection_request_sync(connection=conn, mode=mode, actor=request.user, source=AuditLog.Source.DASHBOARD)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Historical import started." if mode == "historical" else "Sync started.")
    return redirect("connections:detail", connection_id=conn.pk)


@login_required
@require_POST
def connection_disconnect_view(request, connection_id):
    conn = _connection(request, connection_id, manage=True)
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Tick the confirmation box to disconnect.")
        return redirect("connections:detail", connection_id=conn.pk)
    conn = connection_disconnect(connection=conn, actor=request.user, source=AuditLog.Source.DASHBOARD)
    if conn.last_error:
        messages.warning(request, conn.last_error)
    else:
        messages.success(request, f"{get_provider(conn.vendor).name} disconnected; its tokens were revoked and erased.")
    return redirect("connections:index")


@login_required
@require_GET
def connection_progress(request, connection_id):
    conn = _connection(request, connection_id)
    return JsonResponse({
        "status": conn.status, "done": conn.sync_progress_done, "total": conn.sync_progress_total,
        "import_started_at": conn.import_started_at, "import_finished_at": conn.import_finished_at,
        "last_synced_at": conn.last_synced_at, "last_error": conn.last_error,
    })


@login_required
@require_GET
def deal_index(request):
    from integrations.crm.selectors import deal_list

    org = _org_or_403(request)
    filters = {"organization": org.pk, "status": request.GET.get("status") or None,
               "q": request.GET.get("q") or None}
    page = Paginator(deal_list(user=request.user, filters=filters).order_by("-source_updated_at", "-created_at"),
                     50).get_page(request.GET.get("page"))
    return render(request, "connections/deals.html", {"organization": org, "page": page, "filters": filters})
