from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "taxpoynt.dashboard"
    label = "dashboard"
    verbose_name = "Dashboard"
