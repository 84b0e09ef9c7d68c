"""Docs pages (Swagger UI and Redoc served from drf-spectacular-sidecar's
static files: no CDN), and the JSON 404 for unknown paths under /api/."""
from django.http import HttpResponseRedirect
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from .errors import json_error_response


class ApiDocsView(SpectacularSwaggerView):
    permission_classes = [AllowAny]
    url_name = "api-schema"
    title = "TaxPoynt API"


class ApiRedocView(SpectacularRedocView):
    permission_classes = [AllowAny]
    url_name = "api-schema"
    title = "TaxPoynt API"
    # drf-spectacular's own template loads web fonts from a CDN; ours does not.
    template_name = "api/redoc.html"


@csrf_exempt  # a POST/DELETE to an unknown path is a 404, not Django's HTML CSRF page
def api_not_found(request, *args, **kwargs):
    """Any method on an unknown /api/ path: the API error shape, not an HTML page.

    This route matches everything, so Django's APPEND_SLASH can no longer
    redirect `/api/docs` → `/api/docs/`; do that here, for GET only."""
    if request.method in ("GET", "HEAD") and not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            query = request.META.get("QUERY_STRING")
            return HttpResponseRedirect(request.path + "/" + (f"?{query}" if query else ""))
    return json_error_response(status_code=404, code="not_found", message="No such API endpoint.")
