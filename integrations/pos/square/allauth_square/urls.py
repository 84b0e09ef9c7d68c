"""No allauth-owned routes: the connect flow starts from our API/dashboard and
returns to /api/v1/pos/square/callback (integrations.pos.urls)."""
urlpatterns = []
