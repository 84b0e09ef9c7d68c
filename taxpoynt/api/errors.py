"""One JSON error shape for every API 4xx/5xx:

    {"code": "not_found", "message": "Not found.", "errors": {"field": ["..."]}}

`code` is stable and machine-readable; `message` is for people; `errors` maps
a field name (or "non_field_errors") to its messages and is {} otherwise.
DRF calls `exception_handler` for every exception raised in an API view;
`json_error_response` serves the same shape from plain Django views (the
404 for unknown /api/ paths).
"""
import logging

from django.core.exceptions import PermissionDenied, ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler, set_rollback

from taxpoynt.errors import ApplicationError

logger = logging.getLogger(__name__)


def error_body(code, message, errors=None):
    return {"code": code, "message": message, "errors": errors or {}}


def json_error_response(*, status_code: int, code: str, message: str, errors=None) -> JsonResponse:
    return JsonResponse(error_body(code, message, errors), status=status_code)


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        set_rollback()
        # A domain error may say its own status (e.g. 409); a broken business rule is a 400 otherwise.
        status_code = getattr(exc, "status_code", status.HTTP_400_BAD_REQUEST)
        return Response(error_body(exc.code, exc.message, exc.extra), status=status_code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "message_dict") else exc.messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)  # keeps WWW-Authenticate and Retry-After headers
    if response is None:
        set_rollback()
        logger.exception("unhandled API error", exc_info=exc)
        return Response(error_body("server_error", "Internal server error."), status=500)

    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        errors = detail if isinstance(detail, dict) else {"non_field_errors": detail}
        response.data = error_body("invalid", "Invalid input.", errors)
    else:
        detail = exc.detail
        code = getattr(detail, "code", None) or exc.default_code
        response.data = error_body(code, str(detail))
    return response
