from django.apps import AppConfig


class ConnectionsConfig(AppConfig):
    name = "integrations.connections"
    label = "connections"
    verbose_name = "Connections"

    def ready(self):
        from allauth.socialaccount.signals import pre_social_login

        from .oauth import on_pre_social_login

        pre_social_login.connect(on_pre_social_login, dispatch_uid="connections.pre_social_login")
