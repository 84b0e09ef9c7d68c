"""/webhooks/{crm|pos|erp}/{vendor}: inbound platform webhooks (vendor signature only)."""
from django.urls import re_path

from .webhooks import webhook_receive

urlpatterns = [
    re_path(r"^(?P<kind>crm|pos|erp)/(?P<vendor>[a-z0-9_-]+)$", webhook_receive, name="webhook-receive"),
]
