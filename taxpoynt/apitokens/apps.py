from django.apps import AppConfig


class ApiTokensConfig(AppConfig):
    name = "taxpoynt.apitokens"
    label = "apitokens"
    verbose_name = "API tokens"

    def ready(self):
        from . import schema  # noqa: F401 (registers the OpenAPI security scheme)
