from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "taxpoynt.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self):
        from . import checks  # noqa: F401 (registers the deploy checks)
        from .metrics import register_collectors

        register_collectors()
