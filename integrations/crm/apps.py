import importlib
import importlib.util
import pkgutil

from django.apps import AppConfig


VENDOR_MODULES = ("provider", "tasks")


def import_vendor_providers(package_name: str) -> list[str]:
    """Import `<package>.<vendor>.provider` (registers the provider) and
    `<package>.<vendor>.tasks` (Celery's autodiscovery only looks one level
    down) for every vendor sub-package that has them. A new vendor is a new
    sub-package; nothing here names one."""
    package = importlib.import_module(package_name)
    loaded = []
    for info in pkgutil.iter_modules(package.__path__):
        if not info.ispkg:
            continue
        for module in VENDOR_MODULES:
            name = f"{package_name}.{info.name}.{module}"
            if importlib.util.find_spec(name) is not None:
                importlib.import_module(name)
                loaded.append(name)
    return loaded


class CrmConfig(AppConfig):
    name = "integrations.crm"
    label = "crm"
    verbose_name = "CRM"

    def ready(self):
        import_vendor_providers(self.name)
