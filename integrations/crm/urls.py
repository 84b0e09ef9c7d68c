"""/api/v1/crm/… routes (CRM connect/callback, deals, customers, analytics)."""
urlpatterns = []
