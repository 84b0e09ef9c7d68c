from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from .metrics import metrics_exposition
from .services import readiness_check


@never_cache
@require_GET
def healthz(request):
    """The process is up and serving."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    """Database, Redis and broker reachable; 503 naming the failing part otherwise."""
    parts = readiness_check()
    failing = [name for name, state in parts.items() if not state.startswith("ok")]
    body = {"status": "ok" if not failing else "unavailable", "parts": parts}
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=200 if not failing else 503)


@never_cache
@require_GET
def metrics(request):
    """Prometheus scrape: every web and worker process's metrics on this host."""
    return HttpResponse(metrics_exposition(), content_type=CONTENT_TYPE_LATEST)
