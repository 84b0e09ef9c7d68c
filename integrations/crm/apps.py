import importlib
import importlib.util
import pkgutil

from django.apps import AppConfig


def import_vendor_providers(package_name: str) -> list[str]:
    """Import `<package>.<vendor>.provider` for every vendor sub-package that
    has one: each registers itself with the provider registry. A new vendor is
    a new sub-package; nothing here names one."""
    package = importlib.import_module(package_name)
    loaded = []
    for info in pkgutil.iter_modules(package.__path__):
        if not info.ispkg:
            continue
        name = f"{package_name}.{info.name}.provider"
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
