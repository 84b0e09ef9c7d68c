"""JSON responses and HubSpot's error bodies, shared by the sandbox handlers."""
import json
import uuid

from werkzeug.wrappers import Response


class HubSpotError(Exception):
    """Raised by handlers; rendered as HubSpot's error JSON."""

    def __init__(self, http_status: int, message: str, *, category: str | None = None, status: str = "error",
                 headers: dict | None = None, **extra):
        super().__init__(message)
        self.http_status = http_status
        self.body = {"status": status, "message": message, "correlationId": str(uuid.uuid4())}
        if category:
            self.body["category"] = category
        self.body.update(extra)
        self.headers = headers or {}

    def response(self) -> Response:
        return json_response(self.body, status=self.http_status, headers=self.headers)


def json_response(data, *, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(data), status=status, headers=headers or {}, mimetype="application/json")


def validation_error(message: str, **extra) -> HubSpotError:
    return HubSpotError(400, message, category="VALIDATION_ERROR", **extra)


def not_found(message: str = "resource not found") -> HubSpotError:
    return HubSpotError(404, message, category="OBJECT_NOT_FOUND")


def read_json(request) -> dict:
    try:
        data = json.loads(request.get_data(as_text=True) or "{}")
    except json.JSONDecodeError as exc:
        raise validation_error(f"Invalid input JSON on line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise validation_error("Invalid input JSON: expected an object")
    return data
