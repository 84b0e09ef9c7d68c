"""/webhooks/{crm|pos|erp}/{vendor}: inbound platform webhooks (vendor signature only)."""
urlpatterns = []
