from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from taxpoynt.ops import views as ops_views

admin.site.site_header = "TaxPoynt support console"
admin.site.site_title = "TaxPoynt support"

urlpatterns = [
    path("healthz", ops_views.healthz, name="healthz"),
    path("readyz", ops_views.readyz, name="readyz"),
    path("metrics", ops_views.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("taxpoynt.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/", include("taxpoynt.api.docs_urls")),  # /api/docs/, /api/redoc/, JSON 404 for other /api/ paths
    path("dashboard/", include("taxpoynt.dashboard.urls")),
    path("dashboard/api-tokens/", include("taxpoynt.apitokens.urls")),
    path("dashboard/connections/", include("integrations.connections.dashboard_urls")),
    path("dashboard/pos/", include("integrations.pos.dashboard_urls")),
    path("webhooks/", include("integrations.connections.webhook_urls")),
    path("", RedirectView.as_view(pattern_name="dashboard:overview", permanent=False)),
]
