"""/api/v1/connections…: list, detail, disconnect (DELETE), sync now."""
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import get_object_or_404
from rest_framework.views import APIView
from rest_framework.response import Response

from taxpoynt.api.pagination import CursorPagination
from taxpoynt.api.schema import error_example

from django.http import Http404

from taxpoynt.audit.models import AuditLog
from taxpoynt.errors import ApplicationError
from taxpoynt.tenancy.models import Organization
from taxpoynt.tenancy.selectors import current_organization, organization_get

from .oauth import connection_start_authorization
from .registry import get_provider
from .selectors import connection_list, user_can_manage
from .services import connection_disconnect, connection_request_sync


CONNECTION_EXAMPLE = {
    "id": "3c59dc04-8b4e-4f1a-9c2a-1f0e5d6b7a88", "organization_id": "8f14e45f-ceea-467f-a8dc-2c1e8f3a9b10",
    "vendor": "hubspot", "kind": "crm", "status": "syncing", "display_name": "adaeze.hubspot.com",
    "external_account_id": "62515", "sync_progress_done": 1200, "sync_progress_total": 4810,
    "last_synced_at": "2026-11-20T09:00:00Z", "last_error": "", "token_expires_at": "2026-11-20T09:44:00Z",
    "revoke_pending_until": None,
    "import_started_at": "2026-11-20T09:12:00Z", "import_finished_at": None,
    "trigger_rule": {"won_stages": ["closedwon"], "lost_stages": ["closedlost"], "tax_category": "STANDARD_VAT",
                     "tax_rate": "7.5", "exemption_reason": ""},
    "field_map": {"customer.tin": "company.tin"}, "created_at": "2026-11-20T09:11:00Z",
}


class ConnectionOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    organization_id = serializers.UUIDField()
    vendor = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.CharField()
    display_name = serializers.CharField()
    external_account_id = serializers.CharField()
    sync_progress_done = serializers.IntegerField()
    sync_progress_total = serializers.IntegerField(allow_null=True)
    last_synced_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField()
    token_expires_at = serializers.DateTimeField(allow_null=True)
    revoke_pending_until = serializers.DateTimeField(
        allow_null=True, help_text="Disconnected, but the vendor has not confirmed the revocation yet: TaxPoynt "
                                   "asks it again until then.")
    import_started_at = serializers.DateTimeField(allow_null=True)
    import_finished_at = serializers.DateTimeField(allow_null=True)
    trigger_rule = serializers.JSONField()
    field_map = serializers.JSONField()
    created_at = serializers.DateTimeField()


class ConnectionFilterSerializer(serializers.Serializer):
    vendor = serializers.CharField(required=False)
    kind = serializers.ChoiceField(choices=["crm", "pos", "erp"], required=False)
    status = serializers.CharField(required=False)
    organization = serializers.UUIDField(required=False)


class ConnectionListApi(APIView):
    pagination_class = CursorPagination

    @extend_schema(operation_id="connections_list", parameters=[ConnectionFilterSerializer],
                   responses=ConnectionOutputSerializer(many=True),
                   examples=[OpenApiExample("A HubSpot connection importing history", value=CONNECTION_EXAMPLE,
                                            response_only=True)])
    def get(self, request):
        filters = ConnectionFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = CursorPagination()
        page = paginator.paginate_queryset(connection_list(user=request.user, filters=filters.validated_data),
                                           request, view=self)
        return paginator.get_paginated_response(ConnectionOutputSerializer(page, many=True).data)


def _managed(request, connection_id):
    conn = get_object_or_404(connection_list(user=request.user), pk=connection_id)
    if not user_can_manage(user=request.user, organization_id=conn.organization_id):
        raise PermissionDenied("Only an owner or accountant of the organization may change connections.")
    return conn


class ConnectionDetailApi(APIView):
    @extend_schema(operation_id="connections_detail", responses=ConnectionOutputSerializer,
                   examples=[OpenApiExample("A HubSpot connection", value=CONNECTION_EXAMPLE, response_only=True)])
    def get(self, request, connection_id):
        conn = get_object_or_404(connection_list(user=request.user), pk=connection_id)
        return Response(ConnectionOutputSerializer(conn).data)

    @extend_schema(operation_id="connections_disconnect", responses={204: None})
    def delete(self, request, connection_id):
        """Disconnect: revoke upstream, wipe the secrets, stop syncing."""
        conn = _managed(request, connection_id)
        connection_disconnect(connection=conn, actor=request.user, source=AuditLog.Source.API)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SyncInputSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=["delta", "historical"], default="delta")


class ConnectionSyncApi(APIView):
    def initial(self, request, *args, **kwargs):
        # Scope first: another tenant's connection is a 404 whatever the method.
        super().initial(request, *args, **kwargs)
        get_object_or_404(connection_list(user=request.user), pk=kwargs["connection_id"])

    @extend_schema(operation_id="connections_sync", request=SyncInputSerializer,
                   responses={202: ConnectionOutputSerializer},
                   examples=[OpenApiExample("Historical import", value={"mode": "historical"}, request_only=True),
                             OpenApiExample("Queued", value={**CONNECTION_EXAMPLE, "sync_progress_done": 0,
                                                              "sync_progress_total": None},
                                            response_only=True, status_codes=["202"])])
    def post(self, request, connection_id):
        conn = _managed(request, connection_id)
        data = SyncInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conn = connection_request_sync(connection=conn, mode=data.validated_data["mode"], actor=request.user,
                                       source=AuditLog.Source.API)
        return Response(ConnectionOutputSerializer(conn).data, status=status.HTTP_202_ACCEPTED)


def provider_of_kind(vendor: str, kind: str):
    """The registered provider `vendor` if it is of `kind`, else 404."""
    try:
        provider = get_provider(vendor)
    except ApplicationError:
        raise Http404 from None
    if provider.kind != kind:
        raise Http404
    return provider


class ConnectInputSerializer(serializers.Serializer):
    organization = serializers.UUIDField(required=False)
    next = serializers.CharField(required=False, allow_blank=True)


class ConnectOutputSerializer(serializers.Serializer):
    authorize_url = serializers.URLField()
    vendor = serializers.CharField()
    organization = serializers.UUIDField()


SESSION_REQUIRED = ("Connecting a system needs a signed-in browser session: the authorization's state is kept in "
                    "the session that starts it, and the vendor sends the merchant's browser back to finish it "
                    "there. An API token has no such session; send the merchant to /dashboard/connections/ "
                    "instead.")
CONNECT_DESCRIPTION = (
    "Start the vendor's OAuth authorization for an organization: answers the vendor's authorize URL. "
    "**Browser session only.** The authorization's state (and PKCE verifier) is kept in the caller's session, "
    "and the vendor redirects the merchant's browser to our callback, which finishes it in that same signed-in "
    "session; so open the URL in the browser that called this. An API-token caller is answered 400 "
    "`session_required` (send the merchant to `/dashboard/connections/` instead). `next`, a path on this site, "
    "is where the merchant lands once connected (else the connection's page).")
CONNECT_ERROR_EXAMPLES = [error_example("session_required", SESSION_REQUIRED, name="Called with an API token")]


class VendorConnectApi(APIView):
    """Start the OAuth flow for a vendor of `kind`: returns the vendor's
    authorize URL (state is stashed in this session; follow the URL in the same
    browser, so a session caller only). Each kind's app subclasses it with its
    own schema examples."""

    kind = ""

    def post(self, request, vendor):
        provider = provider_of_kind(vendor, self.kind)
        if not isinstance(request.successful_authenticator, SessionAuthentication):
            raise ApplicationError(SESSION_REQUIRED, code="session_required")
        data = ConnectInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        org_id = data.validated_data.get("organization")
        try:
            org = organization_get(user=request.user, organization_id=org_id) if org_id \
                else current_organization(request=request)
        except Organization.DoesNotExist:
            org = None
        if org is None:
            raise Http404
        if not user_can_manage(user=request.user, organization_id=org.pk):
            raise PermissionDenied("Only an owner or accountant of the organization may connect systems.")
        url = connection_start_authorization(request=request, provider_key=provider.key, organization=org,
                                             next_url=data.validated_data.get("next", ""))
        return Response({"authorize_url": url, "vendor": provider.key, "organization": str(org.pk)})
