from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "taxpoynt.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self):
        from django.db.backends.signals import connection_created

        from taxpoynt.db import send_lists_in_binary

        from . import checks  # noqa: F401 (registers the deploy checks)
        from .metrics import register_collectors

        register_collectors()
        connection_created.connect(send_lists_in_binary, dispatch_uid="taxpoynt.db.send_lists_in_binary")
