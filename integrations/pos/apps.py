from django.apps import AppConfig


class PosConfig(AppConfig):
    name = "integrations.pos"
    label = "pos"
    verbose_name = "POS"
