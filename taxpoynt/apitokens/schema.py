"""OpenAPI security scheme for `ApiTokenAuthentication` (drf-spectacular extension)."""
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "taxpoynt.apitokens.authentication.ApiTokenAuthentication"
    name = "ApiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "Per-user API token created under Dashboard → API tokens, sent as "
                "`Authorization: Token <prefix>.<secret>` (`Bearer` is accepted too)."
            ),
        }
