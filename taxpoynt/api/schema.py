"""OpenAPI additions shared by every operation, and helpers for `apis.py`.

- `add_error_responses` (a drf-spectacular POSTPROCESSING_HOOK) adds the
  reusable `Error` component and references it from every operation's error
  responses (400, 401, 403, 404, 429 with Retry-After, 500; and 409 on
  operations on one object), unless the operation documents its own.
- `ErrorSerializer` names the same shape in `responses={404: ErrorSerializer}`
  and `error_example(...)` builds an OpenApiExample of it for an operation's
  `@extend_schema(examples=[...])` (declare that status in `responses` too).

How an endpoint documents itself (see docs/api.md):

    class InvoiceListApi(APIView):
        pagination_class = CursorPagination   # documents cursor/page_size and {next, previous, results}

        @extend_schema(summary="List invoices", parameters=[InvoiceFilterSerializer],
                       responses={200: InvoiceOutputSerializer(many=True), 400: ErrorSerializer},
                       examples=[OpenApiExample("An invoice", value=..., response_only=True),
                                 error_example("invalid", "Invalid input.", errors={...})])
        def get(self, request): ...
"""
from drf_spectacular.utils import OpenApiExample
from rest_framework import serializers

ERROR_SCHEMA = {
    "type": "object",
    "description": "The one error shape of every 4xx/5xx answer (docs/api.md).",
    "properties": {
        "code": {"type": "string", "description": "Stable machine-readable code, e.g. `invalid`, `not_found`, "
                                                  "`not_authenticated`, `token_revoked`, `throttled`."},
        "message": {"type": "string", "description": "Human-readable explanation."},
        "errors": {
            "type": "object",
            "description": "Field name (or `non_field_errors`) → messages; empty unless the input was invalid.",
            "additionalProperties": {},
        },
    },
    "required": ["code", "message", "errors"],
}



class ErrorSerializer(serializers.Serializer):
    """The error shape as a serializer, for `responses={...}` (component `Error`)."""

    code = serializers.CharField()
    message = serializers.CharField()
    errors = serializers.DictField(child=serializers.JSONField())


# status → (description, example code, example message)
ERROR_RESPONSES = {
    "400": ("Invalid input or a broken business rule.", "invalid", "Invalid input."),
    "401": ("Missing, invalid or revoked credentials.", "not_authenticated",
            "Authentication credentials were not provided."),
    "403": ("Authenticated, but not allowed to do this.", "permission_denied",
            "You do not have permission to perform this action."),
    "404": ("No such object in your organizations (or an invalid cursor).", "not_found", "Not found."),
    "409": ("The object's current state does not allow this (e.g. not signed yet).", "conflict",
            "The invoice is not signed yet."),
    "429": ("Rate limit reached for this token/user or organization; retry after `Retry-After` seconds.",
            "throttled", "Request was throttled. Expected available in 12 seconds."),
    "500": ("Unexpected server error (reported to us).", "server_error", "Internal server error."),
}


def _error_response(status: str) -> dict:
    description, code, message = ERROR_RESPONSES[status]
    response = {
        "description": description,
        "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Error"},
            "example": {"code": code, "message": message, "errors": {}},
        }},
    }
    if status == "429":
        response["headers"] = {"Retry-After": {
            "description": "Seconds until the budget that refused the request is refilled.",
            "schema": {"type": "integer"},
        }}
    return response


def add_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: the Error component on every operation."""
    result.setdefault("components", {}).setdefault("schemas", {}).setdefault("Error", ERROR_SCHEMA)
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in {"get", "put", "post", "patch", "delete", "head", "options"}:
                continue
            responses = operation.setdefault("responses", {})
            acts_on_one_object = any(p.get("in") == "path" for p in operation.get("parameters", []))
            for status in ERROR_RESPONSES:
                if status in responses and not responses[status].get("description"):
                    # declared by the operation (for its own examples): keep them, add our wording
                    responses[status]["description"] = ERROR_RESPONSES[status][0]
                if status == "409" and not acts_on_one_object:
                    continue  # a state conflict needs an object with a state
                responses.setdefault(status, _error_response(status))
    return result


def error_example(code: str, message: str, *, status: int = 400, errors: dict | None = None,
                  name: str | None = None) -> OpenApiExample:
    """An example error response for `@extend_schema(examples=[...])`."""
    return OpenApiExample(name or code.replace("_", " ").capitalize(), status_codes=[str(status)],
                          response_only=True, value={"code": code, "message": message, "errors": errors or {}})
