from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "taxpoynt.tenancy"
    label = "tenancy"
    verbose_name = "Organizations"
