from django.apps import AppConfig


class ErpConfig(AppConfig):
    name = "integrations.erp"
    label = "erp"
    verbose_name = "ERP"
