from django.apps import AppConfig

# Kept under its first name: integrations.pos.apps imports it from here.
from integrations.connections.registry import import_vendor_packages as import_vendor_providers  # noqa: F401


class CrmConfig(AppConfig):
    name = "integrations.crm"
    label = "crm"
    verbose_name = "CRM"

    def ready(self):
        from integrations.connections.registry import import_vendor_packages

        import_vendor_packages(self.name)
