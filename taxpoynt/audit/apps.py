from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "taxpoynt.audit"
    label = "audit"
    verbose_name = "Audit trail"
