from django.apps import AppConfig


class PosConfig(AppConfig):
    name = "integrations.pos"
    label = "pos"
    verbose_name = "POS"

    def ready(self):
        # Registers each POS vendor's provider and imports its tasks.
        from integrations.connections.registry import import_vendor_packages

        import_vendor_packages(self.name)
