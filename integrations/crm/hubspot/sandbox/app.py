"""WSGI entry point of the HubSpot sandbox: `create_app(**options)`.

Routes HubSpot's public paths to the handlers (oauth, crm, search), applies
authentication, scopes, forced faults and rate limits to API calls the way
HubSpot does, and serves the /_sandbox/ control API. See the package
docstring for options and the control API.
"""
from django.core.exceptions import ImproperlyConfigured
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request

from . import crm, facts, oauth, search
from .control import CONTROL_RULES, Sandbox, control_dispatch
from .ratelimit import rate_limit_error
from .responses import HubSpotError, not_found

# endpoint → (handler, kind); kind: "public" (no auth), "api", "search".
_RULES = [
    ("/oauth/authorize", ["GET"], oauth.authorize_page, "public"),
    ("/oauth/authorize", ["POST"], oauth.authorize_submit, "public"),
    *((path.format(version=version), ["POST"], handler, "public")
      for version in facts.OAUTH_VERSIONS
      for path, handler in ((facts.OAUTH_TOKEN_PATH, oauth.token), (facts.OAUTH_INTROSPECT_PATH, oauth.introspect),
                            (facts.OAUTH_REVOKE_PATH, oauth.revoke))),
    ("/crm/v3/objects/<otype>", ["GET"], crm.list_objects, "api"),
    ("/crm/v3/objects/<otype>", ["POST"], crm.create_object, "api"),
    ("/crm/v3/objects/<otype>/search", ["POST"], search.search, "search"),
    ("/crm/v3/objects/<otype>/batch/read", ["POST"], crm.batch_read, "api"),
    ("/crm/v3/objects/<otype>/<oid>", ["GET"], crm.get_object, "api"),
    ("/crm/v3/objects/<otype>/<oid>", ["PATCH"], crm.update_object, "api"),
    ("/crm/v3/pipelines/<otype>", ["GET"], crm.pipelines, "api"),
    ("/crm/v3/pipelines/<otype>/<pipeline_id>", ["GET"], crm.pipelines, "api"),
    *[row for v in facts.CRM_API_VERSIONS for row in (  # HubSpot's date-versioned CRM paths, same handlers
        (f"/crm/objects/{v}/<otype>", ["GET"], crm.list_objects, "api"),
        (f"/crm/objects/{v}/<otype>", ["POST"], crm.create_object, "api"),
        (f"/crm/objects/{v}/<otype>/search", ["POST"], search.search, "search"),
        (f"/crm/objects/{v}/<otype>/batch/read", ["POST"], crm.batch_read, "api"),
        (f"/crm/objects/{v}/<otype>/<oid>", ["GET"], crm.get_object, "api"),
        (f"/crm/objects/{v}/<otype>/<oid>", ["PATCH"], crm.update_object, "api"),
        (f"/crm/objects/{v}/<from_type>/<oid>/associations/<to_type>", ["GET"], crm.associations_list, "api"),
        (f"/crm/pipelines/{v}/<otype>", ["GET"], crm.pipelines, "api"),
        (f"/crm/pipelines/{v}/<otype>/<pipeline_id>", ["GET"], crm.pipelines, "api"),
        (f"/crm/associations/{v}/<from_type>/<to_type>/batch/read", ["POST"], crm.associations_batch_read, "api"),
    )],
    ("/crm/v4/associations/<from_type>/<to_type>/batch/read", ["POST"], crm.associations_batch_read, "api"),
    ("/crm/v4/objects/<from_type>/<oid>/associations/<to_type>", ["GET"], crm.associations_list, "api"),
]


class HubSpotSandboxApp:
    """The WSGI app. `.sandbox` is the in-process control object."""

    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox
        self.url_map = Map([Rule(path, methods=methods, endpoint=i) for i, (path, methods, _, _) in enumerate(_RULES)])

    def set_base_url(self, url: str):
        """Where the sandbox is served; used in paging links and the consent form."""
        self.sandbox.base_url = url.rstrip("/")

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            response = self._dispatch(request)
        except HubSpotError as exc:
            response = exc.response()
        return response(environ, start_response)

    def _dispatch(self, request):
        if request.path.startswith("/_sandbox/"):
            try:
                endpoint, args = CONTROL_RULES.bind_to_environ(request.environ).match()
            except HTTPException as exc:
                raise HubSpotError(exc.code or 404, exc.description or "not found") from None
            return control_dispatch(self.sandbox, request, endpoint, args)
        try:
            index, args = self.url_map.bind_to_environ(request.environ).match()
        except HTTPException as exc:
            if exc.code == 405:
                raise HubSpotError(405, "HTTP method not allowed for this resource") from None
            raise not_found() from None
        _, _, handler, kind = _RULES[index]
        extra_headers = {}
        if kind != "public":
            extra_headers = self._guard(request, kind, args)
        else:
            _raise_fault(self.sandbox.limiter.take_fault(request.path))
        try:
            response = handler(self.sandbox, request, **args)
        except HubSpotError as exc:
            exc.headers = {**extra_headers, **exc.headers}  # rate-limit headers ride on errors too
            raise
        for name, value in extra_headers.items():
            response.headers[name] = value
        return response

    def _guard(self, request, kind: str, args: dict) -> dict:
        """Authenticate, check scopes, apply forced faults and rate limits; return headers."""
        sb = self.sandbox
        store = sb.store
        header = request.headers.get("Authorization", "")
        token_text = header[7:].strip() if header.lower().startswith("bearer ") else ""
        tok = store.tokens.get(token_text) if token_text else None
        if tok is None or tok.kind == "refresh":
            raise HubSpotError(401, facts.MSG_NO_AUTH, category="INVALID_AUTHENTICATION")
        if tok.expires_at is not None and tok.expires_at <= store.now():
            ago = int(store.now() - tok.expires_at)
            text = f"{max(ago // 60, 1)} minute(s)" if ago >= 60 else f"{max(ago, 1)} second(s)"
            raise HubSpotError(401, facts.MSG_EXPIRED.format(ago=text), category="EXPIRED_AUTHENTICATION")
        if sb.enforce_scopes:
            otype = args.get("otype") or args.get("from_type")
            try:
                otype = crm.object_type(otype)
            except HubSpotError:
                otype = None
            write = request.method in ("PATCH", "POST", "DELETE") and kind == "api" \
                and not request.path.endswith(("/batch/read",))
            if otype and request.path.startswith(("/crm/v3/objects/", "/crm/objects/")):
                needed = facts.required_scopes(otype, write=write)
                if not needed & set(tok.scopes):
                    raise HubSpotError(403, facts.MSG_SCOPES, category="MISSING_SCOPES", errors=[{
                        "message": "One or more of the following scopes are required.",
                        "context": {"requiredGranularScopes": sorted(needed)}}],
                        links={"scopes": "https://developers.hubspot.com/scopes"})
        _raise_fault(sb.limiter.take_fault(request.path))
        return sb.limiter.check(token=tok.token, search=kind == "search", private=tok.kind == "private")


def _raise_fault(fault: dict | None) -> None:
    """A fault forced by `fail_next`, answered as HubSpot answers that status (or that OAuth error)."""
    if fault is None:
        return
    if fault["oauth_error"]:
        raise oauth.oauth_error(fault["oauth_error"])
    if fault["status"] == 429:
        raise rate_limit_error("TEN_SECONDLY_ROLLING", {})
    raise HubSpotError(fault["status"], "internal error", category="INTERNAL_ERROR")


def create_app(**options) -> HubSpotSandboxApp:
    """Build a sandbox app; options are Sandbox's keyword arguments (see the package docstring).

    Without client_id/client_secret options the app takes them from
    settings.VENDORS["hubspot"] (when Django is configured), so the demo's
    connector and `manage.py sandboxes` agree on the OAuth app."""
    return HubSpotSandboxApp(Sandbox(**{**_settings_credentials(), **options}))


def _settings_credentials() -> dict:
    try:
        from django.conf import settings
        vendor = settings.VENDORS["hubspot"]
    except (ImportError, ImproperlyConfigured, AttributeError, KeyError):
        return {}
    return {"client_id": vendor["client_id"], "client_secret": vendor["client_secret"]}
